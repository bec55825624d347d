import { DEVICE_FLOW_ISSUER, defineDeviceFlowSuite } from "../rpc/device-flow-suite.js";
import { startNode } from "../support/start-node.js";

defineDeviceFlowSuite(() => startNode({ LATCHKEY_ISSUER: DEVICE_FLOW_ISSUER }));
