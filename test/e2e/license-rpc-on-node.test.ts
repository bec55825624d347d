import { defineLicenseSuite } from "../rpc/license-suite.js";
import { startNode } from "../support/start-node.js";

defineLicenseSuite(() => startNode());
