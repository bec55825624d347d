import { defineDeviceSuite } from "../rpc/device-suite.js";
import { startNode } from "../support/start-node.js";

defineDeviceSuite(() => startNode());
