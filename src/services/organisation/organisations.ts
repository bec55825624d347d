/**
 * Organisations themselves: CreateOrganisation, GetOrganisation,
 * UpdateOrganisation, ListOrganisations and DeleteOrganisation.
 */
import type { SQL } from "drizzle-orm";
import { mayAct, rolesAtLeast } from "../../domain/access/organisation-rules.js";
import { atLeast } from "../../domain/access/roles.js";
import type { AuthenticatedActor } from "../../domain/actor.js";
import { DomainError, alreadyExists, invalidField, notFound, permissionDenied } from "../../domain/errors.js";
import { codePointLength, isUuid } from "../../domain/formats.js";
import { insertAuditEvent, insertAuditEventIf } from "../../store/queries/audit-events.js";
import { findMembershipRole, holdsRole, insertMembership } from "../../store/queries/memberships.js";
import {
  deleteOrganisation,
  detachDeletedOrganisation,
  findOrganisationById,
  insertOrganisation,
  isOrganisationNameTaken,
  listOrganisations,
  organisationExists,
  organisationNameKey,
  renameOrganisation,
  setActiveOrganisationIfNone,
  type OrganisationView,
} from "../../store/queries/organisations.js";
import { DEFAULT_PROFILE_ID } from "../../store/queries/security-profiles.js";
import type { ServiceDeps } from "../deps.js";
import { actorOf, clientAddressOf } from "../caller.js";
import { organisationEvent, scopeOf } from "./caller.js";
import type { OrganisationHandlers } from "./index.js";
import { pageByName } from "./paging.js";
import { toProtoOrganisation } from "./to-proto.js";

const MAX_NAME_LENGTH = 200;
const UPDATABLE_PATHS = ["name"];

/** The name as stored: NFC, trimmed, one line of visible text (it appears in emails). */
function organisationName(value: string, field: string): string {
  const name = value.normalize("NFC").trim();
  if (name === "") throw invalidField(field, "is required");
  if (codePointLength(name) > MAX_NAME_LENGTH) throw invalidField(field, `must be at most ${MAX_NAME_LENGTH} characters`);
  if (/[\p{Cc}\p{Zl}\p{Zp}]/u.test(name)) throw invalidField(field, "must not contain control characters or line breaks");
  return name;
}

function nameTaken(field: string): DomainError {
  return alreadyExists(field, "is already used by another organisation");
}

