/**
 * The password suite against the real Node server, with reset codes and
 * notices read from what a real SMTP server, in its own process, received.
 */
import { definePasswordSuite } from "../rpc/password-suite.js";
import { startNodeWithSinks } from "../support/sink-inbox.js";

definePasswordSuite(() => startNodeWithSinks("https://id.latchkey.test"));
