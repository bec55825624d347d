/**
 * A small Connect JSON client over keep-alive HTTP/1.1 connections (node:http),
 * for setting up the benchmark and for drivers whose request bodies change
 * from one call to the next.
 */
import { Agent, request } from "node:http";

export interface RpcAnswer {
  status: number;
  body: Record<string, unknown>;
}

export function createRpcClient(baseUrl: string, maxSockets: number) {
  const agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  const { hostname, port } = new URL(baseUrl);

  /**
   * One call. Kept-alive connections the server closed while they were idle
   * (its keep-alive timeout passed during a long setup step) fail on reuse
   * before the request was read; the call then goes out again, on the next
   * idle connection or a new one. Each stale connection fails only once.
   */
  async function call(path: string, message: unknown, headers: Record<string, string> = {}): Promise<RpcAnswer> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await send(path, message, headers);
      } catch (error) {
        const stale = (error as { reusedSocket?: boolean }).reusedSocket && (error as NodeJS.ErrnoException).code === "ECONNRESET";
        if (!stale || attempt >= maxSockets) throw error;
      }
    }
  }

  function send(path: string, message: unknown, headers: Record<string, string>): Promise<RpcAnswer> {
    const payload = Buffer.from(JSON.stringify(message));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent,
          hostname,
          port,
          method: "POST",
          path: `/${path}`,
          headers: { "content-type": "application/json", "content-length": String(payload.length), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let body: Record<string, unknown> = {};
            try {
              body = text === "" ? {} : (JSON.parse(text) as Record<string, unknown>);
            } catch {
              body = { raw: text };
            }
            resolve({ status: res.statusCode ?? 0, body });
          });
        },
      );
      req.on("error", (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
      req.end(payload);
    });
  }

  return {
    call,
    /** Like call, but throws unless the answer is 200. */
    async ok(path: string, message: unknown, headers?: Record<string, string>): Promise<Record<string, unknown>> {
      const answer = await call(path, message, headers);
      if (answer.status !== 200) throw new Error(`${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      return answer.body;
    },
    close: () => agent.destroy(),
  };
}

export type RpcClient = ReturnType<typeof createRpcClient>;

export const METHODS = {
  signIn: "latchkey.auth.v1.AuthService/SignIn",
  refreshToken: "latchkey.auth.v1.AuthService/RefreshToken",
  validateToken: "latchkey.auth.v1.AuthService/ValidateToken",
  createUser: "latchkey.user.v1.UserService/CreateUser",
  listUsers: "latchkey.user.v1.UserService/ListUsers",
  createOrganisation: "latchkey.organisation.v1.OrganisationService/CreateOrganisation",
} as const;

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
}

export function tokensOf(body: Record<string, unknown>): TokenPair {
  const tokens = body.tokens as Partial<TokenPair> | undefined;
  if (!tokens?.accessToken || !tokens.refreshToken) throw new Error(`no token pair in ${JSON.stringify(body)}`);
  return { accessToken: tokens.accessToken, refreshToken: tokens.refreshToken };
}
