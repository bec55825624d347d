/**
 * A small libSQL server for tests: the Hrana protocol over HTTP with JSON
 * bodies (`POST /v2/pipeline` and `/v3/pipeline`), backed by a real local
 * libSQL database file opened with the `libsql` driver. It lets the remote
 * client (`@libsql/client` on Node, `@libsql/client/web` in workerd) run
 * against a real database where no libSQL server can be installed.
 *
 * What it serves:
 * - version probes: `GET /v2` and `GET /v3` answer 200; `GET /v3-protobuf`
 *   answers 404, so clients fall back to JSON;
 * - streams and batons: a pipeline without a baton opens a stream with its
 *   own connection (as a libSQL server does); every answer carries a fresh
 *   baton for the next request of that stream, a used or unknown baton is
 *   refused, and `close` ends the stream and its connection; idle streams
 *   are dropped after STREAM_IDLE_MS;
 * - stream requests `execute`, `batch` (conditions `ok`, `error`, `not`,
 *   `and`, `or`, `is_autocommit`, exactly as @libsql/client sends them for
 *   BEGIN … COMMIT/ROLLBACK), `sequence`, `store_sql`/`close_sql` (SQL ids,
 *   which @libsql/client uses for statements repeated in one batch),
 *   `get_autocommit` and `close`;
 * - positional and named arguments; the value types null, integer (as
 *   decimal strings), float, text and blob (base64);
 * - SQLite errors as Hrana errors with the driver's message and code (so
 *   "UNIQUE constraint failed: …" reaches the client unchanged);
 * - `Authorization: Bearer <token>` when started with a token: anything else
 *   is answered 401.
 *
 * What it does not cover: WebSockets (`ws://`, Hrana 1–3 over WebSocket),
 * the protobuf encoding (`/v3-protobuf`), cursors (`/v3/cursor`),
 * `describe`, replication (the frames/sync endpoints embedded replicas pull
 * from, so `DATABASE_SYNC_URL` cannot point here), namespaces, `base_url`
 * redirection, and JWT validation (the token is compared as a string).
 * `affected_row_count` of statements that return rows is the number of
 * rows returned for `… RETURNING` and 0 otherwise. Requests are handled one
 * at a time on the event loop (the driver is synchronous); an interactive
 * transaction left open across requests makes other streams' writes wait up
 * to the busy timeout.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Libsql from "libsql";

const STREAM_IDLE_MS = 15_000;
const BUSY_TIMEOUT_MS = 5_000;

export interface HranaServerOptions {
  /** Path of the database file (created when missing). */
  path: string;
  /** Required as `Authorization: Bearer <token>` when set. */
  authToken?: string;
}

export interface HranaServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Requests answered so far, by path (`/v3/pipeline`, …); for tests that check routing. */
  readonly requests: Readonly<Record<string, number>>;
  /** Statements executed so far, in order (batch steps included). */
  readonly statements: readonly string[];
  /** Streams open right now. */
  readonly openStreams: number;
  close(): Promise<void>;
}

type HranaValue = { type: "null" } | { type: "integer"; value: string } | { type: "float"; value: number } | { type: "text"; value: string } | { type: "blob"; base64: string };

interface HranaStmt {
  sql?: string | null;
  sql_id?: number | null;
  args?: HranaValue[];
  named_args?: Array<{ name: string; value: HranaValue }>;
  want_rows?: boolean;
}

type BatchCond =
  | { type: "ok"; step: number }
  | { type: "error"; step: number }
  | { type: "not"; cond: BatchCond }
  | { type: "and"; conds: BatchCond[] }
  | { type: "or"; conds: BatchCond[] }
  | { type: "is_autocommit" };

interface BatchStep {
  condition?: BatchCond | null;
  stmt: HranaStmt;
}

type StreamRequest =
  | { type: "close" }
  | { type: "execute"; stmt: HranaStmt }
  | { type: "batch"; batch: { steps: BatchStep[] } }
  | { type: "sequence"; sql?: string | null; sql_id?: number | null }
  | { type: "store_sql"; sql_id: number; sql: string }
  | { type: "close_sql"; sql_id: number }
  | { type: "get_autocommit" }
  | { type: string };

interface Stream {
  connection: Libsql.Database;
  sqls: Map<number, string>;
  idle: NodeJS.Timeout | undefined;
}

class HranaError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export async function startHranaServer(options: HranaServerOptions): Promise<HranaServer> {
  // WAL once for the file, so readers on other connections never wait for a writer.
  const setup = new Libsql(options.path);
  setup.exec("PRAGMA journal_mode = WAL");
  setup.close();

