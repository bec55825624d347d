/**
 * ListUsers: the members of one organisation, or every user for
 * super-admins, filtered, ordered and paged with the listing toolkit
 * (src/domain/listing, src/store/listing-sql.ts).
 */
import { create } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import { UserSchema, type User } from "../../../gen/latchkey/user/v1/user_pb.js";
import { mayListUsers } from "../../domain/access/user-access.js";
import { DomainError, Reason, invalidField, permissionDenied } from "../../domain/errors.js";
import { parseFilter } from "../../domain/listing/filter.js";
import { parseOrderBy, type OrderTerm } from "../../domain/listing/order-by.js";
import { decodePageToken, encodePageToken, listQueryHash, pageSize, type CursorValue } from "../../domain/listing/page-token.js";
import { DEFAULT_USER_ORDER, USER_FILTER_SCHEMA, USER_ORDER_FIELDS } from "../../domain/users/listing.js";
import { chooseMemberReach, countListedUsers, listUserKeys, listUsers, type UserKeyRow, type UserListing, type UserRow } from "../../store/queries/users.js";
import { actorOf } from "../caller.js";
import { kOrganisationScope } from "../context.js";
import type { ServiceDeps } from "../deps.js";
import type { UserHandlers } from "./index.js";
import { accessCallerOf } from "./target.js";
import { toProtoUserAsSeen } from "./to-proto.js";

/** The order values of a row, one per order term: what a page token points after. */
function cursorOf(row: UserRow, order: readonly OrderTerm[]): CursorValue[] {
  const values: Record<string, CursorValue> = { id: row.id, name: row.name, email: row.email, created_at: row.createdAt, updated_at: row.updatedAt };
  return order.map((term) => values[term.field]!);
}

/** The same for a row of listUserKeys, which holds the ordered fields by name. */
function keyCursorOf(row: UserKeyRow, order: readonly OrderTerm[]): CursorValue[] {
  return order.map((term) => {
    const value = row[term.field as keyof UserKeyRow];
    if (value === undefined) throw new Error(`the listed keys lack the ordered field "${term.field}"`);
    return value;
  });
}

/** The fields a read mask keeps: undefined for all of them (missing, empty or "*"). */
function readMaskFields(paths: readonly string[] | undefined) {
  if (!paths || paths.length === 0 || (paths.length === 1 && paths[0] === "*")) return undefined;
  return paths.map((path) => {
    const field = UserSchema.fields.find((f) => f.name === path);
    if (!field) {
      const description = `unknown field ${JSON.stringify(path)}; allowed: "*" or any of ${UserSchema.fields.map((f) => f.name).join(", ")}`;
      throw new DomainError("invalid_argument", Reason.INVALID_FIELD, `read_mask: ${description}`, { violations: [{ field: "read_mask", description }] });
    }
    return field;
  });
}

/** A copy of `user` with only `fields` set. */
function masked(user: User, fields: ReturnType<typeof readMaskFields>): User {
  if (!fields) return user;
  const source = reflect(UserSchema, user);
  const copy = create(UserSchema);
  const target = reflect(UserSchema, copy);
  for (const field of fields) if (source.isSet(field)) target.set(field, source.get(field) as never);
  return copy;
}

export function createListingHandlers(deps: ServiceDeps): UserHandlers<"listUsers"> {
  const db = deps.database.db;
  return {
    async listUsers(req, ctx) {
      const actor = actorOf(ctx);
      const caller = accessCallerOf(actor);
      const scope = ctx.values.get(kOrganisationScope);
      if (!mayListUsers(caller, scope.organisationId, scope.role)) throw permissionDenied();

      const limit = pageSize(req.pageSize);
      if (req.offset < 0) throw invalidField("offset", "must not be negative");
      const fields = readMaskFields(req.readMask?.paths);
      const filter = parseFilter(req.filter, USER_FILTER_SCHEMA);
      const order = parseOrderBy(req.orderBy, USER_ORDER_FIELDS, DEFAULT_USER_ORDER);
      const queryHash = await listQueryHash({ collection: "users", filter, orderBy: order, scope: { organisationId: scope.organisationId } });
      const after = req.pageToken ? (await decodePageToken(req.pageToken, deps.pageTokenKey, queryHash)).after : undefined;
      if (after && after.length !== order.length) throw invalidField("page_token", "is not a valid page token; start again without page_token");

      // One row more than the page tells whether another page follows.
      const pageRows = { limit: limit + 1, offset: req.offset, after };
      const listing: UserListing = scope.organisationId
        ? { organisationId: scope.organisationId, filter, reach: await chooseMemberReach(db, scope.organisationId, pageRows.limit + pageRows.offset) }
        : { organisationId: undefined, filter };
      const nextToken = async (more: boolean, cursor: () => CursorValue[]) => (more ? await encodePageToken({ queryHash, after: cursor() }, deps.pageTokenKey) : "");

      if (fields?.every((field) => field.name === "id")) {
        // Ids only: read from the indexes alone.
        const [rows, total] = await Promise.all([listUserKeys(db, listing, order, pageRows), countListedUsers(db, listing)]);
        const page = rows.slice(0, limit);
        return {
          users: page.map((row) => create(UserSchema, { id: row.id })),
          nextPageToken: await nextToken(rows.length > limit && page.length > 0, () => keyCursorOf(page.at(-1)!, order)),
          totalSize: total,
        };
      }
      const [rows, total] = await Promise.all([listUsers(db, listing, order, pageRows), countListedUsers(db, listing)]);
      const page = rows.slice(0, limit);
      return {
        users: page.map(({ user, activeRole }) => {
          // Admins see a member's active organisation only when it is the one listed.
          const showOrganisation = caller.superAdmin || user.activeOrganisationId === scope.organisationId;
          return masked(toProtoUserAsSeen(user, activeRole, showOrganisation), fields);
        }),
        nextPageToken: await nextToken(rows.length > limit && page.length > 0, () => cursorOf(page.at(-1)!.user, order)),
        totalSize: total,
      };
    },
  };
}
