/**
 * The composition root: the one place that wires configuration, storage,
 * ports, services and transports together. Runtime entry points
 * (runtime/node.ts, runtime/worker.ts) only gather their runtime's pieces and
 * call createApp; nothing here does I/O at import time.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import type { Hono } from "hono";
import type { Config } from "./config.js";
import type { MailTransport } from "./domain/delivery.js";
import type { Logger } from "./domain/logger.js";
import { once } from "./domain/once.js";
import { createPasswordStrengthCheck, type LoadPasswordDictionaries } from "./domain/passwords/strength.js";
import { systemClock, webCryptoRandom, type Clock, type PasswordHasher, type Random } from "./domain/ports.js";
import { createAuthenticator } from "./services/access/authenticate.js";
import { base64url, deriveKey } from "./domain/tokens/secrets.js";
import { createApiKeys } from "./services/auth/api-keys.js";
import { createAuthService } from "./services/auth/index.js";
import { createExternalLogin } from "./services/external-login/external-login.js";
import { createHousekeeping, type HousekeepingReport } from "./services/housekeeping.js";
import { createSignIn } from "./services/auth/sign-in.js";
import { createKeyRing } from "./services/tokens/key-ring.js";
import { createTokenService } from "./services/tokens/token-service.js";
import { bootstrapSuperAdmin } from "./services/user/bootstrap.js";
import { createOutbox } from "./services/delivery/outbox.js";
import { createSmsWebhookTransport } from "./services/delivery/sms-webhook.js";
import type { ServiceDeps } from "./services/deps.js";
import { createOrganisationService } from "./services/organisation/index.js";
import { createUserService } from "./services/user/index.js";
import { createAdminService } from "./services/admin/index.js";
import { createLicenseService } from "./services/license/index.js";
import { createRegistration } from "./services/user/register.js";
import type { Database } from "./store/database.js";
import { findAvatar } from "./store/queries/avatars.js";
import { createInterceptors } from "./transport/connect/interceptors.js";
import { SERVICES, describeServices, registerServices, type ServiceFactories } from "./transport/connect/routes.js";
import { createHttpApp } from "./transport/http/app.js";

export interface AppDeps {
  config: Config;
  database: Database;
  hasher: PasswordHasher;
  /** Where the password-strength dictionaries come from (npm packages on Node, static assets on the Worker). */
  passwordDictionaries: LoadPasswordDictionaries;
  /** 32 bytes that encrypt secrets at rest (signing keys, TOTP secrets). */
  keyEncryptionKey: Uint8Array;
  logger: Logger;
  clock?: Clock;
  random?: Random;
  /** Which runtime serves the app; reported by GetSystemInfo and logs. */
  runtime: "node" | "worker";
  /** Sends email; only the Node runtime has one (SMTP). Without it, mail stays in the outbox. */
  mail?: MailTransport | undefined;
  /** The package version, reported by GetSystemInfo. */
  version?: string | undefined;
}

export interface App {
  /** Registers every Connect service; pass to connectNodeAdapter or a fetch router. */
  readonly routes: (router: ConnectRouter) => void;
  /** The interceptor onion, outermost first. */
  readonly interceptors: Interceptor[];
  /** Every Latchkey service served (for reflection and ListServices). */
  readonly services: readonly DescService[];
  /** Plain HTTP routes: /healthz, /readyz, /.well-known/*, /avatars/*. */
  readonly http: Hono;
  /** Largest accepted request message, in bytes (readMaxBytes). */
  readonly maxMessageBytes: number;
  /**
   * Resolves every RPC's declared policy (a method without one fails here),
   * builds every service's handlers and opens the private signing key (a
   * wrong encryption key fails here). Node awaits it before listening, so a
   * broken declaration or key stops the start; a Worker isolate, which
   * starts on a request, does each of these on first need instead.
   */
  readonly warmUp: () => Promise<void>;
  /** Periodic clean-up; the runtime decides when (cron on Workers, a timer on Node). */
  readonly housekeeping: () => Promise<HousekeepingReport>;
}

