export * from "./audit-events.js";
export * from "./refresh-tokens.js";
export * from "./security-profiles.js";
export * from "./sessions.js";
export * from "./signing-keys.js";
export * from "./users.js";
