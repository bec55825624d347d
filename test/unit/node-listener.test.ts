import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyFirstBytes, createDualProtocolListener, type DualProtocolListener } from "../../src/runtime/node-listener.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

let listener: DualProtocolListener;
let port: number;

beforeAll(async () => {
  listener = createDualProtocolListener((req, res) => {
    res.setHeader("content-type", "text/plain");
    res.end(`${req.httpVersion} ${req.url}`);
  });
  ({ port } = await listener.listen(0, "127.0.0.1"));
});

afterAll(() => listener.close());

function getHttp1(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve(body));
      })
      .on("error", reject);
  });
}

function getHttp2(session: http2.ClientHttp2Session, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": path });
    let body = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => (body += chunk));
    stream.on("end", () => resolve(body));
    stream.on("error", reject);
    stream.end();
  });
}

async function withHttp2<T>(
  use: (session: http2.ClientHttp2Session) => Promise<T>,
  options: http2.ClientSessionOptions = {},
): Promise<T> {
  const session = http2.connect(`http://127.0.0.1:${port}`, options);
  try {
    return await use(session);
  } finally {
    session.close();
  }
}

/**
 * A connection whose first write (the client preface) goes out as two TCP
 * segments, the second only after the first has been flushed, so the server
 * sees a preface prefix on its own.
 */
function splitPrefaceConnection(splitAt: number): { connection: Duplex; firstWrites: number[] } {
  const socket = net.connect(port, "127.0.0.1");
  socket.setNoDelay(true);
  const firstWrites: number[] = [];
  let split = false;
  const connection = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      if (split) return socket.write(chunk, callback);
      split = true;
      firstWrites.push(splitAt, chunk.length - splitAt);
      socket.write(chunk.subarray(0, splitAt), () => {
        setTimeout(() => socket.write(chunk.subarray(splitAt), callback), 10);
      });
    },
    read() {
      socket.resume();
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy(error ?? undefined);
      callback(error);
    },
  });
  socket.on("data", (chunk: Buffer) => {
    if (!connection.push(chunk)) socket.pause();
  });
  socket.on("end", () => connection.push(null));
  socket.on("error", (error) => connection.destroy(error));
  return { connection, firstWrites };
}

describe("one port for HTTP/1.1 and cleartext HTTP/2", () => {
  it("answers an HTTP/1.1 request", async () => {
    expect(await getHttp1("/one")).toBe("1.1 /one");
  });

  it("answers an HTTP/2 prior-knowledge request", async () => {
    expect(await withHttp2((session) => getHttp2(session, "/two"))).toBe("2.0 /two");
  });

  it("serves both protocols concurrently", async () => {
    const results = await withHttp2((session) =>
      Promise.all([
        ...Array.from({ length: 5 }, (_, i) => getHttp1(`/h1/${i}`)),
        ...Array.from({ length: 5 }, (_, i) => getHttp2(session, `/h2/${i}`)),
      ]),
    );
    expect(results).toEqual([
      ...Array.from({ length: 5 }, (_, i) => `1.1 /h1/${i}`),
      ...Array.from({ length: 5 }, (_, i) => `2.0 /h2/${i}`),
    ]);
  });

  it("recognises a preface that arrives in two small TCP writes", async () => {
    const { connection, firstWrites } = splitPrefaceConnection(5);
    const body = await withHttp2((session) => getHttp2(session, "/split"), {
      createConnection: () => connection,
    });
    expect(body).toBe("2.0 /split");
    expect(firstWrites[0]).toBe(5);
  });

  it("treats a request that only shares the preface's first letter as HTTP/1.1", async () => {
    // "PRI" is not an HTTP/1.1 method Node accepts, but "P" starts PUT, POST and PATCH.
    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, path: "/put", method: "PUT", agent: false }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve(text));
      });
      req.on("error", reject);
      req.end("payload");
    });
    expect(body).toBe("1.1 /put");
  });
});

describe("classifyFirstBytes", () => {
  it("waits while the bytes so far are a prefix of the preface", () => {
    expect(classifyFirstBytes(PREFACE.subarray(0, 1))).toBe("undecided");
    expect(classifyFirstBytes(PREFACE.subarray(0, PREFACE.length - 1))).toBe("undecided");
  });

  it("decides on the full preface, with or without frames behind it", () => {
    expect(classifyFirstBytes(PREFACE)).toBe("http2");
    expect(classifyFirstBytes(Buffer.concat([PREFACE, Buffer.alloc(9)]))).toBe("http2");
  });

  it("decides HTTP/1.1 at the first byte that differs", () => {
    expect(classifyFirstBytes(Buffer.from("PU"))).toBe("http1");
    expect(classifyFirstBytes(Buffer.from("GET / HTTP/1.1\r\n"))).toBe("http1");
  });
});

describe("close", () => {
  it("stops accepting, closes idle connections and resolves", async () => {
    const own = createDualProtocolListener((_req, res) => res.end("ok"), { drainMs: 2000 });
    const { port: ownPort } = await own.listen(0, "127.0.0.1");
    const agent = new http.Agent({ keepAlive: true });
    const h2 = http2.connect(`http://127.0.0.1:${ownPort}`);
    await new Promise<void>((resolve, reject) =>
      http.get({ host: "127.0.0.1", port: ownPort, agent }, (res) => res.resume().on("end", resolve)).on("error", reject),
    );
    await new Promise<void>((resolve, reject) => {
      const stream = h2.request({ ":path": "/" });
      stream.on("error", reject).on("end", resolve).resume().end();
    });
    const h2Closed = new Promise<void>((resolve) => h2.once("close", resolve));

    const started = Date.now();
    await own.close();
    // Idle keep-alive and HTTP/2 connections are closed at once, not after the drain.
    expect(Date.now() - started).toBeLessThan(1000);
    await h2Closed;
    await expect(
      new Promise((resolve, reject) => net.connect(ownPort, "127.0.0.1").on("connect", resolve).on("error", reject)),
    ).rejects.toMatchObject({ code: "ECONNREFUSED" });
    agent.destroy();
  });

  it("lets an in-flight HTTP/1.1 request finish, then closes its keep-alive connection", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const inHandler = new Promise<void>((resolve) => (arrived = resolve));
    const own = createDualProtocolListener(
      (_req, res) => {
        arrived();
        void released.then(() => res.end("finished"));
      },
      { drainMs: 5000 },
    );
    const { port: ownPort } = await own.listen(0, "127.0.0.1");
    const agent = new http.Agent({ keepAlive: true });
    const response = new Promise<{ body: string; connection: string | undefined }>((resolve, reject) =>
      http
        .get({ host: "127.0.0.1", port: ownPort, agent }, (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (body += chunk));
          res.on("end", () => resolve({ body, connection: res.headers.connection }));
        })
        .on("error", reject),
    );
    await inHandler;

    const started = Date.now();
    const closed = own.close();
    release();
    expect(await response).toEqual({ body: "finished", connection: "close" });
    await closed;
    expect(Date.now() - started).toBeLessThan(1000);
    agent.destroy();
  });
});
