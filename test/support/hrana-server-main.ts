/**
 * The test libSQL server (hrana-server.ts) as a process of its own, for
 * clients that block their caller's event loop while they reach the server
 * (an embedded replica's first handshake does). Configured by HRANA_DB_PATH
 * and HRANA_AUTH_TOKEN; logs `{"event":"listening","url":…}` when ready.
 */
import { startHranaServer } from "./hrana-server.js";

const path = process.env.HRANA_DB_PATH;
if (!path) throw new Error("HRANA_DB_PATH is required");
const server = await startHranaServer({ path, authToken: process.env.HRANA_AUTH_TOKEN || undefined });
console.log(JSON.stringify({ event: "listening", url: server.url }));
const stop = () => {
  server.close().then(() => process.exit(0), () => process.exit(1));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
