import { defineAuthSuite } from "../rpc/auth-suite.js";
import { startNode } from "../support/start-node.js";

defineAuthSuite(() => startNode());
