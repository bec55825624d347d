/** Account handlers: registration and the account's own record. */
import type { User } from "../../../gen/latchkey/user/v1/user_pb.js";
import { DomainError, Reason, permissionDenied, notFound, type FieldViolation } from "../../domain/errors.js";
import { codePointLength, isE164, isLocale, isUuid } from "../../domain/formats.js";
import { insertAuditEventIf } from "../../store/queries/audit-events.js";
import { deletableUser, deleteUser, findOrganisationsOwnedOnlyBy, updateUserProfile, userInState, type UserProfileChange, type UserRow } from "../../store/queries/users.js";
import { userStates } from "../../store/schema/index.js";
import { actorOf, clientOf } from "../caller.js";
import { userEvent } from "./audit.js";
import type { ServiceDeps } from "../deps.js";
import type { UserHandlers } from "./index.js";
import { activeRoleOf, authorizedTarget, seesActiveOrganisation, type LoadedTarget } from "./target.js";
import { toProtoUser, toProtoUserAsSeen } from "./to-proto.js";
import { firstEmailCode } from "./verification.js";

/** What UpdateUser may change (the proto's allow-list); every other path is refused by name. */
const UPDATABLE = ["name", "phone_number", "locale", "newsletter", "title", "department"] as const;
type UpdatablePath = (typeof UPDATABLE)[number];

const MAX_NAME = 200;
const MAX_TEXT = 200;

export function presentTarget(target: LoadedTarget, row: UserRow = target.row): User {
  return toProtoUserAsSeen(row, activeRoleOf(target), seesActiveOrganisation(target));
}

/** The paths of an update mask, checked against the allow-list; none means all of them (the contract's rule). */
function updatePaths(paths: readonly string[] | undefined): UpdatablePath[] {
  if (!paths || paths.length === 0) return [...UPDATABLE];
  const unknown = paths.find((path) => !(UPDATABLE as readonly string[]).includes(path));
  if (unknown !== undefined) {
    const description = `cannot update ${JSON.stringify(unknown)}; allowed: ${UPDATABLE.join(", ")}`;
    throw new DomainError("invalid_argument", Reason.INVALID_FIELD, `update_mask: ${description}`, { violations: [{ field: "update_mask", description }] });
  }
  return [...new Set(paths as UpdatablePath[])];
}

/** The change an update makes to `row`, after checking every value it sets. */
function profileChange(row: UserRow, user: User, paths: readonly UpdatablePath[]): UserProfileChange {
  const violations: FieldViolation[] = [];
  const change: UserProfileChange = {};
  const text = (value: string) => value.normalize("NFC").trim();
  for (const path of paths) {
    switch (path) {
      case "name": {
        const name = text(user.name);
        if (name === "") violations.push({ field: "user.name", description: "is required" });
        else if (codePointLength(name) > MAX_NAME) violations.push({ field: "user.name", description: `must be at most ${MAX_NAME} characters` });
        change.name = name;
        break;
      }
      case "phone_number": {
        const phone = user.phoneNumber.trim();
        if (phone !== "" && !isE164(phone)) violations.push({ field: "user.phone_number", description: "must be a phone number in E.164 form, e.g. +31612345678" });
        change.phoneNumber = phone === "" ? null : phone;
        // A verified number stays verified only while it is the same number.
        if (change.phoneNumber !== row.phoneNumber) change.phoneVerifiedAt = null;
        break;
      }
      case "locale":
        if (!isLocale(user.locale)) violations.push({ field: "user.locale", description: "must be a BCP 47 language tag, e.g. en or nl-NL" });
        change.locale = user.locale;
        break;
      case "newsletter":
        change.newsletter = user.newsletter;
        break;
      case "title":
      case "department": {
        const value = text(path === "title" ? user.title : user.department);
        if (codePointLength(value) > MAX_TEXT) violations.push({ field: `user.${path}`, description: `must be at most ${MAX_TEXT} characters` });
        change[path] = value;
        break;
      }
    }
  }
  if (violations.length > 0) {
    throw new DomainError("invalid_argument", Reason.INVALID_FIELD, `${violations[0]!.field}: ${violations[0]!.description}`, { violations });
  }
  return change;
}

export function createAccountHandlers(deps: ServiceDeps): UserHandlers<"createUser" | "getUser" | "updateUser" | "deleteUser"> {
  const { database, clock, random } = deps;
  const db = database.db;

  return {
    async createUser(req, ctx) {
      // Joining an organisation goes through an invitation, never through a
      // field an anonymous caller can fill in.
      if (req.organisationId) throw permissionDenied();
      const row = await deps.register(
        { email: req.email, name: req.name, password: req.password, phoneNumber: req.phoneNumber, locale: req.locale, newsletter: req.newsletter },
        { clientAddress: clientOf(ctx).clientAddress },
        firstEmailCode(deps),
      );
      return { user: toProtoUser(row) };
    },

    async getUser(req, ctx) {
      const target = await authorizedTarget(db, actorOf(ctx), req.userId, "read");
      return { user: presentTarget(target) };
    },

    async updateUser(req, ctx) {
      const actor = actorOf(ctx);
      const user = req.user!;
      if (!isUuid(user.id)) throw new DomainError("invalid_argument", Reason.INVALID_FIELD, "user.id: must be a UUID", { violations: [{ field: "user.id", description: "must be a UUID" }] });
      const paths = updatePaths(req.updateMask?.paths);
      const target = await authorizedTarget(db, actor, user.id, "update");
      const change = profileChange(target.row, user, paths);
      const now = clock.now();
      const [, updated] = await database.batch([
        insertAuditEventIf(
          db,
          userEvent(random, ctx, { type: "user.updated", userId: user.id, now, details: { fields: paths.join(","), phone_verification_cleared: change.phoneVerifiedAt === null } }),
          userInState(db, user.id, userStates),
        ),
        updateUserProfile(db, user.id, change, now),
      ]);
      if (!updated[0]) throw notFound("user");
      return { user: presentTarget(target, updated[0]) };
    },

    async deleteUser(req, ctx) {
      const actor = actorOf(ctx);
      const target = await authorizedTarget(db, actor, req.userId, "delete");
      const refuseLastOwner = (organisationIds: string[]) =>
        new DomainError("failed_precondition", Reason.LAST_OWNER, `the user is the only owner of organisation ${organisationIds.join(", ")}; make someone else an owner first`, {
          metadata: { organisation_ids: organisationIds.join(",") },
        });
      const soleOwned = await findOrganisationsOwnedOnlyBy(db, req.userId);
      if (soleOwned.length > 0) throw refuseLastOwner(soleOwned);

      const now = clock.now();
      // The same condition guards the audit row and the delete, so an owner
      // who became the last one after the check above is still refused.
      const guard = deletableUser(db, req.userId);
      const [, deleted] = await database.batch([
        insertAuditEventIf(
          db,
          userEvent(random, ctx, { type: "user.deleted", userId: req.userId, now, details: { organisations: target.memberships.length, self: actor.userId === req.userId } }),
          guard,
        ),
        deleteUser(db, req.userId, guard),
      ]);
      if (deleted.length === 0) {
        const nowSoleOwned = await findOrganisationsOwnedOnlyBy(db, req.userId);
        throw nowSoleOwned.length > 0 ? refuseLastOwner(nowSoleOwned) : notFound("user");
      }
      return {};
    },
  };
}
