/**
 * Password strength policy: length in code points after NFC, a blocklist of
 * common and breached passwords, and a zxcvbn score that also looks for the
 * user's own details. No composition rules (digits, symbols, cases) and no
 * expiry: those push people to predictable patterns.
 *
 * Pure, and the same on Node and inside workerd. The zxcvbn dictionaries
 * (some 60 MiB once loaded and ranked) come from the runtime through
 * LoadPasswordDictionaries on the first check, so a process or isolate that
 * never checks a password never holds them; that is why checks are async.
 * Node imports them from their npm packages; the Worker fetches them from its
 * static assets, which keeps some 1.6 MB of word lists out of the script that
 * every cold isolate must parse.
 */
import type { OptionsType, Score, ZxcvbnFactory } from "@zxcvbn-ts/core";

/** Longest password accepted, in Unicode code points after NFC. */
export const MAX_PASSWORD_CODE_POINTS = 256;

/** Product name; a password built around it is as guessable as one built around the user's name. */
const PRODUCT_NAME = "latchkey";

/**
 * zxcvbn analyses only this many leading UTF-16 units: its cost grows with
 * length times the number of leet-speak variants it tries (a 64-character
 * password took over 100 ms with the defaults). Anything not made of
 * repeats or common words reaches the top score well within this length, and
 * what follows can only add guesses, so judging the prefix may under-rate a
 * password but never over-rate it. Length limits and the blocklist still
 * look at the whole password.
 */
const ANALYSED_LENGTH = 32;

/**
 * How many leet-speak rewrites of the password zxcvbn tries. Its default,
 * 100, costs several hundred milliseconds on a password full of digits and
 * symbols; a handful already finds "P@ssw0rd!2024" or "J4n3D03".
 */
const LEET_VARIANTS = 8;

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

/**
 * What zxcvbn judges with: word lists by name (the common-password list is
 * `passwords-common`), keyboard adjacency graphs, and the English feedback.
 */
export interface PasswordDictionaries {
  dictionary: Record<string, ReadonlyArray<string | number>>;
  adjacencyGraphs: NonNullable<OptionsType["graphs"]>;
  translations: NonNullable<OptionsType["translations"]>;
}

/** Supplies the dictionaries; called once, on the first check (again only after a failure). */
export type LoadPasswordDictionaries = () => Promise<PasswordDictionaries>;

export type PasswordStrengthCheck = (password: string, userInputs: string[], policy: PasswordPolicy) => Promise<PasswordStrength>;

/** The strength check over the dictionaries `load` supplies. */
export function createPasswordStrengthCheck(load: LoadPasswordDictionaries): PasswordStrengthCheck {
  const loadZxcvbn = memoiseUntilFailure(() => buildZxcvbn(load));
  return (password, userInputs, policy) => checkPasswordStrength(loadZxcvbn, password, userInputs, policy);
}

async function checkPasswordStrength(loadZxcvbn: () => Promise<Loaded>, password: string, userInputs: string[], policy: PasswordPolicy): Promise<PasswordStrength> {
  const base = { minLength: policy.minLength, minScore: policy.minScore };

  if (password.length > MAX_RAW_UTF16_UNITS) return tooLongResult(base);
  const normalised = normalisePassword(password);
  const length = countCodePoints(normalised, MAX_PASSWORD_CODE_POINTS);
  if (length > MAX_PASSWORD_CODE_POINTS) return tooLongResult(base);

  const { zxcvbn, breachedPasswords, userInputsWarning } = await loadZxcvbn();
  const tooShort = length < policy.minLength;
  const breached = breachedPasswords.has(normalised.toLowerCase());
  const context = contextWords(userInputs);
  const result = zxcvbn.check(normalised, context);
  const rest = withoutContextWords(normalised, context);
  // zxcvbn credits each extra token in a sequence with ten thousand guesses,
  // so "janedoe.latchkey" scores well although an attacker who knows whose
  // account it is needs almost none. Score only what such an attacker still
  // has to guess when the password contains the user's own details.
  const restScore = rest === normalised ? result.score : rest === "" ? 0 : zxcvbn.check(rest).score;
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
    warning = userInputsWarning;
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
    // Longer than any e-mail address: the rest adds work, not context.
    const text = normalisePassword(input.slice(0, 320));
    add(text);
    const at = text.lastIndexOf("@");
    if (at > 0) {
      const local = text.slice(0, at);
      const domain = text.slice(at + 1);
      add(local);
      for (const piece of local.split(SEPARATORS)) add(piece);
      add(domain);
      // Not the top-level domain: "com" or "org" says nothing about the user.
      for (const label of domain.split(".").slice(0, -1)) {
        add(label);
        for (const piece of label.split(SEPARATORS)) add(piece);
      }
    } else {
      for (const piece of text.split(SEPARATORS)) add(piece);
    }
  }
  return [...words];
}

/** Characters people put between words; no help against an attacker who knows the words. */
const SEPARATORS = /[\s._\-@+]+/g;

/**
 * The password with every context word (ignoring case) and separator removed,
 * keeping the case of what is left since that still costs an attacker guesses.
 */
function withoutContextWords(password: string, words: string[]): string {
  // Longest first, so "janedoe" goes as a whole rather than leaving "doe".
  const alternatives = [...words].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const pattern = new RegExp(alternatives.join("|"), "giu");
  const rest = password.replace(pattern, "");
  return rest === password ? password : rest.replace(SEPARATORS, "");
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

function dedupe(items: string[]): string[] {
  return [...new Set(items)];
}

interface Loaded {
  zxcvbn: ZxcvbnFactory;
  /** The shipped common-password list, lower-cased. */
  breachedPasswords: Set<string>;
  userInputsWarning: string;
}

async function buildZxcvbn(load: LoadPasswordDictionaries): Promise<Loaded> {
  const [{ ZxcvbnFactory }, { dictionary, adjacencyGraphs, translations }] = await Promise.all([import("@zxcvbn-ts/core"), load()]);
  const options: OptionsType = {
    dictionary: dictionary as OptionsType["dictionary"],
    graphs: adjacencyGraphs,
    translations,
    maxLength: ANALYSED_LENGTH,
    l33tMaxSubstitutions: LEET_VARIANTS,
  };
  return {
    zxcvbn: new ZxcvbnFactory(options),
    breachedPasswords: new Set((dictionary["passwords-common"] ?? []).map((p) => String(p).toLowerCase())),
    userInputsWarning: translations.warnings.userInputs,
  };
}

/**
 * Runs `make` once and shares its promise: importing the dictionaries and
 * ranking them takes a few hundred milliseconds and tens of MiB. A failure is
 * not remembered, so the next call tries again.
 */
function memoiseUntilFailure<T>(make: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    if (pending === undefined) {
      const started = make();
      pending = started;
      started.catch(() => {
        if (pending === started) pending = undefined;
      });
    }
    return pending;
  };
}
