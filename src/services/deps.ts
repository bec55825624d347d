/**
 * What every service factory receives. app.ts builds it once; services take
 * what they need from it, so adding a service never means re-plumbing app.ts.
 */
import type { Config } from "../config.js";
import type { Logger } from "../domain/logger.js";
import type { PasswordStrengthCheck } from "../domain/passwords/strength.js";
import type { Clock, PasswordHasher, Random } from "../domain/ports.js";
import type { Database } from "../store/database.js";
import type { Authenticate } from "./access/authenticate.js";
import type { SystemFacts } from "./admin/system.js";
import type { ApiKeys } from "./auth/api-keys.js";
import type { SignIn } from "./auth/sign-in.js";
import type { Outbox } from "./delivery/outbox.js";
import type { ExternalLogin } from "./external-login/external-login.js";
import type { KeyRing } from "./tokens/key-ring.js";
import type { TokenService } from "./tokens/token-service.js";
import type { Register } from "./user/register.js";

export interface ServiceDeps {
  config: Config;
  database: Database;
  clock: Clock;
  random: Random;
  logger: Logger;
  hasher: PasswordHasher;
  /** zxcvbn over the runtime's dictionaries; see domain/passwords/strength.ts. */
  passwordStrength: PasswordStrengthCheck;
  keyRing: KeyRing;
  tokens: TokenService;
  /** Resolves presented credentials (access token, API key, Basic) to an actor, as the access interceptor does. */
  authenticate: Authenticate;
  register: Register;
  signIn: SignIn;
  apiKeys: ApiKeys;
  /** HMAC key of page tokens, derived from the key-encryption key. */
  pageTokenKey: Uint8Array;
  /** AES-256-GCM key of TOTP secrets at rest, derived from the key-encryption key. */
  totpKey: Uint8Array;
  /**
   * Email and SMS: put `outbox.email(...).statement` in the change's batch,
   * then `outbox.deliver([id])` once the batch has committed.
   */
  outbox: Outbox;
  /** External login through upstream OpenID providers (RPCs and the HTTP callback). */
  externalLogin: ExternalLogin;
  /** Version, runtime, start time and the services served (GetSystemInfo, ListServices). */
  system: SystemFacts;
}
