/**
 * `npm run bench`: throughput, latency and memory of the Node server, each
 * figure set against a ceiling measured in the same run on the same machine
 * (a bare plain route, or the argon2id hash rate), because absolute numbers
 * on a shared 2-core machine move by ±20 % from run to run.
 *
 * Knobs (environment):
 *   BENCH_SECONDS       measured seconds per load (default 5; each has a 1 s warm-up)
 *   BENCH_ONLY          comma list of phases: baseline,validate,floor,checklicense,signin,refresh,mixed,listusers,listlicenses,worker
 *                       (e.g. BENCH_ONLY=listusers runs only the ListUsers case)
 *   BENCH_LIST_SECONDS  measured seconds per ListUsers shape (default 3, at most BENCH_SECONDS)
 *   BENCH_SERVER_ROOT   project directory whose server to start (default: this one)
 *   BENCH_SERVER_FLAGS  extra Node flags for the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
 *   BENCH_SERVER_ENV    extra server environment, e.g. "UV_THREADPOOL_SIZE=8 LATCHKEY_MAX_CONCURRENT_HASHES=2"
 */
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { measureArgon2Ceiling, type Argon2Ceiling } from "./argon2.js";
import { cpuWindow } from "./cpu.js";
import { createRpcClient, METHODS, tokensOf, type RpcClient, type TokenPair } from "./client.js";
import { runClosedLoop, runFixed, runTogether, type ClosedLoopFigures, type ClosedLoopWorker, type LoadFigures } from "./loads.js";
import { CHECK_LICENSE_FEATURE, CHECK_LICENSE_PATH, prepareCheckLicense } from "./check-license.js";
import { checkListLicensesCase, LIST_LICENSES, listLicensesCases, measureListLicensesCase, seedListLicenses } from "./list-licenses.js";
import { checkListUsersCase, LIST_USERS, listUsersCases, measureListUsersCase, seedListUsers } from "./list-users.js";
import { fmt, renderTable, type Row } from "./report.js";
import { BOOTSTRAP_ADMIN, startBenchServer, type BenchServer } from "./server.js";
import { measureWorker } from "./worker.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SERVER_ROOT = resolve(process.env.BENCH_SERVER_ROOT ?? ROOT);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PHASES = new Set((process.env.BENCH_ONLY ?? "baseline,validate,floor,checklicense,signin,refresh,mixed,listusers,listlicenses,worker").split(",").map((s) => s.trim()));
const LIST_SECONDS = Number(process.env.BENCH_LIST_SECONDS ?? Math.min(SECONDS, 3));
const SERVER_FLAGS = (process.env.BENCH_SERVER_FLAGS ?? "").split(" ").filter(Boolean);
const SERVER_ENV = Object.fromEntries(
  (process.env.BENCH_SERVER_ENV ?? "")
    .split(" ")
    .filter(Boolean)
    .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
);

const TARGETS = {
  validateRatio: 0.5,
  checkLicenseRatio: 0.4,
  signInRatio: 0.8,
  refreshRps: 2000,
  mixedValidateP99Ms: 10,
  listUsersP99Ms: 20,
  listLicensesP99Ms: 20,
  peakRssMiB: 150,
  workerBundleGzipKiB: 400,
  workerFirstRequestMs: 50,
};

const USERS = 8;
const SESSIONS_PER_USER = 4;
const PASSWORD = "violet-anchor-meadow-71-quartz";
const SIGN_IN_CONNECTIONS = 8;
const MIXED_VALIDATE_CONNECTIONS = 2;

function log(message: string) {
  process.stderr.write(`[bench] ${message}\n`);
}

function describe(name: string, f: LoadFigures) {
  const extra = f.non2xx + f.errors + f.timeouts > 0 ? `  non2xx=${f.non2xx} errors=${f.errors} timeouts=${f.timeouts} ${JSON.stringify(f.statusCodes)}` : "";
  const cpu = f.cpu ? `, server ${fmt.us(f.cpu.serverUsPerAnswer)} CPU/answer, others ${fmt.pct(f.cpu.othersShare)}` : "";
  log(`${name}: ${fmt.rps(f.okRps)} ok, p50 ${fmt.ms(f.p50)}, p99 ${fmt.ms(f.p99)}${cpu}${extra}`);
}

