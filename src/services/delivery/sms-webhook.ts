/**
 * SMS through an operator-run gateway: each message is POSTed as JSON
 * `{"to","text"}` to SMS_WEBHOOK_URL. Only `fetch` is used, so the same
 * transport serves Node and Workers.
 */
import type { SmsTransport } from "../../domain/delivery.js";

const TIMEOUT_MS = 5_000;

export function createSmsWebhookTransport(url: string, fetchFn: typeof fetch = fetch): SmsTransport {
  return {
    async send(message) {
      let response: Response;
      try {
        response = await fetchFn(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ to: message.to, text: message.text }),
          // A redirect would hand the text, codes included, to another host.
          redirect: "manual",
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
      } catch (error) {
        // Errors name neither the URL (it may carry a token) nor the text.
        if (error instanceof Error && error.name === "TimeoutError") {
          throw new Error(`SMS webhook did not answer within ${TIMEOUT_MS} ms`);
        }
        throw new Error(`SMS webhook unreachable: ${causeOf(error)}`);
      }
      // The answer's body is not needed; cancelling it frees the connection.
      await response.body?.cancel().catch(() => undefined);
      if (response.status < 200 || response.status > 299) {
        throw new Error(`SMS webhook answered HTTP ${response.status}`);
      }
    },
  };
}

function causeOf(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === "string") return cause.code;
  return error instanceof Error ? error.name : "unknown error";
}
