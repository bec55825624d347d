import { defineLicenseSuite } from "../rpc/license-suite.js";
import { startNodeOnRemoteLibsql } from "../support/start-node-remote.js";

// The shared suite, unchanged, with the Node server's database behind the libSQL HTTP protocol.
defineLicenseSuite(() => startNodeOnRemoteLibsql());
