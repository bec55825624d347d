/**
 * LicenseService.CheckLicense: a device asks for a feature. One indexed join
 * finds the licences its seats hold that entitle now; when one grants the
 * feature, the answer carries a certificate naming every entitled feature.
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { BoundedCache } from "../../domain/bounded-cache.js";
import { certificateTimes, signLicenseCertificate } from "../../domain/licensing/certificate.js";
import { findEntitlingLicenses } from "../../store/queries/devices.js";
import { licenceViews, type LicenseRow, type LicenseView } from "../../store/queries/licensing.js";
import { deviceOf } from "../caller.js";
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

export function createCheckLicenseHandlers(deps: ServiceDeps): LicenseHandlers<"checkLicense"> {
  const { database, clock, keyRing, config } = deps;
  const issued = new BoundedCache<string, Issued>({ maxEntries: REMEMBERED, maxAgeMs: REUSE_MS, clock });
  const views = new BoundedCache<string, LicenseView>({ maxEntries: REMEMBERED, maxAgeMs: VIEW_REUSE_MS, clock });

  async function viewsOf(rows: readonly LicenseRow[], now: number): Promise<LicenseView[]> {
    const keyOf = (row: LicenseRow) => `${row.id}@${row.updatedAt}`;
    const shown = rows.map((row) => views.get(keyOf(row)));
    const missing = rows.filter((_, i) => !shown[i]);
    // licenceViews answers in the order it was asked.
    const read = (await licenceViews(database.db, missing)).values();
    return rows.map((row, i) => {
      const hit = shown[i];
      if (hit) return hit;
      const view = read.next().value!;
      views.set(keyOf(row), view, now);
      return view;
    });
  }

  async function certificateFor(deviceId: string, organisationId: string, entitling: readonly LicenseRow[], features: string[], now: number): Promise<Issued> {
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
      return {
        entitled: true,
        licenses: shown.map(toProtoLicense),
        certificate: certificate.certificate,
        certificateExpiresAt: timestampFromMs(certificate.expiresAt),
        graceUntil: timestampFromMs(certificate.graceUntil),
      };
    },
  };
}
