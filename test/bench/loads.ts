/**
 * Load shapes: fixed requests through autocannon (open connections, each
 * sending its next request when the last one is answered), and a closed-loop
 * driver for calls whose body depends on the previous answer.
 */
import autocannon, { type Options } from "autocannon";
import type { RpcClient } from "./client.js";
import type { CpuWindow } from "./cpu.js";

/** Starts a CPU window; the function it returns closes it. */
export type CpuProbe = () => Promise<() => Promise<CpuWindow>>;

export interface LoadFigures {
  connections: number;
  /** Answers per second over the measured window (any status). */
  rps: number;
  /** 2xx answers per second. */
  okRps: number;
  /** Latency of 2xx answers, milliseconds, from hrtime (sub-millisecond). */
  p50: number;
  p99: number;
  max: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  seconds: number;
  cpu?: CpuWindow & { serverUsPerAnswer: number };
}

function withCpu<T extends LoadFigures>(figures: T, cpu: CpuWindow | undefined): T {
  if (!cpu) return figures;
  const answers = figures.rps * figures.seconds;
  return { ...figures, cpu: { ...cpu, serverUsPerAnswer: answers > 0 ? (cpu.serverMs * 1000) / answers : Number.NaN } };
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

function sortedOf(values: number[]): Float64Array {
  return Float64Array.from(values).sort();
}

export interface FixedLoad {
  url: string;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  seconds: number;
  warmupSeconds?: number;
}

/** Starts an autocannon run; the latency samples are taken from its response events. */
function cannon(options: Options) {
  const latencies: number[] = [];
  const instance = autocannon(options);
  instance.on("response", (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
  });
  return { instance, latencies };
}

function optionsOf(load: FixedLoad): Options {
  const options: Options = {
    url: load.url,
    method: load.method ?? "GET",
    headers: load.headers ?? {},
    connections: load.connections,
    timeout: 20,
  };
  if (load.body !== undefined) options.body = load.body;
  return options;
}

async function warmUp(load: FixedLoad): Promise<void> {
  if ((load.warmupSeconds ?? 1) > 0) await cannon({ ...optionsOf(load), duration: load.warmupSeconds ?? 1 }).instance;
}

async function measure(load: FixedLoad): Promise<LoadFigures> {
  const { instance, latencies } = cannon({ ...optionsOf(load), duration: load.seconds });
  const result = await instance;
  const sorted = sortedOf(latencies);
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count;
  return {
    connections: load.connections,
    rps: result.requests.total / result.duration,
    okRps: result["2xx"] / result.duration,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: percentile(sorted, 100),
    ok: result["2xx"],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    seconds: result.duration,
  };
}

/** A warm-up run (discarded), then the measured run. */
export async function runFixed(load: FixedLoad, probe?: CpuProbe): Promise<LoadFigures> {
  await warmUp(load);
  const close = await probe?.();
  const figures = await measure(load);
  return withCpu(figures, await close?.());
}

/** Two fixed loads at once, warmed up together and measured over the same window. */
export async function runTogether(a: FixedLoad, b: FixedLoad, probe?: CpuProbe): Promise<[LoadFigures, LoadFigures]> {
  await Promise.all([warmUp(a), warmUp(b)]);
  const close = await probe?.();
  const figures = await Promise.all([measure(a), measure(b)]);
  const cpu = await close?.();
  return [withCpu(figures[0], cpu), figures[1]];
}

export interface ClosedLoopWorker {
  /** One call; resolves with the HTTP status of the answer. */
  step(client: RpcClient): Promise<number>;
}

export interface ClosedLoopFigures extends LoadFigures {
  /** Workers that gave up after repeated failures. */
  stalledWorkers: number;
}

const MAX_CONSECUTIVE_FAILURES = 3;

/**
 * Each worker calls step() again as soon as the previous call is answered,
 * until the time is up. A warm-up round runs first with the same workers;
 * then answers that arrive in the measured window are counted.
 */
export async function runClosedLoop(
  client: RpcClient,
  workers: ClosedLoopWorker[],
  options: { seconds: number; warmupSeconds: number },
  probe?: CpuProbe,
): Promise<ClosedLoopFigures> {
  if (options.warmupSeconds > 0) await runClosedLoop(client, workers, { seconds: options.warmupSeconds, warmupSeconds: 0 });
  const close = await probe?.();
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  let stalledWorkers = 0;
  const measureFrom = performance.now();
  const end = measureFrom + options.seconds * 1000;

  await Promise.all(
    workers.map(async (worker) => {
      let failures = 0;
      while (performance.now() < end) {
        const sent = performance.now();
        let status = 0;
        try {
          status = await worker.step(client);
        } catch {
          errors++;
        }
        const done = performance.now();
        const measured = done >= measureFrom && done <= end;
        if (measured && status !== 0) statusCodes[status] = (statusCodes[status] ?? 0) + 1;
        if (status === 200) {
          failures = 0;
          if (measured) latencies.push(done - sent);
        } else if (++failures >= MAX_CONSECUTIVE_FAILURES) {
          stalledWorkers++;
          return;
        }
      }
    }),
  );

  const sorted = sortedOf(latencies);
  const seconds = options.seconds;
  const answered = Object.values(statusCodes).reduce((sum, n) => sum + n, 0);
  const cpu = await close?.();
  return withCpu({
    connections: workers.length,
    rps: answered / seconds,
    okRps: latencies.length / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: percentile(sorted, 100),
    ok: latencies.length,
    non2xx: answered - latencies.length,
    errors,
    timeouts: 0,
    statusCodes,
    seconds,
    stalledWorkers,
  }, cpu);
}
