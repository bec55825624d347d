/**
 * The verification suite against the real Node server, with the codes read
 * from what a real SMTP server (in its own process) and an SMS gateway
 * received: the whole path from the batch through the outbox to the wire.
 */
import { defineVerificationSuite } from "../rpc/verification-suite.js";
import { startNodeWithSinks } from "../support/sink-inbox.js";

defineVerificationSuite(() => startNodeWithSinks("https://id.latchkey.test"));
