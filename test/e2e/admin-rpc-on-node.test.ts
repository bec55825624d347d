import { defineAdminSuite } from "../rpc/admin-suite.js";
import { startNode } from "../support/start-node.js";

defineAdminSuite(() => startNode());
