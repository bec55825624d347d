/**
 * Password strength policy: length in code points after NFC, a blocklist of
 * common and breached passwords, and a zxcvbn score that also looks for the
 * user's own details. No composition rules (digits, symbols, cases) and no
 * expiry: those push people to predictable patterns.
 *
 * Pure and synchronous so it runs the same on Node and inside workerd.
 */
import { ZxcvbnFactory, type OptionsType, type Score } from "@zxcvbn-ts/core";
import * as zxcvbnCommon from "@zxcvbn-ts/language-common";
import * as zxcvbnEn from "@zxcvbn-ts/language-en";

/** Longest password accepted, in Unicode code points after NFC. */
export const MAX_PASSWORD_CODE_POINTS = 256;

/** Product name; a password built around it is as guessable as one built around the user's name. */
const PRODUCT_NAME = "latchkey";

/**
 * zxcvbn analyses only this many leading UTF-16 units. Its cost grows with
 * length times the number of leet-speak variants it tries, and a prefix this
 * long already decides the score: anything appended only adds guesses, so
 * judging the prefix can under-rate a password but never over-rate it.
 */
const ANALYSED_LENGTH = 64;

/**
 * How many leet-speak rewrites of the password zxcvbn tries (its default,
 * 100, costs several hundred milliseconds on a long password full of digits
 * and symbols). Enough to spot a leet-spelt e-mail address or name.
 */
const LEET_VARIANTS = 20;

export interface PasswordPolicy {
  /** Shortest acceptable password, in code points. */
  minLength: number;
  /** Lowest acceptable zxcvbn score, 0..4. */
  minScore: number;
}

export interface PasswordStrength {
  /** zxcvbn score 0 (trivial) .. 4 (strong); 0 when the password is too long to analyse. */
  score: Score;
  acceptable: boolean;
  /** The main problem, in English; empty when there is none worth telling. */
  warning: string;
  suggestions: string[];
  /** The whole password (ignoring case) is on the shipped list of common/breached passwords. */
  breached: boolean;
  minLength: number;
  minScore: number;
  tooShort: boolean;
  tooLong: boolean;
}

/**
 * NFC, so that the same password typed on keyboards or platforms that emit
 * composed or decomposed characters hashes and scores the same way.
 */
export function normalisePassword(password: string): string {
  return password.normalize("NFC");
}

