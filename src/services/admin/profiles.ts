/**
 * Security profiles: list, get, create, update (with a field mask) and
 * assign to an organisation. The rules of the values live in
 * src/domain/security-profiles.ts.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { SecurityProfileSchema, type SecurityProfile } from "../../../gen/latchkey/admin/v1/security_profile_pb.js";
import { DomainError, Reason, invalidField, notFound, alreadyExists } from "../../domain/errors.js";
import { applyProfileUpdate, checkProfileName, settingsForNewProfile, settingsOf } from "../../domain/security-profiles.js";
import { insertAuditEvent, insertAuditEventIf } from "../../store/queries/audit-events.js";
import { organisationExists } from "../../store/queries/organisations.js";
import {
  DEFAULT_PROFILE_ID,
  assignOrganisationProfile,
  findSecurityProfile,
  findSecurityProfileByName,
  insertSecurityProfile,
  isProfileNameTaken,
  listSecurityProfiles,
  profileUnchangedSince,
  requireDefaultProfile,
  updateSecurityProfile,
  type SecurityProfileRow,
} from "../../store/queries/security-profiles.js";
import type { ServiceDeps } from "../deps.js";
import type { AdminHandlers } from "./index.js";
import { adminEvent } from "./audit.js";

export function toProtoProfile(row: SecurityProfileRow): SecurityProfile {
  return create(SecurityProfileSchema, {
    ...settingsOf(row),
    id: row.id,
    name: row.name,
    createdAt: timestampFromMs(row.createdAt),
    updatedAt: timestampFromMs(row.updatedAt),
  });
}

/** Tries of an update that keeps meeting concurrent changes. */
const MAX_UPDATE_ATTEMPTS = 3;

function nameTaken(): DomainError {
  return alreadyExists("profile.name", "is already the name of another profile");
}

export function createProfileHandlers(deps: ServiceDeps): AdminHandlers<"listSecurityProfiles" | "getSecurityProfile" | "createSecurityProfile" | "updateSecurityProfile" | "assignSecurityProfile"> {
  const { database, clock, random } = deps;
  const db = database.db;

  return {
    async listSecurityProfiles() {
      return { profiles: (await listSecurityProfiles(db)).map(toProtoProfile) };
    },

    async getSecurityProfile(req) {
      if (req.profile.case === undefined || req.profile.value === "") throw invalidField("profile", "name the profile by id or by name");
      const row = req.profile.case === "id" ? await findSecurityProfile(db, req.profile.value) : await findSecurityProfileByName(db, req.profile.value);
      if (!row) throw notFound("security profile");
      return { profile: toProtoProfile(row) };
    },

    async createSecurityProfile(req, ctx) {
      const requested = req.profile!;
      checkProfileName(requested.name);
      const settings = settingsForNewProfile(settingsOf(requested), settingsOf(await requireDefaultProfile(db)));
      const now = clock.now();
      const row: SecurityProfileRow = { ...settings, id: random.uuid(), name: requested.name, createdAt: now, updatedAt: now };
      try {
        await database.batch([
          insertSecurityProfile(db, row),
          insertAuditEvent(db, adminEvent(random, ctx, { type: "security_profile.created", now, details: { profile_id: row.id, name: row.name } })),
        ]);
      } catch (error) {
        if (isProfileNameTaken(error)) throw nameTaken();
        throw error;
      }
      return { profile: toProtoProfile(row) };
    },

    async updateSecurityProfile(req, ctx) {
      const requested = req.profile!;
      if (!requested.id) throw invalidField("profile.id", "is required");
      const paths = req.updateMask?.paths ?? [];
      // The rules span fields, so the update is checked against the profile
      // it was computed from: a concurrent update makes it start again.
      for (let attempt = 1; ; attempt++) {
        const current = await findSecurityProfile(db, requested.id);
        if (!current) throw notFound("security profile");
        const { changes, name } = applyProfileUpdate(settingsOf(current), { ...settingsOf(requested), name: requested.name }, paths);
        // Users without an organisation profile are governed by the profile named "default".
        if (name !== undefined && name !== current.name && current.id === DEFAULT_PROFILE_ID) {
          throw invalidField("profile.name", "the default profile cannot be renamed");
        }
        // Always later than the version read, so the guard tells versions apart.
        const now = Math.max(clock.now(), current.updatedAt + 1);
        let updated: { id: string }[];
        try {
          [, updated] = await database.batch([
            insertAuditEventIf(
              db,
              adminEvent(random, ctx, { type: "security_profile.updated", now, details: { profile_id: current.id, name: name ?? current.name, fields: paths.join(",") } }),
              profileUnchangedSince(db, current.id, current.updatedAt),
            ),
            updateSecurityProfile(db, current.id, current.updatedAt, { ...changes, ...(name !== undefined ? { name } : {}), updatedAt: now }),
          ]);
        } catch (error) {
          if (isProfileNameTaken(error)) throw nameTaken();
          throw error;
        }
        if (updated.length === 1) {
          const row = await findSecurityProfile(db, current.id);
          if (!row) throw notFound("security profile");
          return { profile: toProtoProfile(row) };
        }
        if (attempt >= MAX_UPDATE_ATTEMPTS) {
          throw new DomainError("unavailable", Reason.DATABASE_BUSY, "the profile kept changing while it was being updated; try again");
        }
      }
    },

    async assignSecurityProfile(req, ctx) {
      const profile = await findSecurityProfile(db, req.profileId);
      if (!profile) throw notFound("security profile");
      const now = clock.now();
      const [, assigned] = await database.batch([
        // Recorded only if the organisation exists when the batch runs.
        insertAuditEventIf(
          db,
          adminEvent(random, ctx, { type: "security_profile.assigned", now, organisationId: req.organisationId, details: { profile_id: profile.id, name: profile.name } }),
          organisationExists(db, req.organisationId),
        ),
        assignOrganisationProfile(db, req.organisationId, profile.id, now),
      ]);
      if (assigned.length === 0) throw notFound("organisation");
      return {};
    },
  };
}