function cpuCells(f: LoadFigures): Pick<Row, "cpu" | "others"> {
  return f.cpu ? { cpu: fmt.us(f.cpu.serverUsPerAnswer), others: fmt.pct(f.cpu.othersShare) } : {};
}

function gitRevision(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: SERVER_ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: SERVER_ROOT, encoding: "utf8" }).trim() !== "";
    return dirty ? `${head} (src modified)` : head;
  } catch {
    return "unknown";
  }
}

interface Fixture {
  adminAccess: string;
  /** An ordinary user's access token, the subject of ValidateToken. */
  userAccess: string;
  signInEmail: string;
  refreshSessions: TokenPair[];
}

async function prepare(client: RpcClient): Promise<Fixture> {
  const admin = tokensOf(await client.ok(METHODS.signIn, { email: BOOTSTRAP_ADMIN.email, password: BOOTSTRAP_ADMIN.password }));
  const emails = Array.from({ length: USERS }, (_, i) => `bench-${i}@latchkey.test`);
  await Promise.all(emails.map((email, i) => client.ok(METHODS.createUser, { email, name: `Bench User ${i}`, password: PASSWORD })));
  const refreshSessions = await Promise.all(
    emails.flatMap((email) =>
      Array.from({ length: SESSIONS_PER_USER }, async (_, i) =>
        tokensOf(await client.ok(METHODS.signIn, { email, password: PASSWORD, deviceName: `bench device ${i}` })),
      ),
    ),
  );
  // A session of its own, so that the refresh load never touches it.
  const userAccess = tokensOf(await client.ok(METHODS.signIn, { email: emails[0], password: PASSWORD, deviceName: "validated" })).accessToken;
  const check = await client.ok(METHODS.validateToken, { token: userAccess }, { authorization: `Bearer ${admin.accessToken}` });
  if (check.active !== true) throw new Error(`ValidateToken does not find the user's token active: ${JSON.stringify(check)}`);
  return { adminAccess: admin.accessToken, userAccess, signInEmail: emails[0]!, refreshSessions };
}

function refreshWorker(session: TokenPair): ClosedLoopWorker {
  let refreshToken = session.refreshToken;
  return {
    async step(client) {
      const answer = await client.call(METHODS.refreshToken, { refreshToken });
      // A failed call leaves the token as it was; retrying it within the
      // grace window gets the same successor back.
      if (answer.status === 200) refreshToken = tokensOf(answer.body).refreshToken;
      return answer.status;
    },
  };
}