/** Code points in `text`, counting no further than `limit + 1` (enough to know it is over). */
export function countCodePoints(text: string, limit = Number.POSITIVE_INFINITY): number {
  let count = 0;
  for (let i = 0; i < text.length && count <= limit; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is a single code point.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

/**
 * The exact string to hash or verify: NFC, so the same password typed as
 * composed or decomposed characters always gives the same hash, and nothing
 * else (no trimming, no case folding). Undefined for an empty or over-long
 * password, which no stored hash can match.
 */
export function passwordForHashing(password: string): string | undefined {
  if (typeof password !== "string" || password.length === 0 || password.length > MAX_RAW_UTF16_UNITS) return undefined;
  const normalised = normalisePassword(password);
  if (countCodePoints(normalised, MAX_PASSWORD_CODE_POINTS) > MAX_PASSWORD_CODE_POINTS) return undefined;
  return normalised;
}

/**
 * NFC composes at most four code points into one and a code point is at most
 * two UTF-16 units, so an input longer than this stays over the limit after
 * normalisation; such input is rejected without normalising it at all.
 */
const MAX_RAW_UTF16_UNITS = MAX_PASSWORD_CODE_POINTS * 8;

export function checkPasswordStrength(password: string, userInputs: string[], policy: PasswordPolicy): PasswordStrength {
  const base = { minLength: policy.minLength, minScore: policy.minScore };

  if (password.length > MAX_RAW_UTF16_UNITS) return tooLongResult(base);
  const normalised = normalisePassword(password);
  const length = countCodePoints(normalised, MAX_PASSWORD_CODE_POINTS);
  if (length > MAX_PASSWORD_CODE_POINTS) return tooLongResult(base);

  const tooShort = length < policy.minLength;
  const breached = breachedPasswords().has(normalised.toLowerCase());
  const context = contextWords(userInputs);
  const result = zxcvbn().check(normalised, context);
  const rest = withoutContextWords(normalised, context);
  // zxcvbn credits each extra token in a sequence with ten thousand guesses,
  // so "janedoe.latchkey" scores well although an attacker who knows whose
  // account it is needs almost none. Score only what such an attacker still
  // has to guess when the password contains the user's own details.
  const restScore = rest === normalised ? result.score : rest === "" ? 0 : zxcvbn().check(rest).score;
  const builtFromContext = restScore < result.score;
  const score = Math.min(result.score, restScore) as Score;
  const acceptable = !tooShort && !breached && score >= policy.minScore;

  const suggestions = [...result.feedback.suggestions];
  let warning = result.feedback.warning ?? "";
  if (breached) {
    warning = "This password is on a list of commonly used or breached passwords.";
    suggestions.unshift("Choose a password you have not used anywhere else.");
  } else if (tooShort) {
    warning = `Use at least ${policy.minLength} characters.`;
    suggestions.unshift("A few unrelated words make a long password that is easy to remember.");
  } else if (builtFromContext && score < policy.minScore) {
    warning = zxcvbnEn.translations.warnings.userInputs;
    suggestions.unshift("Avoid your name, your e-mail address and the name of this service.");
  } else if (!acceptable && warning === "") {
    // zxcvbn sometimes scores low without naming a pattern.
    warning = "This password is too easy to guess.";
  }

  return { ...base, score, acceptable, warning, suggestions: dedupe(suggestions), breached, tooShort, tooLong: false };
}

function tooLongResult(base: { minLength: number; minScore: number }): PasswordStrength {
  return {
    ...base,
    score: 0,
    acceptable: false,
    warning: `Use at most ${MAX_PASSWORD_CODE_POINTS} characters.`,
    suggestions: [],
    breached: false,
    tooShort: false,
    tooLong: true,
  };
}

/**
 * The words zxcvbn should treat as known to an attacker: the given inputs,
 * an e-mail's local part and domain, their pieces, and the product name.
 */
function contextWords(userInputs: string[]): string[] {
  const words = new Set<string>([PRODUCT_NAME]);
  const add = (word: string) => {
    const w = word.trim().toLowerCase();
    // One- and two-letter pieces match almost anything and add only noise.
    if (w.length >= 3) words.add(w);
    // "jane.doe" is also typed "janedoe".
    const joined = w.replace(SEPARATORS, "");
    if (joined.length >= 3) words.add(joined);
  };
  for (const input of userInputs) {
    const text = normalisePassword(input);
    add(text);
    const at = text.lastIndexOf("@");
    if (at > 0) {
      const local = text.slice(0, at);
      const domain = text.slice(at + 1);
      add(local);
      add(domain);
      for (const piece of local.split(SEPARATORS)) add(piece);
      const firstLabel = domain.split(".")[0];
      if (firstLabel) add(firstLabel);
    }
    for (const piece of text.split(SEPARATORS)) add(piece);
  }
  return [...words];
}

/** Characters people put between words; no help against an attacker who knows the words. */
const SEPARATORS = /[\s._\-@+]+/g;

/** The password with every context word (longest first, ignoring case) and separator removed. */
function withoutContextWords(password: string, words: string[]): string {
  let rest = password.toLowerCase();
  const before = rest;
  for (const word of [...words].sort((a, b) => b.length - a.length)) rest = rest.split(word).join("");
  if (rest === before) return password;
  return rest.replace(SEPARATORS, "");
}

function dedupe(items: string[]): string[] {
  return [...new Set(items)];
}

// Built on first use: the dictionaries take a few hundred milliseconds to rank,
// which processes (and Worker isolates) that never check a password skip.
let factory: ZxcvbnFactory | undefined;
let breachedSet: Set<string> | undefined;

function zxcvbn(): ZxcvbnFactory {
  if (!factory) {
    const options: OptionsType = {
      dictionary: { ...zxcvbnCommon.dictionary, ...zxcvbnEn.dictionary },
      graphs: zxcvbnCommon.adjacencyGraphs,
      translations: zxcvbnEn.translations,
      maxLength: ANALYSED_LENGTH,
      l33tMaxSubstitutions: LEET_VARIANTS,
    };
    factory = new ZxcvbnFactory(options);
    withoutPrototypes(factory);
  }
  return factory;
}

/**
 * zxcvbn-ts 4 probes each ranked dictionary (a plain object of word → rank)
 * once per substring and most probes miss; on an ordinary object every miss
 * also searches Object.prototype, and a substring such as "constructor" even
 * finds something there. The same entries on null-prototype objects make a
 * check about twice as fast. The layout is internal to the library, so when
 * it is not the expected one this does nothing and only the speed-up is lost.
 */
function withoutPrototypes(instance: ZxcvbnFactory): void {
  const options = (instance as unknown as { options?: { rankedDictionaries?: unknown } }).options;
  const ranked = options?.rankedDictionaries;
  if (typeof ranked !== "object" || ranked === null) return;
  const dictionaries = ranked as Record<string, unknown>;
  for (const [name, dictionary] of Object.entries(dictionaries)) {
    if (typeof dictionary === "object" && dictionary !== null && Object.getPrototypeOf(dictionary) === Object.prototype) {
      dictionaries[name] = Object.assign(Object.create(null) as Record<string, number>, dictionary);
    }
  }
}

function breachedPasswords(): Set<string> {
  breachedSet ??= new Set(zxcvbnCommon.dictionary["passwords-common"].map((p) => String(p).toLowerCase()));
  return breachedSet;
}
