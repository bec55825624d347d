import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { expect, it } from "vitest";

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

it("gen/ is what buf generate makes from proto/", () => {
  const out = mkdtempSync(join(tmpdir(), "latchkey-gen-"));
  try {
    execFileSync("node_modules/.bin/buf", ["generate", "--output", out], { stdio: "pipe" });
    const fresh = join(out, "gen");
    const expected = files(fresh).map((f) => relative(fresh, f)).sort();
    const committed = files("gen").map((f) => relative("gen", f)).sort();
    expect(committed).toEqual(expected);
    for (const file of expected) {
      expect(readFileSync(join("gen", file), "utf8"), `gen/${file} is stale: run npm run generate`).toBe(readFileSync(join(fresh, file), "utf8"));
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

it("the protos pass buf lint", () => {
  execFileSync("node_modules/.bin/buf", ["lint"], { stdio: "pipe" });
});
