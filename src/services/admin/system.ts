/** GetSystemInfo and ListServices: what is running, and what it serves. */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ServiceDeps } from "../deps.js";
import type { AdminHandlers } from "./index.js";

/** One RPC as the access policy declares it. */
export interface RpcDescription {
  name: string;
  /** "/<package>.<Service>/<Method>". */
  path: string;
  /** The CallerKind's name, e.g. "CALLER_KIND_PUBLIC". */
  caller: string;
  permission: string;
  deadlineMs: number;
}

export interface ServiceDescription {
  /** Fully qualified, e.g. "latchkey.auth.v1.AuthService". */
  name: string;
  rpcs: RpcDescription[];
}

/** Facts about the running instance, gathered by the composition root. */
export interface SystemFacts {
  /** The package version. */
  version: string;
  runtime: "node" | "workerd";
  /** When this process or isolate built the app (epoch ms). */
  startedAt: number;
  /** Every Latchkey service served, in registration order. */
  services: readonly ServiceDescription[];
}

export function createSystemHandlers(deps: ServiceDeps): AdminHandlers<"getSystemInfo" | "listServices"> {
  const { system, database, clock } = deps;
  return {
    async getSystemInfo() {
      const now = clock.now();
      return {
        version: system.version,
        startedAt: timestampFromMs(system.startedAt),
        uptimeSeconds: BigInt(Math.max(0, Math.floor((now - system.startedAt) / 1000))),
        runtime: system.runtime,
        databaseMode: database.mode,
        // Time since the replica's last successful pull, an upper bound on how stale its reads are; 0 when every read reaches the primary.
        replicaLagMs: BigInt(Math.max(0, Math.round(database.replicaLagMs?.() ?? 0))),
      };
    },

    async listServices() {
      return { services: system.services.map((service) => ({ name: service.name, rpcs: service.rpcs.map((rpc) => ({ ...rpc })) })) };
    },
  };
}
