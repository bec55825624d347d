/**
 * Periodic clean-up, run by the Worker's cron trigger and by a timer on Node.
 * Every step is idempotent, so overlapping runs on several instances are
 * harmless.
 */
import type { Clock } from "../domain/ports.js";
import type { Logger } from "../domain/logger.js";
import type { Database } from "../store/database.js";
import type { Outbox } from "./delivery/outbox.js";
import { DEVICE_SESSIONS, deleteEndedSessions, forgetSealedSuccessors } from "../store/queries/sessions.js";
import { deleteExpiredMfaChallenges } from "../store/queries/second-factors.js";
import { deleteStaleThrottles } from "../store/queries/throttles.js";
import { deleteExpiredDeviceAuthorizations } from "../store/queries/device-authorizations.js";
import { deleteDeadExternalLoginStates } from "../store/queries/external-logins.js";

/** Ended sessions stay listable (and explain audit rows) for this long. */
const KEEP_ENDED_SESSIONS_MS = 30 * 24 * 3600 * 1000;
/** Longer than any grace window a profile may set. */
const KEEP_SEALED_SUCCESSOR_MS = 10 * 60 * 1000;
/** Expired MFA challenges are of no use to anyone; an hour covers any clock skew between instances. */
const KEEP_EXPIRED_CHALLENGES_MS = 60 * 60 * 1000;
/** Longer than any throttle window (a profile's lockout window is at most a day) and the day strikes are remembered. */
const KEEP_QUIET_THROTTLES_MS = 2 * 24 * 3600 * 1000;
/** Expired device authorizations answer EXPIRED for a day, then are forgotten (and their user codes with them). */
const KEEP_EXPIRED_DEVICE_AUTHORIZATIONS_MS = 24 * 3600 * 1000;

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
    const [sessions, successors, challenges, throttles, deviceAuthorizations, deviceSessions, deviceSuccessors, externalStates] = await database.batch([
      deleteEndedSessions(database.db, now - KEEP_ENDED_SESSIONS_MS),
      forgetSealedSuccessors(database.db, now - KEEP_SEALED_SUCCESSOR_MS),
      deleteExpiredMfaChallenges(database.db, now - KEEP_EXPIRED_CHALLENGES_MS),
      deleteStaleThrottles(database.db, now, KEEP_QUIET_THROTTLES_MS),
      deleteExpiredDeviceAuthorizations(database.db, now - KEEP_EXPIRED_DEVICE_AUTHORIZATIONS_MS),
      deleteEndedSessions(database.db, now - KEEP_ENDED_SESSIONS_MS, DEVICE_SESSIONS),
      forgetSealedSuccessors(database.db, now - KEEP_SEALED_SUCCESSOR_MS, DEVICE_SESSIONS),
      deleteDeadExternalLoginStates(database.db, now),
    ]);
    const delivery = await outbox.flush({ limit: 50 });
    const report = { sessionsDeleted: sessions.length + deviceSessions.length, successorsForgotten: successors.length + deviceSuccessors.length, messagesSent: delivery.sent };
    logger.info("housekeeping", { sessions_deleted: report.sessionsDeleted, successors_forgotten: report.successorsForgotten, messages_sent: report.messagesSent, mfa_challenges_deleted: challenges.length, throttles_deleted: throttles.length, device_authorizations_deleted: deviceAuthorizations.length, external_login_states_deleted: externalStates.length });
    return report;
  };
}