  const streams = new Map<string, Stream>();
  const requests: Record<string, number> = {};
  const statements: string[] = [];

  function openStream(): Stream {
    return { connection: new Libsql(options.path, { timeout: BUSY_TIMEOUT_MS }), sqls: new Map(), idle: undefined };
  }

  function closeStream(stream: Stream): void {
    clearTimeout(stream.idle);
    if (stream.connection.open) {
      if (stream.connection.inTransaction) stream.connection.exec("ROLLBACK");
      stream.connection.close();
    }
  }

  function sqlOf(stream: Stream, stmt: { sql?: string | null; sql_id?: number | null }): string {
    if (typeof stmt.sql === "string") return stmt.sql;
    if (typeof stmt.sql_id === "number") {
      const stored = stream.sqls.get(stmt.sql_id);
      if (stored === undefined) throw new HranaError(`SQL id ${stmt.sql_id} is not stored in this stream`, "SQL_NOT_FOUND");
      return stored;
    }
    throw new HranaError("a statement needs `sql` or `sql_id`", "PROTO_ERROR");
  }

  function execute(stream: Stream, stmt: HranaStmt) {
    const sql = sqlOf(stream, stmt);
    statements.push(sql);
    try {
      const prepared = stream.connection.prepare(sql);
      prepared.safeIntegers(true);
      const args = bindings(stmt);
      if (prepared.reader) {
        prepared.raw(true);
        const columns = prepared.columns();
        const rows = prepared.all(args) as unknown[][];
        return {
          cols: columns.map((c) => ({ name: c.name, decltype: c.type ?? null })),
          rows: stmt.want_rows === false ? [] : rows.map((row) => row.map(encodeValue)),
          affected_row_count: /\breturning\b/i.test(sql) ? rows.length : 0,
          last_insert_rowid: null,
        };
      }
      const info = prepared.run(args);
      return { cols: [], rows: [], affected_row_count: info.changes, last_insert_rowid: String(info.lastInsertRowid) };
    } catch (error) {
      throw asHranaError(error);
    }
  }

  function batch(stream: Stream, steps: BatchStep[]) {
    const results: unknown[] = [];
    const errors: unknown[] = [];
    const outcome: Array<"ok" | "error" | undefined> = [];
    const holds = (cond: BatchCond): boolean => {
      switch (cond.type) {
        case "ok":
          return outcome[cond.step] === "ok";
        case "error":
          return outcome[cond.step] === "error";
        case "not":
          return !holds(cond.cond);
        case "and":
          return cond.conds.every(holds);
        case "or":
          return cond.conds.some(holds);
        case "is_autocommit":
          return !stream.connection.inTransaction;
      }
    };
    steps.forEach((step, i) => {
      if (step.condition && !holds(step.condition)) {
        results.push(null);
        errors.push(null);
        return;
      }
      try {
        results.push(execute(stream, step.stmt));
        errors.push(null);
        outcome[i] = "ok";
      } catch (error) {
        const failure = asHranaError(error);
        results.push(null);
        errors.push({ message: failure.message, code: failure.code ?? null });
        outcome[i] = "error";
      }
    });
    return { step_results: results, step_errors: errors };
  }

  /** One stream request; answers the response, and whether the stream ends. */
  function handle(stream: Stream, request: StreamRequest): { response: unknown; closes?: boolean } {
    switch (request.type) {
      case "close":
        return { response: { type: "close" }, closes: true };
      case "execute":
        return { response: { type: "execute", result: execute(stream, (request as { stmt: HranaStmt }).stmt) } };
      case "batch":
        return { response: { type: "batch", result: batch(stream, (request as { batch: { steps: BatchStep[] } }).batch.steps) } };
      case "sequence": {
        const sql = sqlOf(stream, request as { sql?: string; sql_id?: number });
        statements.push(sql);
        try {
          stream.connection.exec(sql);
        } catch (error) {
          throw asHranaError(error);
        }
        return { response: { type: "sequence" } };
      }
      case "store_sql": {
        const { sql_id, sql } = request as { sql_id: number; sql: string };
        stream.sqls.set(sql_id, sql);
        return { response: { type: "store_sql" } };
      }
      case "close_sql":
        stream.sqls.delete((request as { sql_id: number }).sql_id);
        return { response: { type: "close_sql" } };
      case "get_autocommit":
        return { response: { type: "get_autocommit", is_autocommit: !stream.connection.inTransaction } };
      default:
        throw new HranaError(`stream request "${request.type}" is not supported by this server`, "NOT_SUPPORTED");
    }
  }

