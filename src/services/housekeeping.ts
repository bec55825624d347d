/**
 * Periodic clean-up, run by the Worker's cron trigger and by a timer on Node.
 * Every step is idempotent, so overlapping runs on several instances are
 * harmless.
 */
import type { Clock } from "../domain/ports.js";
import type { Logger } from "../domain/logger.js";
import type { Database } from "../store/database.js";
import type { Outbox } from "./delivery/outbox.js";
import { deleteEndedSessions, forgetSealedSuccessors } from "../store/queries/sessions.js";

/** Ended sessions stay listable (and explain audit rows) for this long. */
const KEEP_ENDED_SESSIONS_MS = 30 * 24 * 3600 * 1000;
/** Longer than any grace window a profile may set. */
const KEEP_SEALED_SUCCESSOR_MS = 10 * 60 * 1000;

export interface HousekeepingReport {
  sessionsDeleted: number;
  successorsForgotten: number;
  /** Outbox messages retried (sent now). */
  messagesSent: number;
}

export function createHousekeeping(deps: { database: Database; clock: Clock; logger: Logger; outbox: Outbox }) {
  const { database, clock, logger, outbox } = deps;
  return async function housekeeping(): Promise<HousekeepingReport> {
    const now = clock.now();
    const [sessions, successors] = await database.batch([
      deleteEndedSessions(database.db, now - KEEP_ENDED_SESSIONS_MS),
      forgetSealedSuccessors(database.db, now - KEEP_SEALED_SUCCESSOR_MS),
    ]);
    const delivery = await outbox.flush({ limit: 50 });
    const report = { sessionsDeleted: sessions.length, successorsForgotten: successors.length, messagesSent: delivery.sent };
    logger.info("housekeeping", { sessions_deleted: report.sessionsDeleted, successors_forgotten: report.successorsForgotten, messages_sent: report.messagesSent });
    return report;
  };
}