export function createOrganisationHandlers(deps: ServiceDeps): OrganisationHandlers<"createOrganisation" | "getOrganisation" | "updateOrganisation" | "listOrganisations" | "deleteOrganisation"> {
  const { database, clock, random } = deps;
  const db = database.db;

  async function found(id: string): Promise<OrganisationView> {
    const view = await findOrganisationById(db, id);
    if (!view) throw notFound("organisation");
    return view;
  }

  /** Guards that the caller, unless a super-admin, still holds `minimum` when the batch runs. */
  function stillHolds(actor: AuthenticatedActor, organisationId: string, minimum: "admin" | "owner"): SQL[] {
    return actor.superAdmin ? [] : [holdsRole(db, organisationId, actor.userId, rolesAtLeast(minimum))];
  }

  /** Why a guarded change of an organisation matched nothing: it is gone, or the caller's role is. */
  async function lostGuard(id: string): Promise<DomainError> {
    return (await findOrganisationById(db, id)) ? permissionDenied() : notFound("organisation");
  }

  return {
    async createOrganisation(req, ctx) {
      const actor = actorOf(ctx);
      const name = organisationName(req.name, "name");
      const now = clock.now();
      const id = random.uuid();
      try {
        await database.batch([
          insertOrganisation(db, { id, name, nameKey: organisationNameKey(name), securityProfileId: DEFAULT_PROFILE_ID, createdAt: now, updatedAt: now }),
          insertMembership(db, { organisationId: id, userId: actor.userId, role: "owner", joinedAt: now }),
          setActiveOrganisationIfNone(db, actor.userId, id),
          insertAuditEvent(db, organisationEvent(random, { actor, organisationId: id, clientAddress: clientAddressOf(ctx), now }, "organisation.created", { name })),
        ]);
      } catch (error) {
        if (isOrganisationNameTaken(error)) throw nameTaken("name");
        throw error;
      }
      return { organisation: toProtoOrganisation(await found(id)) };
    },

    async getOrganisation(_req, ctx) {
      return { organisation: toProtoOrganisation(await found(scopeOf(ctx).organisationId)) };
    },

    async updateOrganisation(req, ctx) {
      const actor = actorOf(ctx);
      const id = req.organisation?.id ?? "";
      if (!isUuid(id)) throw invalidField("organisation.id", "must be the organisation's id (a UUID)");
      const paths = req.updateMask?.paths.length ? req.updateMask.paths : UPDATABLE_PATHS;
      const unknown = paths.find((path) => !UPDATABLE_PATHS.includes(path));
      if (unknown !== undefined) throw invalidField("update_mask", `"${unknown}" cannot be changed; only "name" can`);
      const name = organisationName(req.organisation?.name ?? "", "organisation.name");

      // The RPC names its organisation inside a message, so the access
      // interceptor could not check the role there; it is checked here.
      if (actor.kind === "api_key" && id !== actor.organisationId && !actor.superAdmin) throw permissionDenied();
      const role = id === actor.organisationId ? actor.organisationRole : await findMembershipRole(db, id, actor.userId);
      if (!actor.superAdmin && !atLeast(role, "admin")) throw permissionDenied();
      const before = await found(id);

      const now = clock.now();
      const guards = stillHolds(actor, id, "admin");
      const change = { actor, organisationId: id, clientAddress: clientAddressOf(ctx), now };
      let renamed: { id: string }[];
      try {
        [, renamed] = await database.batch([
          insertAuditEventIf(db, organisationEvent(random, change, "organisation.renamed", { from: before.organisation.name, to: name }), organisationExists(db, id, guards)),
          renameOrganisation(db, id, name, now, guards),
        ]);
      } catch (error) {
        if (isOrganisationNameTaken(error)) throw nameTaken("organisation.name");
        throw error;
      }
      if (renamed.length === 0) throw await lostGuard(id);
      return { organisation: toProtoOrganisation(await found(id)) };
    },

    async listOrganisations(req, ctx) {
      const actor = actorOf(ctx);
      // Super-admins see every organisation; a key sees only its own.
      const scope = actor.superAdmin
        ? { all: true }
        : { memberId: actor.userId, organisationId: actor.kind === "api_key" ? actor.organisationId : undefined };
      const { rows, nextPageToken } = await pageByName(
        req,
        { collection: "organisations", scope, key: deps.pageTokenKey },
        (order, limit, after) => listOrganisations(db, scope, order, limit, after),
        (row) => [row.organisation.nameKey, row.organisation.id],
      );
      return { organisations: rows.map(toProtoOrganisation), nextPageToken };
    },

    async deleteOrganisation(_req, ctx) {
      const { actor, organisationId, acting } = scopeOf(ctx);
      if (!mayAct(acting, "owner")) throw permissionDenied();
      const before = await found(organisationId);
      const now = clock.now();
      const guards = stillHolds(actor, organisationId, "owner");
      const change = { actor, organisationId, clientAddress: clientAddressOf(ctx), now };
      const [, deleted] = await database.batch([
        insertAuditEventIf(db, organisationEvent(random, change, "organisation.deleted", { name: before.organisation.name }), organisationExists(db, organisationId, guards)),
        // Memberships and invitations go with it (foreign keys cascade).
        deleteOrganisation(db, organisationId, guards),
        ...detachDeletedOrganisation(db, organisationId, now),
      ]);
      if (deleted.length === 0) throw await lostGuard(organisationId);
      return {};
    },
  };
}