  function pipeline(body: { baton?: string | null; requests?: StreamRequest[] }): { status: number; body: unknown } {
    let stream: Stream;
    if (body.baton) {
      const found = streams.get(body.baton);
      if (!found) return { status: 400, body: { message: "unknown or expired baton", code: "STREAM_EXPIRED" } };
      streams.delete(body.baton);
      clearTimeout(found.idle);
      stream = found;
    } else {
      stream = openStream();
    }
    const results: unknown[] = [];
    let closed = false;
    for (const request of body.requests ?? []) {
      if (closed) {
        results.push({ type: "error", error: { message: "the stream is closed", code: "STREAM_CLOSED" } });
        continue;
      }
      try {
        const { response, closes } = handle(stream, request);
        results.push({ type: "ok", response });
        if (closes) closed = true;
      } catch (error) {
        const failure = asHranaError(error);
        results.push({ type: "error", error: { message: failure.message, code: failure.code ?? null } });
      }
    }
    if (closed) {
      closeStream(stream);
      return { status: 200, body: { baton: null, base_url: null, results } };
    }
    const baton = randomBytes(18).toString("base64url");
    stream.idle = setTimeout(() => {
      streams.delete(baton);
      closeStream(stream);
    }, STREAM_IDLE_MS);
    stream.idle.unref();
    streams.set(baton, stream);
    return { status: 200, body: { baton, base_url: null, results } };
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    requests[path] = (requests[path] ?? 0) + 1;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (options.authToken !== undefined && req.headers.authorization !== `Bearer ${options.authToken}`) {
      return send(401, { message: "missing or wrong authorization", code: "UNAUTHORIZED" });
    }
    if (req.method === "GET" && (path === "/v2" || path === "/v3")) return send(200, {});
    if (req.method === "GET" && path === "/health") return send(200, {});
    if (req.method === "POST" && (path === "/v2/pipeline" || path === "/v3/pipeline")) {
      let body: { baton?: string | null; requests?: StreamRequest[] };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof body;
      } catch {
        return send(400, { message: "the body is not JSON", code: "PROTO_ERROR" });
      }
      const answer = pipeline(body);
      return send(answer.status, answer.body);
    }
    return send(404, { message: `${req.method} ${path} is not served here`, code: "NOT_FOUND" });
  }

  const server: Server = createServer((req, res) => {
    onRequest(req, res).catch((error: unknown) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: String(error) }));
    });
  });
  await new Promise<void>((settle) => server.listen(0, "127.0.0.1", settle));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    statements,
    get openStreams() {
      return streams.size;
    },
    async close() {
      for (const stream of streams.values()) closeStream(stream);
      streams.clear();
      server.closeAllConnections();
      await new Promise<void>((settle) => server.close(() => settle()));
    },
  };
}

function decodeValue(value: HranaValue | undefined): unknown {
  if (value === undefined) return null;
  switch (value.type) {
    case "null":
      return null;
    case "integer":
      return BigInt(value.value);
    case "float":
      return Number(value.value);
    case "text":
      return value.value;
    case "blob":
      return Buffer.from(value.base64, "base64");
    default:
      throw new HranaError(`unknown value type ${(value as { type: string }).type}`, "PROTO_ERROR");
  }
}

function encodeValue(value: unknown): HranaValue {
  if (value === null || value === undefined) return { type: "null" };
  if (typeof value === "bigint") return { type: "integer", value: value.toString() };
  // With safeIntegers on, the driver answers integers as bigint: a number is a REAL.
  if (typeof value === "number") return { type: "float", value };
  if (typeof value === "string") return { type: "text", value };
  if (value instanceof Uint8Array) return { type: "blob", base64: Buffer.from(value).toString("base64") };
  throw new HranaError(`cannot encode ${typeof value}`, "PROTO_ERROR");
}

/** Positional arguments as an array; named ones as an object keyed without their `:`/`@`/`$` prefix. */
function bindings(stmt: HranaStmt): unknown[] | Record<string, unknown> {
  const named = stmt.named_args ?? [];
  if (named.length === 0) return (stmt.args ?? []).map(decodeValue);
  if ((stmt.args ?? []).length > 0) throw new HranaError("mixing positional and named arguments is not supported here", "ARGS_INVALID");
  return Object.fromEntries(named.map(({ name, value }) => [name.replace(/^[:@$]/, ""), decodeValue(value)]));
}

function asHranaError(error: unknown): HranaError {
  if (error instanceof HranaError) return error;
  const e = error as { message?: string; code?: string };
  return new HranaError(e.message ?? String(error), typeof e.code === "string" ? e.code : undefined);
}
