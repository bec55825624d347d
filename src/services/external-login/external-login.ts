/**
 * External login through upstream OpenID Connect providers: the
 * authorization code flow with PKCE (S256), state and nonce, done by
 * openid-client, which checks the ID token's signature, issuer, audience and
 * nonce. Latchkey then finds the provider's account by its subject, links it
 * to a user with the same verified email address, or creates a user.
 */
import * as oidc from "openid-client";
import { DomainError, Reason, invalidCredentials, invalidField, notFound, preconditionFailed } from "../../domain/errors.js";
import {
  EXTERNAL_STATE_TTL_MS,
  HANDOFF_TTL_MS,
  isAllowedRedirect,
  profileFromClaims,
  type ExternalProfile,
  type ExternalProvider,
} from "../../domain/external-login.js";
import { normaliseEmail } from "../../domain/formats.js";
import { base64url, fromBase64url, newOpaqueToken, seal, sha256Hex, unseal } from "../../domain/tokens/secrets.js";
import { insertAuditEvent, insertAuditEventIf } from "../../store/queries/audit-events.js";
import {
  consumeExternalLoginState,
  consumeHandoff,
  deleteExternalIdentityIfNotLast,
  findExternalIdentity,
  identityGone,
  insertExternalIdentity,
  insertExternalLoginState,
  listExternalIdentities,
  setHandoff,
  touchExternalIdentity,
  type ExternalIdentityRow,
  type ExternalLoginStateRow,
} from "../../store/queries/external-logins.js";
import { requireDefaultProfile, requireEffectiveProfile } from "../../store/queries/security-profiles.js";
import { findUserByEmail, findUserById, insertUser, isEmailTaken, type UserRow } from "../../store/queries/users.js";
import { violatesUnique } from "../../store/database.js";
import type { BatchItem } from "drizzle-orm/batch";
import { createMfaChallenges } from "../auth/mfa-challenges.js";
import { createThrottles } from "../throttle.js";
import { ADDRESS_RULES, throttleKeys } from "../../domain/throttle/rules.js";
import { signInFailedEvent, type SignInResult } from "../auth/sign-in.js";
import type { ServiceDeps } from "../deps.js";
import type { ClientInfo } from "../tokens/token-service.js";

/** The path of this server's own redirect target. */
export const EXTERNAL_CALLBACK_PATH = "/auth/external/callback";

export function externalStateInvalid(): DomainError {
  return new DomainError("invalid_argument", Reason.EXTERNAL_STATE_INVALID, "state: unknown, used or expired", {
    violations: [{ field: "state", description: "is unknown, used or expired, or belongs to another login" }],
  });
}

function externalLoginFailed(): DomainError {
  return new DomainError("unauthenticated", Reason.EXTERNAL_LOGIN_FAILED, "the provider's answer was refused");
}

/** The outcome of CompleteExternalLogin. */
export type ExternalSignIn = SignInResult & { provider: string; userCreated: boolean; identityLinked: boolean };

/** The user an external login resolved to, and the writes that record it. */
interface Resolved {
  user: UserRow;
  created: boolean;
  linked: boolean;
  statements: [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]];
}

/** Where the callback sends the browser. */
export type CallbackOutcome = { kind: "redirect"; location: string } | { kind: "error"; status: 400 | 502; message: string };

type Deps = Pick<ServiceDeps, "config" | "database" | "clock" | "random" | "logger" | "hasher" | "signIn" | "outbox" | "totpKey">;

