/**
 * The second-factor suite against the real Node server: sign-in codes and
 * notices are read from what a real SMTP server (in its own process) and an
 * SMS gateway received, and one sign-in with TOTP runs over gRPC (HTTP/2).
 */
import { defineMfaSuite } from "../rpc/mfa-suite.js";
import { startNodeWithSinks } from "../support/sink-inbox.js";

defineMfaSuite(() => startNodeWithSinks("https://id.latchkey.test"));
