/**
 * A real SMTP server in its own process, started by smtp-sink.ts. Talks to
 * the parent through stdout, one JSON object per line:
 *   {"type":"listening","port":N}
 *   {"type":"message","message":{to, from, subject, text, envelopeTo}}
 * Each message line is written before the server answers DATA with 250, so a
 * client that saw its send succeed knows the line is already on its way.
 * Optional argument: the port to listen on (default 0, any free port), so a
 * stopped sink can come back at the same address.
 */
import { simpleParser, type AddressObject } from "mailparser";
import { SMTPServer } from "smtp-server";

const port = Number(process.argv[2] ?? "0");

function emit(line: unknown): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** `Name <address>` or `address`, comma-separated, without the quoting of the raw header. */
function addresses(value: AddressObject | AddressObject[] | undefined): string {
  if (value === undefined) return "";
  return (Array.isArray(value) ? value : [value])
    .flatMap((header) => header.value)
    .map((a) => (a.name ? `${a.name} <${a.address ?? ""}>` : (a.address ?? "")))
    .join(", ");
}

const server = new SMTPServer({
  logger: false,
  authOptional: true,
  // Plain SMTP on loopback; the client must not try to upgrade.
  disabledCommands: ["STARTTLS", "AUTH"],
  size: 1024 * 1024,
  onData(stream, session, callback) {
    simpleParser(stream).then(
      (parsed) => {
        emit({
          type: "message",
          message: {
            to: addresses(parsed.to),
            from: addresses(parsed.from),
            subject: parsed.subject ?? "",
            text: parsed.text ?? "",
            envelopeTo: session.envelope.rcptTo.map((r) => r.address),
          },
        });
        callback();
      },
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
    );
  },
});

server.on("error", (error) => {
  process.stderr.write(`smtp sink: ${String(error)}\n`);
  process.exit(1);
});

server.listen(port, "127.0.0.1", () => {
  const address = server.server.address();
  emit({ type: "listening", port: typeof address === "object" && address !== null ? address.port : port });
});

// The parent holds our stdin; when it goes away (stop() or a crashed test
// run) the sink goes too instead of lingering.
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
