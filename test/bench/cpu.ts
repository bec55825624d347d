/**
 * CPU accounting per load, from /proc: what the server spent per answer
 * (steadier than requests per second on a shared machine), and how much of
 * the machine other processes took meanwhile (the noise in that window).
 */
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";

/** Clock ticks per second of /proc times (USER_HZ; 100 on Linux). */
const TICKS_PER_SECOND = 100;

async function processCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}

async function machineBusyMs(): Promise<number> {
  const stat = await readFile("/proc/stat", "utf8");
  const values = stat.split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
  return ((total - idle) * 1000) / TICKS_PER_SECOND;
}

export interface CpuWindow {
  /** Server CPU time over the window, ms. */
  serverMs: number;
  /** This (load generator) process's CPU time, ms. */
  benchMs: number;
  /** Share of all cores used by other processes, 0..1. */
  othersShare: number;
  wallMs: number;
}

export async function cpuWindow(serverPid: number): Promise<() => Promise<CpuWindow>> {
  const start = { server: await processCpuMs(serverPid), bench: process.cpuUsage(), machine: await machineBusyMs(), wall: performance.now() };
  return async () => {
    const serverMs = (await processCpuMs(serverPid)) - start.server;
    const bench = process.cpuUsage(start.bench);
    const benchMs = (bench.user + bench.system) / 1000;
    const machineMs = (await machineBusyMs()) - start.machine;
    const wallMs = performance.now() - start.wall;
    const othersShare = Math.max(0, (machineMs - serverMs - benchMs) / (wallMs * availableParallelism()));
    return { serverMs, benchMs, othersShare, wallMs };
  };
}
