import type { Transport } from "@connectrpc/connect";

/** A running Latchkey (Node server or Worker in workerd) that RPC suites talk to. */
export interface RpcTarget {
  name: "node" | "worker";
  baseUrl: string;
  /** fetch that reaches the target (plain global fetch for Node). */
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** One transport per protocol the target serves; gRPC only on Node. */
  transports: { connect: Transport; grpcWeb: Transport; grpc?: Transport };
  /** Runs SQL against the target's database, for arranging and inspecting state. */
  exec(sql: string, args?: (string | number | null)[]): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}
