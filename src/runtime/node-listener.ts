/**
 * One TCP port for HTTP/1.1 and cleartext HTTP/2 (prior knowledge).
 *
 * Node's cleartext `http2.createServer({ allowHTTP1 })` ignores allowHTTP1
 * (it only works with TLS, where ALPN picks the protocol), so gRPC over h2c and
 * HTTP/1.1 clients (gRPC-Web, Connect, plain routes) could not share a port.
 * This listener reads the first bytes of every connection and hands it to an
 * http2 server when they are the HTTP/2 connection preface, and to an http
 * server otherwise. Both servers call the same request listener.
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

export type NodeRequestListener = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface DualProtocolListenerOptions {
  /** How long close() lets in-flight requests finish before destroying sockets. */
  drainMs?: number;
  /** A connection that has not sent enough bytes to be classified by then is dropped. */
  sniffTimeoutMs?: number;
  http1?: http.ServerOptions;
  http2?: http2.ServerOptions;
}

export interface DualProtocolListener {
  listen(port: number, host?: string): Promise<{ port: number }>;
  /**
   * Stops accepting connections, asks HTTP/2 clients to go away (GOAWAY) and
   * HTTP/1.1 clients to close after their current response, then destroys
   * whatever is still open once the drain time is over.
   */
  close(): Promise<void>;
}

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

type Verdict = "http2" | "http1" | "undecided";

/** Compares as many bytes as have arrived, so a preface split over TCP writes still counts. */
export function classifyFirstBytes(bytes: Uint8Array): Verdict {
  const length = Math.min(bytes.length, PREFACE.length);
  for (let i = 0; i < length; i++) {
    if (bytes[i] !== PREFACE[i]) return "http1";
  }
  return length === PREFACE.length ? "http2" : "undecided";
}

export function createDualProtocolListener(
  listener: NodeRequestListener,
  options: DualProtocolListenerOptions = {},
): DualProtocolListener {
  const drainMs = options.drainMs ?? 5000;
  const sniffTimeoutMs = options.sniffTimeoutMs ?? 10_000;
  let closing = false;

  const sockets = new Set<net.Socket>();
  const sniffing = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();

  const h1Responses = new Set<http.ServerResponse>();
  // While draining, keep-alive would let a client hold its connection open
  // until the drain deadline; ask it to reconnect elsewhere instead.
  const closeAfter = (res: http.ServerResponse) => {
    if (!res.headersSent) res.setHeader("connection", "close");
    // Too late for the header: close the connection once it is idle again.
    else res.once("finish", () => setImmediate(() => h1.closeIdleConnections()));
  };
  const h1 = http.createServer(options.http1 ?? {}, (req, res) => {
    h1Responses.add(res);
    res.once("close", () => h1Responses.delete(res));
    if (closing) closeAfter(res);
    listener(req, res);
  });
  // An http.Server starts tracking its connections (request and headers
  // timeouts, closeIdleConnections) on 'listening'. This one never listens on
  // its own socket, so start the tracking by hand.
  h1.emit("listening");
  const h2 = http2.createServer(options.http2 ?? {}, listener);
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    if (closing) session.close();
  });
  // A protocol error of one client must not become an unhandled 'error' event.
  h2.on("sessionError", () => {});

  const dispatch = (socket: net.Socket, verdict: "http1" | "http2", firstBytes: Buffer) => {
    // Paused so nothing flows between here and the server taking over; the
    // bytes already read go back in front of the stream for it to parse.
    socket.pause();
    socket.unshift(firstBytes);
    if (verdict === "http2") {
      // The http2 session drains the socket's read buffer itself when it is
      // created; resuming here would emit the preface to no one.
      h2.emit("connection", socket);
    } else {
      h1.emit("connection", socket);
      // The http server reads the unshifted request through 'data' events,
      // which a paused socket does not emit.
      socket.resume();
    }
  };

  const sniff = (socket: net.Socket) => {
    sniffing.add(socket);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), sniffTimeoutMs);
    timer.unref();
    const done = () => {
      clearTimeout(timer);
      sniffing.delete(socket);
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("end", onEnd);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      const buffered = chunks.length === 1 ? chunk : Buffer.concat(chunks);
      const verdict = classifyFirstBytes(buffered);
      if (verdict === "undecided") return;
      done();
      dispatch(socket, verdict, buffered);
    };
    const onError = () => {
      done();
      socket.destroy();
    };
    const onEnd = () => {
      done();
      socket.destroy();
    };
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("end", onEnd);
  };

  const server = net.createServer({ noDelay: true }, (socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    sniff(socket);
  });

  let closed: Promise<void> | undefined;

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        server.once("error", onError);
        server.listen(port, host, () => {
          server.off("error", onError);
          resolve({ port: (server.address() as net.AddressInfo).port });
        });
      });
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        let finished = false;
        let serverClosed = false;
        const finish = () => {
          if (finished || !serverClosed || sockets.size > 0) return;
          finished = true;
          clearTimeout(deadline);
          resolve();
        };
        const deadline = setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, drainMs);
        deadline.unref();
        server.close(() => {
          serverClosed = true;
          finish();
        });
        for (const socket of sockets) socket.once("close", () => setImmediate(finish));
        for (const socket of sniffing) socket.destroy();
        for (const session of sessions) session.close();
        for (const res of h1Responses) closeAfter(res);
        // Not listening, so this only closes idle keep-alive connections and
        // stops the timeout checks started above.
        h1.close();
      });
      return closed;
    },
  };
}
