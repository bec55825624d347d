import { defineUserSuite } from "../rpc/user-suite.js";
import { startNode } from "../support/start-node.js";

defineUserSuite(() => startNode());
