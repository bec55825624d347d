/**
 * grpc.health.v1.Health as an ordinary Connect service, so load balancers,
 * Kubernetes gRPC probes and grpc_health_probe see the same readiness as
 * `/readyz`: every served service is as healthy as the process's dependencies.
 */
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  Health,
  type HealthCheckRequest,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../../gen/health/v1/health_pb.js";

export interface HealthServiceOptions {
  /** Every service served on this port; each is reported under its full name. */
  services: readonly DescService[];
  /** Whether the process can do useful work (e.g. the database answers). */
  ready: () => Promise<boolean>;
  /** How often Watch re-reads readiness; there is no push signal to wait on. */
  watchIntervalMs?: number;
  /**
   * Aborted when the server starts shutting down: from then on everything is
   * NOT_SERVING and Watch streams end, so balancers move away at once and
   * open watches do not hold connections through the drain.
   */
  stopping?: AbortSignal;
}

export function createHealthService(options: HealthServiceOptions): ServiceImpl<typeof Health> {
  const watchIntervalMs = options.watchIntervalMs ?? 3000;
  // "" is the server as a whole, by the protocol's convention.
  const known = new Set(["", ...options.services.map((service) => service.typeName)]);

  const stopping = options.stopping ?? new AbortController().signal;

  const overall = async (): Promise<ServingStatus> => {
    if (stopping.aborted) return ServingStatus.NOT_SERVING;
    try {
      return (await options.ready()) ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    } catch {
      return ServingStatus.NOT_SERVING;
    }
  };

  const statusOf = (service: string): Promise<ServingStatus> =>
    known.has(service) ? overall() : Promise.resolve(ServingStatus.SERVICE_UNKNOWN);

  return {
    async check(request: HealthCheckRequest) {
      if (!known.has(request.service)) {
        throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      }
      return { status: await overall() };
    },

    // The protocol asks Watch to keep an unknown service's stream open
    // (SERVICE_UNKNOWN) rather than fail it, unlike Check.
    async *watch(request: HealthCheckRequest, context: HandlerContext) {
      let last: ServingStatus | undefined;
      while (!context.signal.aborted) {
        const status = await statusOf(request.service);
        if (status !== last) {
          last = status;
          yield { status };
        }
        if (stopping.aborted) return;
        await delay(watchIntervalMs, [context.signal, stopping]);
      }
    },

    async list() {
      const status = await overall();
      return { statuses: Object.fromEntries([...known].map((name) => [name, { status }])) };
    },
  };
}

/** Resolves after `ms`, or as soon as one of `signals` aborts. */
function delay(ms: number, signals: readonly AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((signal) => signal.aborted)) return resolve();
    const done = () => {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const signal of signals) signal.addEventListener("abort", done, { once: true });
  });
}
