/**
 * LicenseService.CheckLicense: a device asks for a feature. One indexed join
 * finds the licences its seats hold that entitle now; when one grants the
 * feature, the answer carries a certificate naming every entitled feature.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { CheckLicenseResponseSchema, type CheckLicenseResponse } from "../../../gen/latchkey/license/v1/license_service_pb.js";
import { BoundedCache } from "../../domain/bounded-cache.js";
import { certificateTimes, signLicenseCertificate } from "../../domain/licensing/certificate.js";
import { findEntitlingLicenses, type EntitlingLicense } from "../../store/queries/devices.js";
import { licenceViewsByIds, type LicenseView } from "../../store/queries/licensing.js";
import { deviceOf } from "../caller.js";
import { frozenAnswer } from "../frozen-answer.js";
import type { ServiceDeps } from "../deps.js";
import type { LicenseHandlers } from "./index.js";
import { toProtoLicense } from "./to-proto.js";

const SECOND = 1000;
/**
 * A certificate is reused for this long while the device's entitling
 * licences (ids and last change) and the signing key stay the same: a busy
 * device then costs no signature per check. Any change to the licences, a
 * revocation included, gives a new certificate at once.
 */
const REUSE_MS = 60_000;
const REMEMBERED = 10_000;
/**
 * Licence views (agreement, organisation names, catalogue items) are reused
 * for this long while the licence row is unchanged: agreements are frozen
 * once published and a licence's items never change, so at most an
 * organisation's new name shows this much later.
 */
const VIEW_REUSE_MS = 10_000;

interface Issued {
  certificate: string;
  expiresAt: number;
  graceUntil: number;
}

/** An answer given, with what it was made of: reused while both are the very same. */
interface Answered {
  answer: CheckLicenseResponse;
  certificate: Issued;
  shown: readonly LicenseView[];
}

export function createCheckLicenseHandlers(deps: ServiceDeps): LicenseHandlers<"checkLicense"> {
  const { database, clock, keyRing, config } = deps;
  const issued = new BoundedCache<string, Issued>({ maxEntries: REMEMBERED, maxAgeMs: REUSE_MS, clock });
  const views = new BoundedCache<string, LicenseView>({ maxEntries: REMEMBERED, maxAgeMs: VIEW_REUSE_MS, clock });
  // The certificate and the views come from the caches above, which answer
  // the same objects while nothing changed: the same pair makes the same
  // answer, handed out frozen so that its bytes are made once.
  const answers = new BoundedCache<string, Answered>({ maxEntries: REMEMBERED, maxAgeMs: REUSE_MS, clock });

  async function viewsOf(rows: readonly EntitlingLicense[], now: number): Promise<LicenseView[]> {
    const keyOf = (row: EntitlingLicense) => `${row.id}@${row.updatedAt}`;
    const shown = rows.map((row) => views.get(keyOf(row)));
    const missing = rows.filter((_, i) => !shown[i]);
    if (missing.length === 0) return shown as LicenseView[];
    // A view read now may be of a later change than the row's: the next
    // check then sees that change and reads the view again.
    const read = new Map((await licenceViewsByIds(database.db, missing.map((row) => row.id))).map((view) => [view.license.id, view]));
    return rows.flatMap((row, i) => {
      const view = shown[i] ?? read.get(row.id);
      if (!view) return [];
      if (!shown[i]) views.set(keyOf(row), view, now);
      return [view];
    });
  }

  async function certificateFor(deviceId: string, organisationId: string, entitling: readonly EntitlingLicense[], features: string[], now: number): Promise<Issued> {
    const key = await keyRing.signingKey();
    const cacheKey = `${key.kid}|${deviceId}|${organisationId}|${entitling.map((l) => `${l.id}@${l.updatedAt}`).join(",")}`;
    const hit = issued.get(cacheKey);
    if (hit && hit.expiresAt > now) return hit;
    const { expiresAt, graceUntil } = certificateTimes(
      now,
      entitling.map((l) => l.expiresAt),
    );
    const certificate = await signLicenseCertificate(key, {
      iss: config.issuer,
      aud: config.issuer,
      sub: deviceId,
      org: organisationId,
      features,
      licenses: entitling.map((l) => l.id),
      iat: Math.floor(now / SECOND),
      nbf: Math.floor(now / SECOND),
      exp: Math.floor(expiresAt / SECOND),
      grace_until: Math.floor(graceUntil / SECOND),
    });
    const fresh = { certificate, expiresAt: Math.floor(expiresAt / SECOND) * SECOND, graceUntil: Math.floor(graceUntil / SECOND) * SECOND };
    issued.set(cacheKey, fresh, now);
    return fresh;
  }

  return {
    async checkLicense(req, ctx) {
      const device = deviceOf(ctx);
      const now = clock.now();
      const entitling = await findEntitlingLicenses(database.db, device.deviceId, device.organisationId, now);
      const featuresOf = new Map(entitling.map((l) => [l.id, JSON.parse(l.features) as string[]]));
      const granting = entitling.filter((l) => featuresOf.get(l.id)!.includes(req.feature));
      if (granting.length === 0) return { entitled: false };
      const features = [...new Set([...featuresOf.values()].flat())].sort();
      const [certificate, shown] = await Promise.all([certificateFor(device.deviceId, device.organisationId, entitling, features, now), viewsOf(granting, now)]);
      const answerKey = `${device.deviceId}|${device.organisationId}|${req.feature}`;
      const previous = answers.get(answerKey);
      if (previous && previous.certificate === certificate && previous.shown.length === shown.length && previous.shown.every((view, i) => view === shown[i])) return previous.answer;
      const answer = frozenAnswer(
        create(CheckLicenseResponseSchema, {
          entitled: true,
          licenses: shown.map(toProtoLicense),
          certificate: certificate.certificate,
          certificateExpiresAt: timestampFromMs(certificate.expiresAt),
          graceUntil: timestampFromMs(certificate.graceUntil),
        }),
      );
      answers.set(answerKey, { answer, certificate, shown }, now);
      return answer;
    },
  };
}
