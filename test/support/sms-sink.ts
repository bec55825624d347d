/**
 * An SMS gateway for tests: an HTTP server on a free port that records every
 * POSTed `{"to","text"}` body and answers with a status the test chooses.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createWaitList, type WaitList } from "./smtp-sink.js";

export interface SmsSinkMessage {
  to: string;
  text: string;
  /** The request's content-type header. */
  contentType: string;
}

export interface SmsSink extends WaitList<SmsSinkMessage> {
  readonly url: string;
  /** The status of every following answer; a non-2xx status still records the message. */
  respondWith(status: number): void;
  stop(): Promise<void>;
}

export async function startSmsSink(): Promise<SmsSink> {
  const list = createWaitList<SmsSinkMessage>();
  let status = 204;
  const server = createServer((req, res) => {
    if (req.method !== "POST") {
      res.writeHead(405).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { to?: unknown; text?: unknown };
        if (typeof body.to !== "string" || typeof body.text !== "string") throw new Error("expected {to, text}");
        list.add({ to: body.to, text: body.text, contentType: req.headers["content-type"] ?? "" });
        res.writeHead(status).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    messages: list.messages,
    waitFor: list.waitFor,
    url: `http://127.0.0.1:${port}/sms`,
    respondWith(next) {
      status = next;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      list.close(new Error("sms sink stopped"));
    },
  };
}