/**
 * Builds the app and prepares what it needs before serving: a signing key
 * (created on first start) and the bootstrap super-admin on an empty database.
 * Migrations are the runtime's job and must have run before.
 */
export async function createApp(deps: AppDeps): Promise<App> {
  const { config, database, hasher, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? webCryptoRandom;

  const keyRing = createKeyRing({ database, keyEncryptionKey: deps.keyEncryptionKey, clock, random, logger });
  const tokens = createTokenService({ database, keyRing, clock, random, logger, issuer: config.issuer, audience: config.audience });
  const passwordStrength = createPasswordStrengthCheck(deps.passwordDictionaries);
  const register = createRegistration({ database, hasher, passwordStrength, clock, random });
  const outbox = createOutbox({
    database,
    clock,
    random,
    logger,
    mail: deps.mail,
    sms: config.smsWebhookUrl ? createSmsWebhookTransport(config.smsWebhookUrl) : undefined,
  });
  const signIn = createSignIn({ database, hasher, tokens, clock, random, config, outbox });
  // The signing key and the bootstrap account are independent database work:
  // both go out at once, and the rest is built while they are in flight (on
  // a cold Worker isolate these are its first, slowest D1 round trips).
  const prepared = Promise.all([
    keyRing.ensure(),
    bootstrapSuperAdmin({ database, register, logger, email: config.bootstrapAdminEmail, password: config.bootstrapAdminPassword }),
  ]);
  // Awaited below; this only keeps a failure from being reported as unhandled
  // when building the rest throws first.
  prepared.catch(() => undefined);

  const [pageTokenKey, totpKey] = await Promise.all([
    deriveKey(base64url(deps.keyEncryptionKey), "latchkey page tokens v1"),
    deriveKey(base64url(deps.keyEncryptionKey), "latchkey totp secrets v1"),
  ]);
  const apiKeys = createApiKeys({ database, clock, random, pageTokenKey });
  const system = {
    version: deps.version ?? "unknown",
    runtime: deps.runtime === "worker" ? ("workerd" as const) : ("node" as const),
    startedAt: clock.now(),
    get services() {
      return describeServices();
    },
  };
  const authenticate = createAuthenticator({ database, tokens, clock });
  const shared: ServiceDeps = { config, database, clock, random, logger, hasher, passwordStrength, keyRing, tokens, authenticate, register, signIn, apiKeys, pageTokenKey, totpKey, outbox, system, externalLogin: undefined as never };
  const externalLogin = createExternalLogin(shared);
  shared.externalLogin = externalLogin;
  const services: ServiceFactories = {
    auth: once(() => createAuthService(shared)),
    user: once(() => createUserService(shared)),
    organisation: once(() => createOrganisationService(shared)),
    admin: once(() => createAdminService(shared)),
    license: once(() => createLicenseService(shared)),
  };
  // Built on the first plain HTTP request: a Worker isolate woken by an RPC
  // does not need it for its first answer.
  const http = once(() => createHttpApp({
    issuer: config.issuer,
    keyRing,
    ready: () => database.ping().then(() => true, () => false),
    findAvatar: (userId) => findAvatar(database.db, userId),
    externalCallback: shared.externalLogin.callback,
    externalLoginTestPage: config.externalLoginTestPage,
    trustedProxies: config.trustedProxies,
  }));
  const interceptors = createInterceptors({
    logger,
    random,
    trustedProxies: config.trustedProxies,
    authenticate,
    database,
  });
  await prepared;
  return {
    routes: (router) => registerServices(router, services),
    interceptors,
    services: SERVICES,
    get http() {
      return http();
    },
    maxMessageBytes: config.maxMessageBytes,
    warmUp: async () => {
      describeServices();
      for (const build of Object.values(services)) build();
      await keyRing.checkSigningKey();
    },
    housekeeping: createHousekeeping({ database, clock, logger, outbox }),
  };
}