async function main() {
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    cores: availableParallelism(),
    loadAverageAtStart: loadavg(),
    revision: gitRevision(),
    serverRoot: SERVER_ROOT,
    serverFlags: SERVER_FLAGS,
    serverEnv: SERVER_ENV,
    secondsPerLoad: SECONDS,
    targets: TARGETS,
  };
  const rows: Row[] = [];

  log(`argon2id ceiling (${availableParallelism()} cores)…`);
  const ceiling: Argon2Ceiling = await measureArgon2Ceiling(20);
  results.argon2 = ceiling;
  log(
    `one hash: median ${fmt.ms(ceiling.medianMs)} → ceiling ${fmt.rps(ceiling.hashesPerSecond)}; ` +
      `${ceiling.parallel} in flight reach ${fmt.rps(ceiling.parallelHashesPerSecond)}`,
  );

  let server: BenchServer | undefined;
  let client: RpcClient | undefined;
  const cleanUp = async () => {
    client?.close();
    await server?.stop();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping the server`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    server = await startBenchServer({ root: SERVER_ROOT, nodeFlags: SERVER_FLAGS, env: SERVER_ENV });
    results.serverStartMs = server.startMs;
    results.serverCommand = server.command;
    log(`server pid ${server.pid} (node ${server.command}) ready at ${server.url} after ${Math.round(server.startMs)} ms`);
    const rpc = createRpcClient(server.url, 64);
    client = rpc;

    server.phase("setup");
    const fixture = await prepare(client);
    const url = server.url;
    const pid = server.pid;
    const probe = () => cpuWindow(pid);
    const validateLoad = (connections: number) => ({
      url: `${url}/${METHODS.validateToken}`,
      method: "POST" as const,
      headers: { "content-type": "application/json", authorization: `Bearer ${fixture.adminAccess}` },
      body: JSON.stringify({ token: fixture.userAccess }),
      connections,
      seconds: SECONDS,
    });
    const signInLoad = {
      url: `${url}/${METHODS.signIn}`,
      method: "POST" as const,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: fixture.signInEmail, password: PASSWORD, deviceName: "bench" }),
      connections: SIGN_IN_CONNECTIONS,
      seconds: SECONDS,
    };

    // 1 and 2: the plain route and ValidateToken, alternating per connection count.
    const healthzAt: Record<number, LoadFigures> = {};
    const validateAt: Record<number, LoadFigures> = {};
    for (const connections of [1, 32]) {
      let baseline: LoadFigures | undefined;
      if (PHASES.has("baseline")) {
        server.phase(`healthz-${connections}`);
        baseline = await runFixed({ url: `${url}/healthz`, connections, seconds: SECONDS }, probe);
        describe(`GET /healthz @${connections}`, baseline);
        results[`healthz_c${connections}`] = baseline;
        healthzAt[connections] = baseline;
        rows.push({
          figure: `GET /healthz @${connections} conn`,
          value: `${fmt.rps(baseline.okRps)}  p50 ${fmt.ms(baseline.p50)}  p99 ${fmt.ms(baseline.p99)}`,
          ...cpuCells(baseline),
        });
      }
      if (PHASES.has("validate")) {
        server.phase(`validate-${connections}`);
        const validate = await runFixed(validateLoad(connections), probe);
        describe(`ValidateToken @${connections}`, validate);
        const ratio = baseline ? validate.okRps / baseline.okRps : Number.NaN;
        results[`validate_c${connections}`] = { ...validate, ratioToBaseline: ratio };
        validateAt[connections] = validate;
        rows.push({
          figure: `ValidateToken @${connections} conn`,
          value: `${fmt.rps(validate.okRps)}  p50 ${fmt.ms(validate.p50)}  p99 ${fmt.ms(validate.p99)}`,
          target: `≥ ${TARGETS.validateRatio}× healthz`,
          ratio: fmt.ratio(ratio),
          met: ratio >= TARGETS.validateRatio && validate.non2xx + validate.errors === 0,
          ...cpuCells(validate),
        });
      }
    }

    // What any Connect RPC costs here: gRPC health Check through the same
    // adapter and interceptors, whose handler only runs `select 1`.
    if (PHASES.has("floor")) {
      server.phase("connect-floor");
      const floor = await runFixed(
        { url: `${url}/grpc.health.v1.Health/Check`, method: "POST", headers: { "content-type": "application/json" }, body: "{}", connections: 32, seconds: SECONDS },
        probe,
      );
      describe("Connect floor (Health/Check) @32", floor);
      results.connectFloor_c32 = floor;
      rows.push({
        figure: "Connect floor: Health/Check @32",
        value: `${fmt.rps(floor.okRps)}  p50 ${fmt.ms(floor.p50)}  p99 ${fmt.ms(floor.p99)}`,
        ...cpuCells(floor),
      });
      // What ValidateToken costs beyond any RPC, and beyond a plain route.
      const validate = validateAt[32];
      const comparisons: Array<[string, LoadFigures | undefined]> = [
        ["Connect floor", floor],
        ["healthz", healthzAt[32]],
      ];
      for (const [name, reference] of comparisons) {
        if (!validate || !reference) continue;
        const rpsRatio = validate.okRps / reference.okRps;
        const cpuRatio = validate.cpu && reference.cpu ? validate.cpu.serverUsPerAnswer / reference.cpu.serverUsPerAnswer : Number.NaN;
        results[`validate_c32_vs_${name === "healthz" ? "healthz" : "connectFloor"}`] = { rpsRatio, cpuRatio };
        log(`ValidateToken @32 ÷ ${name} @32: ${fmt.ratio(rpsRatio)} req/s, ${fmt.ratio(cpuRatio)} CPU per answer`);
        rows.push({ figure: `ValidateToken ÷ ${name} @32`, value: `${fmt.ratio(rpsRatio)} req/s, ${fmt.ratio(cpuRatio)} CPU per answer`, ratio: fmt.ratio(rpsRatio) });
      }
    }

    // CheckLicense for one device at 32 connections, against the plain route:
    // access-token check, the seat query and a freshly signed certificate.
    if (PHASES.has("checklicense")) {
      server.phase("checklicense-setup");
      const { deviceAccess } = await prepareCheckLicense(client, fixture.adminAccess);
      server.phase("checklicense");
      const check = await runFixed(
        {
          url: `${url}/${CHECK_LICENSE_PATH}`,
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${deviceAccess}` },
          body: JSON.stringify({ feature: CHECK_LICENSE_FEATURE }),
          connections: 32,
          seconds: SECONDS,
        },
        probe,
      );
      describe("CheckLicense @32", check);
      const baseline = healthzAt[32];
      const ratio = baseline ? check.okRps / baseline.okRps : Number.NaN;
      results.checkLicense_c32 = { ...check, ratioToBaseline: ratio };
      rows.push({
        figure: "CheckLicense @32 conn (one device)",
        value: `${fmt.rps(check.okRps)}  p50 ${fmt.ms(check.p50)}  p99 ${fmt.ms(check.p99)}`,
        target: `≥ ${TARGETS.checkLicenseRatio}× healthz`,
        ratio: fmt.ratio(ratio),
        met: ratio >= TARGETS.checkLicenseRatio && check.non2xx + check.errors === 0,
        ...cpuCells(check),
      });
    }

    // 3: SignIn against the argon2id ceiling.
    if (PHASES.has("signin")) {
      server.phase("signin");
      const signIn = await runFixed(signInLoad, probe);
      describe(`SignIn @${SIGN_IN_CONNECTIONS}`, signIn);
      const ratio = signIn.okRps / ceiling.hashesPerSecond;
      results.signin = { ...signIn, ratioToCeiling: ratio };
      rows.push({
        figure: "argon2id ceiling",
        value: `${fmt.rps(ceiling.hashesPerSecond)}  (1 hash ${fmt.ms(ceiling.medianMs)}, ${ceiling.cores} cores; ${ceiling.parallel} in flight: ${fmt.rps(ceiling.parallelHashesPerSecond)})`,
      });
      rows.push({
        figure: `SignIn @${SIGN_IN_CONNECTIONS} conn`,
        value: `${fmt.rps(signIn.okRps)}  p50 ${fmt.ms(signIn.p50)}  p99 ${fmt.ms(signIn.p99)}  non-2xx ${signIn.non2xx}  (${fmt.ratio(signIn.okRps / ceiling.parallelHashesPerSecond)} in-flight rate)`,
        target: `≥ ${TARGETS.signInRatio}× ceiling`,
        ratio: fmt.ratio(ratio),
        met: ratio >= TARGETS.signInRatio,
        ...cpuCells(signIn),
      });
    }

    // 4: RefreshToken, each worker spending its own token chain.
    if (PHASES.has("refresh")) {
      server.phase("refresh");
      const workers = fixture.refreshSessions.map(refreshWorker);
      const refresh: ClosedLoopFigures = await runClosedLoop(client, workers, { seconds: SECONDS, warmupSeconds: 1 }, probe);
      describe(`RefreshToken ×${workers.length} workers`, refresh);
      results.refresh = refresh;
      rows.push({
        figure: `RefreshToken ×${workers.length} workers`,
        value: `${fmt.rps(refresh.okRps)}  p50 ${fmt.ms(refresh.p50)}  p99 ${fmt.ms(refresh.p99)}  non-2xx ${refresh.non2xx}`,
        target: `≥ ${fmt.rps(TARGETS.refreshRps)}`,
        ratio: fmt.ratio(refresh.okRps / TARGETS.refreshRps),
        met: refresh.okRps >= TARGETS.refreshRps && refresh.stalledWorkers === 0,
        ...cpuCells(refresh),
      });
    }

    // 5: ValidateToken latency while SignIn keeps the hashing slots full.
    if (PHASES.has("mixed")) {
      server.phase("mixed");
      const [signIn, validate] = await runTogether(signInLoad, validateLoad(MIXED_VALIDATE_CONNECTIONS), probe);
      describe(`mixed: SignIn @${SIGN_IN_CONNECTIONS}`, signIn);
      describe(`mixed: ValidateToken @${MIXED_VALIDATE_CONNECTIONS}`, validate);
      results.mixed = { signIn, validate };
      rows.push({
        figure: `ValidateToken @${MIXED_VALIDATE_CONNECTIONS} under SignIn @${SIGN_IN_CONNECTIONS}`,
        value: `p50 ${fmt.ms(validate.p50)}  p99 ${fmt.ms(validate.p99)}  (${fmt.rps(validate.okRps)}; SignIn ${fmt.rps(signIn.okRps)})`,
        target: `p99 ≤ ${TARGETS.mixedValidateP99Ms} ms`,
        ratio: fmt.ratio(validate.p99 / TARGETS.mixedValidateP99Ms),
        met: validate.p99 <= TARGETS.mixedValidateP99Ms,
        ...(signIn.cpu ? { others: fmt.pct(signIn.cpu.othersShare) } : {}),
      });
    }

    // 6: memory over the phases above (the ListUsers phase, with its
    // hundred thousand users, is reported on its own below).
    const memory = await server.memory();
    results.memory = memory;
    rows.push({
      figure: "server peak RSS (VmHWM)",
      value: `${fmt.mib(memory.hwmKiB)}  (ready ${fmt.mib(memory.readyKiB)}, max sampled ${fmt.mib(memory.maxSampledKiB)})`,
      target: `≤ ${TARGETS.peakRssMiB} MiB`,
      ratio: fmt.ratio(memory.hwmKiB / 1024 / TARGETS.peakRssMiB),
      met: memory.hwmKiB / 1024 <= TARGETS.peakRssMiB,
    });

    /**
     * One caller at a time through each listing case, against the Connect
     * floor's latency on one connection measured just before.
     */
    async function measureListing<C extends { name: string }>(
      rpc: string,
      cases: readonly C[],
      targetMs: number,
      how: { check(c: C): Promise<{ totalSize: number; returned: number }>; measure(c: C): Promise<LoadFigures> },
    ): Promise<Record<string, unknown>> {
      const floor = await runFixed(
        { url: `${url}/grpc.health.v1.Health/Check`, method: "POST", headers: { "content-type": "application/json" }, body: "{}", connections: 1, seconds: LIST_SECONDS, warmupSeconds: 0.5 },
        probe,
      );
      describe("Connect floor (Health/Check) @1", floor);
      rows.push({ figure: "Connect floor: Health/Check @1", value: `p50 ${fmt.ms(floor.p50)}  p99 ${fmt.ms(floor.p99)}  (${fmt.rps(floor.okRps)})`, ...cpuCells(floor) });
      const listed: Record<string, unknown> = { floor_c1: floor };
      for (const c of cases) {
        const { totalSize, returned } = await how.check(c);
        const figures = await how.measure(c);
        describe(`${rpc} ${c.name} @1`, figures);
        const p50Ratio = figures.p50 / floor.p50;
        listed[c.name] = { ...figures, totalSize, returned, p50RatioToFloor: p50Ratio };
        const failed = figures.non2xx + figures.errors;
        rows.push({
          figure: `${rpc} ${c.name} @1`,
          value: `p50 ${fmt.ms(figures.p50)} (${fmt.ratio(p50Ratio)} floor)  p99 ${fmt.ms(figures.p99)}  ${returned} of ${totalSize.toLocaleString("en-US")}${failed > 0 ? `  non-2xx ${failed}` : ""}`,
          target: `p99 ≤ ${targetMs} ms`,
          ratio: fmt.ratio(figures.p99 / targetMs),
          met: figures.p99 <= targetMs && failed === 0,
          ...cpuCells(figures),
        });
      }
      return listed;
    }

    // 7: ListUsers over 100,000 members of one organisation, one caller at a
    // time, against the Connect floor's latency on one connection. Last,
    // because it leaves the database a hundred thousand users larger.
    if (PHASES.has("listusers")) {
      server.phase("listusers-seed");
      const seeded = await seedListUsers(client, server.databaseFile, fixture.adminAccess);
      log(`seeded ${seeded.seeded.toLocaleString("en-US")} users into one organisation in ${fmt.ms(seeded.seedMs)}`);
      rows.push({ figure: `ListUsers: ${LIST_USERS.users.toLocaleString("en-US")} members seeded in SQL`, value: fmt.ms(seeded.seedMs) });
      const cases = await listUsersCases(client, seeded);
      server.phase("listusers");
      results.listUsers = {
        seeded,
        ...(await measureListing("ListUsers", cases, TARGETS.listUsersP99Ms, {
          check: (c) => checkListUsersCase(rpc, c),
          measure: (c) => measureListUsersCase(url, c, LIST_SECONDS, probe),
        })),
      };
      const peak = (await server.memory()).byPhase.listusers ?? 0;
      rows.push({ figure: "server peak RSS during ListUsers", value: fmt.mib(peak) });
    }

    // 8: ListLicenses over 100,000 licences held by one organisation, one
    // caller at a time, like ListUsers above.
    if (PHASES.has("listlicenses")) {
      server.phase("listlicenses-seed");
      const seeded = await seedListLicenses(client, server.databaseFile);
      log(`seeded ${seeded.seeded.toLocaleString("en-US")} licences of one organisation in ${fmt.ms(seeded.seedMs)}`);
      rows.push({ figure: `ListLicenses: ${LIST_LICENSES.licenses.toLocaleString("en-US")} licences seeded in SQL`, value: fmt.ms(seeded.seedMs) });
      const cases = await listLicensesCases(client, seeded);
      server.phase("listlicenses");
      results.listLicenses = {
        seeded,
        ...(await measureListing("ListLicenses", cases, TARGETS.listLicensesP99Ms, {
          check: (c) => checkListLicensesCase(rpc, seeded, c),
          measure: (c) => measureListLicensesCase(url, seeded, c, LIST_SECONDS, probe),
        })),
      };
      const peak = (await server.memory()).byPhase.listlicenses ?? 0;
      rows.push({ figure: "server peak RSS during ListLicenses", value: fmt.mib(peak) });
    }

    results.peakRssByPhaseMiB = Object.fromEntries(Object.entries((await server.memory()).byPhase).map(([phase, kib]) => [phase, Math.round(kib / 102.4) / 10]));
    results.serverOutput = server.output.slice(-50);
    results.loadAverageAtEnd = loadavg();
    if (server.output.length > 0) log(`the server wrote ${server.output.length} line(s); last: ${server.output.at(-1)}`);
  } finally {
    await cleanUp();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }

  // The Worker inside workerd, after the Node server has stopped.
  if (PHASES.has("worker")) {
    log("worker: bundling and starting workerd…");
    const worker = await measureWorker(SECONDS, log);
    results.worker = worker;
    rows.push({
      figure: "Worker upload (wrangler deploy --dry-run, gzip)",
      value: `${worker.bundle.gzipKib.toFixed(0)} KiB (${worker.bundle.kib.toFixed(0)} KiB raw)`,
      target: `≤ ${TARGETS.workerBundleGzipKiB} KiB`,
      met: worker.bundle.gzipKib <= TARGETS.workerBundleGzipKiB,
    });
    rows.push({
      figure: `Worker first answer, fresh isolate (median of ${worker.coldStarts.length})`,
      value: `${fmt.ms(worker.firstRequestMedianMs)}  (second answer ${fmt.ms(worker.coldStarts[0]!.secondRequestMs)}; plain Worker ${fmt.ms(worker.plainFirstRequestMedianMs)})`,
      target: `≤ ${TARGETS.workerFirstRequestMs} ms`,
      ratio: fmt.ratio(worker.firstRequestMedianMs / worker.plainFirstRequestMedianMs),
      met: worker.firstRequestMedianMs <= TARGETS.workerFirstRequestMs,
    });
    describe("Worker GET /healthz @32", worker.healthz);
    describe("Worker ValidateToken @32", worker.validate);
    const ratio = worker.validate.okRps / worker.healthz.okRps;
    rows.push({ figure: "Worker GET /healthz @32 conn", value: `${fmt.rps(worker.healthz.okRps)}  p50 ${fmt.ms(worker.healthz.p50)}  p99 ${fmt.ms(worker.healthz.p99)}` });
    rows.push({
      figure: "Worker ValidateToken (Connect JSON) @32 conn",
      value: `${fmt.rps(worker.validate.okRps)}  p50 ${fmt.ms(worker.validate.p50)}  p99 ${fmt.ms(worker.validate.p99)}`,
      ratio: fmt.ratio(ratio),
    });
  }

  const table = renderTable(rows);
  process.stdout.write(`\n${table}\n\n`);
  const outDir = join(tmpdir(), "latchkey-bench-results");
  await mkdir(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const json = JSON.stringify({ ...results, rows }, null, 2);
  await writeFile(join(outDir, `${stamp}.json`), json);
  await writeFile(join(outDir, "latest.json"), json);
  process.stdout.write(`results: ${join(outDir, `${stamp}.json`)} (also latest.json)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
