import { defineSessionsSuite } from "../rpc/sessions-suite.js";
import { startNode } from "../support/start-node.js";

defineSessionsSuite(() => startNode());
