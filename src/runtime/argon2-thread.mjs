// One argon2id worker thread (plain JavaScript, so it starts the same under
// tsx, vitest and the built server). It lowers its own scheduling priority
// first: on Linux a thread has its own nice value, so when the cores are
// contended the event loop's thread gets the larger share (about 3:1 at
// nice 5) and authenticated calls wait less behind sign-ins.
//
// Not nice 19: at that weight (about 70:1) a busy event loop starves the
// hashes outright, and sign-ins and registrations run out of their deadlines
// (500 parallel registrations fail at nice 10 and 19 on a 2-core machine).
const NICE = 5;
import { hashSync, verifySync } from "@node-rs/argon2";
import { setPriority } from "node:os";
import { parentPort } from "node:worker_threads";

try {
  setPriority(0, NICE);
} catch {
  // Not permitted here (some sandboxes): hash at normal priority.
}

parentPort.on("message", (task) => {
  try {
    const value = task.op === "hash" ? hashSync(task.password, task.options) : verifySync(task.phc, task.password);
    parentPort.postMessage({ id: task.id, value });
  } catch (error) {
    parentPort.postMessage({ id: task.id, error: error instanceof Error ? error.message : String(error) });
  }
});
