import { defineOrganisationSuite } from "../rpc/organisation-suite.js";
import { startNode } from "../support/start-node.js";

defineOrganisationSuite(() => startNode());