export function createExternalLogin(deps: Deps) {
  const { config, database, clock, random, logger, totpKey } = deps;
  const db = database.db;
  const mfa = createMfaChallenges(deps);
  const throttles = createThrottles({ database, clock });
  const providers = new Map(config.externalProviders.map((p) => [p.id, p]));
  const discovered = new Map<string, Promise<oidc.Configuration>>();

  /** The provider's discovered configuration, fetched once per process (again after a failure). */
  function configurationOf(provider: ExternalProvider): Promise<oidc.Configuration> {
    let found = discovered.get(provider.id);
    if (!found) {
      const auth = provider.clientSecret === undefined ? oidc.None() : oidc.ClientSecretBasic(provider.clientSecret);
      const insecure = new URL(provider.issuer).protocol === "http:";
      found = oidc.discovery(new URL(provider.issuer), provider.clientId, undefined, auth, {
        // openid-client trusts an ID token from the token endpoint on TLS alone
        // unless told to check its signature against the provider's JWKS; a
        // TLS-terminating proxy or a mis-issued certificate should not be
        // enough to forge a sign-in.
        execute: [oidc.enableNonRepudiationChecks, ...(insecure ? [oidc.allowInsecureRequests] : [])],
        timeout: 10,
      });
      found.catch((error: unknown) => {
        discovered.delete(provider.id);
        logger.warn("external_login.discovery_failed", { provider: provider.id, error: errorSummary(error) });
      });
      discovered.set(provider.id, found);
    }
    return found.catch(() => {
      throw new DomainError("unavailable", Reason.INTERNAL, `provider ${provider.id} cannot be reached`);
    });
  }

  const sealedAs = (row: { id: string }, what: "verifier" | "nonce") => `external-login-${what}:${row.id}`;

  async function start(providerId: string, redirectUrl: string, client: ClientInfo) {
    const provider = providers.get(providerId);
    if (!provider) throw invalidField("provider", "is not a configured provider");
    if (!isAllowedRedirect(provider, redirectUrl)) throw invalidField("redirect_url", "is not one of the provider's allowed redirect URLs");
    await throttles.consume(throttleKeys.address("external_login_start", client.clientAddress), ADDRESS_RULES.externalLoginStarts);
    const configuration = await configurationOf(provider);
    const id = random.uuid();
    const state = newOpaqueToken(random, "lkst");
    const verifier = base64url(random.bytes(32));
    const nonce = base64url(random.bytes(32));
    const now = clock.now();
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: redirectUrl,
      scope: provider.scopes.join(" "),
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
    });
    const encode = (text: string, what: "verifier" | "nonce") => seal(totpKey, new TextEncoder().encode(text), sealedAs({ id }, what), random).then(base64url);
    await insertExternalLoginState(db, {
      id,
      stateHash: await sha256Hex(state),
      provider: provider.id,
      redirectUrl,
      codeVerifierSealed: await encode(verifier, "verifier"),
      nonceSealed: await encode(nonce, "nonce"),
      createdAt: now,
      expiresAt: now + EXTERNAL_STATE_TTL_MS,
    });
    return { authorizationUrl: url.href, state, expiresAt: now + EXTERNAL_STATE_TTL_MS };
  }

  /**
   * Redeems the provider's code for the consumed state `row`. `response` is
   * the authorization response's parameters (code, state, and iss when the
   * provider sends one).
   */
  async function redeem(row: ExternalLoginStateRow, provider: ExternalProvider, response: URLSearchParams): Promise<ExternalProfile> {
    const configuration = await configurationOf(provider);
    const open = async (sealed: string, what: "verifier" | "nonce") => {
      const plain = await unseal(totpKey, fromBase64url(sealed), sealedAs(row, what));
      if (!plain) throw new Error(`the sealed ${what} of external login ${row.id} does not open`);
      return new TextDecoder().decode(plain);
    };
    const current = new URL(row.redirectUrl);
    for (const [key, value] of response) current.searchParams.set(key, value);
    let claims: Record<string, unknown>;
    try {
      const tokens = await oidc.authorizationCodeGrant(configuration, current, {
        pkceCodeVerifier: await open(row.codeVerifierSealed, "verifier"),
        expectedNonce: await open(row.nonceSealed, "nonce"),
        expectedState: response.get("state") ?? "",
        idTokenExpected: true,
      });
      claims = { ...tokens.claims() };
      // Some providers put the email only in the UserInfo answer.
      if (typeof claims.email !== "string" && tokens.access_token && configuration.serverMetadata().userinfo_endpoint) {
        const info = await oidc.fetchUserInfo(configuration, tokens.access_token, String(claims.sub));
        claims = { ...info, ...claims };
      }
    } catch (error) {
      logger.warn("external_login.refused", { provider: provider.id, error: errorSummary(error) });
      throw externalLoginFailed();
    }
    const profile = profileFromClaims(claims);
    if (!profile.subject) throw externalLoginFailed();
    return profile;
  }

  /** Finds, links or creates the user of the provider's account; nothing is written yet. */
  async function resolveUser(provider: ExternalProvider, profile: ExternalProfile, client: ClientInfo): Promise<Resolved> {
    const now = clock.now();
    const email = profile.email ? normaliseEmail(profile.email) : "";
    const claims = JSON.stringify({ name: profile.name, email: profile.email, picture: profile.picture });
    const audit = (type: string, userId: string, details: Record<string, string | boolean>) =>
      insertAuditEvent(db, { id: random.uuid(), occurredAt: now, type, actorId: userId, userId, ipAddress: client.clientAddress, details: { provider: provider.id, ...details } });
    const identity = await findExternalIdentity(db, provider.id, profile.subject);
    if (identity) {
      const user = await findUserById(db, identity.userId);
      if (!user) throw invalidCredentials();
      return { user, created: false, linked: false, statements: [touchExternalIdentity(db, identity.id, { email, emailVerified: profile.emailVerified, claims, now })] };
    }
    const newIdentity = (userId: string, createdUser: boolean) =>
      insertExternalIdentity(db, {
        id: random.uuid(),
        userId,
        provider: provider.id,
        subject: profile.subject,
        email,
        emailVerified: profile.emailVerified,
        claims,
        createdUser,
        createdAt: now,
        lastSignInAt: now,
      });
    const existing = email ? await findUserByEmail(db, email) : undefined;
    if (existing) {
      // Linking on an address the provider has not verified would let anyone
      // who types a victim's address at the provider take over the account.
      if (!profile.emailVerified) throw preconditionFailed("an account with this email address exists, and the provider has not verified the address");
      // An unverified account may have been registered by someone else in
      // the owner's name; linking would hand them the owner's sign-ins.
      if (existing.emailVerifiedAt === null) throw preconditionFailed("an account with this email address exists and has not verified it; verify the address first");
      return { user: existing, created: false, linked: true, statements: [newIdentity(existing.id, false), audit("external_identity.linked", existing.id, { subject: profile.subject })] };
    }
    if (!provider.allowSignUp) throw new DomainError("permission_denied", Reason.SIGN_UP_DISABLED, "this provider's accounts cannot sign up here");
    if (!email) throw preconditionFailed("the provider gave no email address");
    const securityProfile = await requireDefaultProfile(db);
    const user: UserRow = {
      id: random.uuid(),
      email,
      name: (profile.name || email.split("@")[0] || email).normalize("NFC").trim().slice(0, 200),
      phoneNumber: null,
      locale: "en",
      newsletter: false,
      title: "",
      department: "",
      // A hash of a secret nobody holds: password sign-in works only after a reset.
      passwordHash: await deps.hasher.hash(base64url(random.bytes(32))),
      passwordSet: false,
      state: "active",
      superAdmin: false,
      emailVerifiedAt: profile.emailVerified ? now : null,
      phoneVerifiedAt: null,
      mfaEmailEnabled: false,
      mfaSmsEnabled: false,
      activeOrganisationId: null,
      securityProfileId: securityProfile.id,
      createdAt: now,
      updatedAt: now,
    };
    return {
      user,
      created: true,
      linked: true,
      statements: [insertUser(db, user), newIdentity(user.id, true), audit("user.created", user.id, { sign_up: "external_login" })],
    };
  }

  /**
   * Two logins of one new account racing: the unique indexes let one write
   * the identity (or the user); the other is told to start again.
   */
  async function raceSafe<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (violatesUnique(error, "external_identities", ["provider", "subject"]) || isEmailTaken(error)) {
        throw preconditionFailed("another login of this account completed at the same time; start again");
      }
      throw error;
    }
  }

  /** Opens the session, or the MFA challenge, exactly as a password sign-in would. */
  async function signInAs(resolved: Omit<Resolved, "statements"> & { statements: BatchItem<"sqlite">[] }, provider: ExternalProvider, request: { keepLoggedIn: boolean; deviceName: string; client: ClientInfo }): Promise<ExternalSignIn> {
    const { user } = resolved;
    const extra = { provider: provider.id, userCreated: resolved.created, identityLinked: resolved.linked };
    if (user.state !== "active") {
      await database.batch([
        signInFailedEvent(
          { db, random, clock },
          { userId: user.id, client: request.client, reason: `user_${user.state}`, details: { method: "external", provider: provider.id } },
        ),
      ]);
      throw invalidCredentials();
    }
    let statements = resolved.statements;
    if (resolved.created) {
      // The session's rows name the user, so the new user is committed first
      // (with its identity and audit row); a failure after that leaves an
      // account the next login signs in to.
      await database.batch(resolved.statements as Resolved["statements"]);
      statements = [];
    }
    const profile = await requireEffectiveProfile(db, user.id);
    const challenge = await mfa.start(user, profile, { ...request, statements });
    if (challenge) return { ...challenge, ...extra };
    const pair = await deps.signIn.openUserSession(user, { ...request, profile, statements, details: { method: "external", provider: provider.id } });
    return { kind: "tokens", pair, ...extra };
  }

  /** CompleteExternalLogin: a provider's code, or the hand-off code of this server's callback. */
  async function complete(input: { code: string; state: string; iss: string; keepLoggedIn: boolean; deviceName: string }, client: ClientInfo): Promise<ExternalSignIn> {
    const stateHash = await sha256Hex(input.state);
    const now = clock.now();
    const request = { keepLoggedIn: input.keepLoggedIn, deviceName: input.deviceName, client };
    const [row] = await consumeExternalLoginState(db, stateHash, now);
    if (row) {
      const provider = providers.get(row.provider);
      if (!provider) throw externalStateInvalid();
      const response = new URLSearchParams({ code: input.code, state: input.state });
      if (input.iss) response.set("iss", input.iss);
      const profile = await redeem(row, provider, response);
      const resolved = await resolveUser(provider, profile, client);
      return raceSafe(() => signInAs(resolved, provider, request));
    }
    const [handoff] = await consumeHandoff(db, stateHash, await sha256Hex(input.code), now);
    const provider = handoff ? providers.get(handoff.provider) : undefined;
    if (!handoff?.handoffUserId || !provider) throw externalStateInvalid();
    const user = await findUserById(db, handoff.handoffUserId);
    if (!user) throw externalStateInvalid();
    // The identity was written by the callback; this only opens the session.
    return signInAs({ user, created: false, linked: false, statements: [] }, provider, request);
  }

  /**
   * GET /auth/external/callback: the browser arrives from the provider. The
   * code is redeemed here, and the browser goes on to the provider's front
   * end with a hand-off code that CompleteExternalLogin turns into tokens.
   */
  async function callback(query: URLSearchParams, client: ClientInfo): Promise<CallbackOutcome> {
    const state = query.get("state");
    if (!state) return { kind: "error", status: 400, message: "The sign-in answer has no state." };
    const [row] = await consumeExternalLoginState(db, await sha256Hex(state), clock.now());
    const provider = row ? providers.get(row.provider) : undefined;
    if (!row || !provider) return { kind: "error", status: 400, message: "This sign-in has expired or was already used. Please start again." };
    if (!provider.frontendUrl) return { kind: "error", status: 502, message: "This provider has no front-end URL configured." };
    const onward = (params: Record<string, string>) => {
      const location = new URL(provider.frontendUrl as string);
      for (const [key, value] of Object.entries(params)) location.searchParams.set(key, value);
      return { kind: "redirect" as const, location: location.href };
    };
    const providerError = query.get("error");
    if (providerError) return onward({ error: /^[a-z_]{1,64}$/.test(providerError) ? providerError : "access_denied", state });
    try {
      const profile = await redeem(row, provider, query);
      const resolved = await resolveUser(provider, profile, client);
      const code = newOpaqueToken(random, "lkho");
      const now = clock.now();
      // After the user's own row: the hand-off names the user.
      const handoff = setHandoff(db, row.id, { codeHash: await sha256Hex(code), userId: resolved.user.id, expiresAt: now + HANDOFF_TTL_MS });
      await raceSafe(() => database.batch([...resolved.statements, handoff]));
      return onward({ code, state });
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      return onward({ error: error.reason.toLowerCase(), state });
    }
  }

  async function list(userId: string) {
    const user = await findUserById(db, userId);
    if (!user) throw invalidCredentials();
    const identities = await listExternalIdentities(db, userId);
    return { identities: identities.map((row) => ({ row, provider: providers.get(row.provider) })), passwordSet: user.passwordSet };
  }

  async function unlink(userId: string, identityId: string, client: ClientInfo) {
    const owned = (await listExternalIdentities(db, userId)).find((row) => row.id === identityId);
    if (!owned) throw notFound("external identity");
    const now = clock.now();
    const [deleted] = await database.batch([
      deleteExternalIdentityIfNotLast(db, userId, identityId),
      insertAuditEventIf(db, {
        id: random.uuid(),
        occurredAt: now,
        type: "external_identity.unlinked",
        actorId: userId,
        userId,
        ipAddress: client.clientAddress,
        details: { provider: owned.provider, subject: owned.subject },
      }, identityGone(db, identityId)),
    ]);
    if ((deleted as { id: string }[]).length === 0) {
      throw new DomainError("failed_precondition", Reason.LAST_SIGN_IN_METHOD, "this is the last way to sign in: set a password or link another provider first");
    }
  }

  return { start, complete, callback, list, unlink, providers };
}

export type ExternalLogin = ReturnType<typeof createExternalLogin>;
export type { ExternalIdentityRow };

/** What a refused exchange looks like in the log: the library's code and message, never a token. */
function errorSummary(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const oauthError = (error as { error?: unknown }).error;
    return [typeof code === "string" ? code : "", typeof oauthError === "string" ? oauthError : "", error.message.slice(0, 200)].filter(Boolean).join(": ");
  }
  return "unknown error";
}
