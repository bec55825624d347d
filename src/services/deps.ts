/**
 * What every service factory receives. app.ts builds it once; services take
 * what they need from it, so adding a service never means re-plumbing app.ts.
 */
import type { Config } from "../config.js";
import type { Logger } from "../domain/logger.js";
import type { Clock, PasswordHasher, Random } from "../domain/ports.js";
import type { Database } from "../store/database.js";
import type { ApiKeys } from "./auth/api-keys.js";
import type { SignIn } from "./auth/sign-in.js";
import type { Outbox } from "./delivery/outbox.js";
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
  keyRing: KeyRing;
  tokens: TokenService;
  register: Register;
  signIn: SignIn;
  apiKeys: ApiKeys;
  /** HMAC key of page tokens, derived from the key-encryption key. */
  pageTokenKey: Uint8Array;
  /**
   * Email and SMS: put `outbox.email(...).statement` in the change's batch,
   * then `outbox.deliver([id])` once the batch has committed.
   */
  outbox: Outbox;
}
