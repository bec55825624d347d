/** The results table printed at the end of a run. */

export interface Row {
  figure: string;
  value: string;
  target?: string;
  ratio?: string;
  /** undefined: informational, no target. */
  met?: boolean;
  /** Server CPU time per answer. */
  cpu?: string;
  /** Share of the machine other processes used meanwhile. */
  others?: string;
}

export const fmt = {
  rps: (n: number) => (Number.isFinite(n) ? `${Math.round(n).toLocaleString("en-US")}/s` : "n/a"),
  ms: (n: number) => (Number.isFinite(n) ? (n < 10 ? `${n.toFixed(2)} ms` : `${n.toFixed(1)} ms`) : "n/a"),
  ratio: (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : "n/a"),
  mib: (kib: number) => `${(kib / 1024).toFixed(1)} MiB`,
  us: (n: number) => (Number.isFinite(n) ? `${Math.round(n).toLocaleString("en-US")} µs` : "n/a"),
  pct: (share: number) => `${Math.round(share * 100)} %`,
};

export function renderTable(rows: Row[]): string {
  const headers = ["figure", "value", "target", "ratio", "verdict", "server CPU/answer", "others' CPU"];
  const cells = rows.map((row) => [
    row.figure,
    row.value,
    row.target ?? "",
    row.ratio ?? "",
    row.met === undefined ? "" : row.met ? "met" : "MISSED",
    row.cpu ?? "",
    row.others ?? "",
  ]);
  const widths = headers.map((header, i) => Math.max(header.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) => values.map((value, i) => (i === 0 ? value.padEnd(widths[i]!) : value.padStart(widths[i]!))).join("  ");
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}
