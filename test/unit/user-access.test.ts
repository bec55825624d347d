import { describe, expect, it } from "vitest";
import { decideUserAccess, mayListUsers, type TargetMembership, type TargetUser, type UserAction } from "../../src/domain/access/user-access.js";
import type { OrganisationRole } from "../../src/domain/access/roles.js";

const ACME = "acme";
const GLOBEX = "globex";
const CALLER = { userId: "caller", superAdmin: false };
const SUPER = { userId: "root", superAdmin: true };

function target(memberships: [string, OrganisationRole, OrganisationRole | undefined][], superAdmin = false, userId = "target"): TargetUser {
  return { userId, superAdmin, memberships: memberships.map(([organisationId, targetRole, callerRole]): TargetMembership => ({ organisationId, targetRole, callerRole })) };
}

const ACTIONS: UserAction[] = ["read", "update", "manage_read_only_settings", "suspend", "unsuspend", "block", "unblock", "delete"];

function outcomes(caller: { userId: string; superAdmin: boolean }, user: TargetUser) {
  return Object.fromEntries(ACTIONS.map((action) => [action, decideUserAccess(caller, user, action)]));
}

describe("decideUserAccess", () => {
  it("users read, update and delete themselves, but never suspend or block themselves", () => {
    expect(outcomes(CALLER, target([], false, "caller"))).toEqual({
      read: "allowed",
      update: "allowed",
      manage_read_only_settings: "forbidden",
      suspend: "self",
      unsuspend: "self",
      block: "self",
      unblock: "self",
      delete: "allowed",
    });
  });

  it("a self-managing admin may make their own settings read-only, still not suspend themselves", () => {
    const me = target([[ACME, "admin", "admin"]], false, "caller");
    expect(decideUserAccess(CALLER, me, "manage_read_only_settings")).toBe("allowed");
    expect(decideUserAccess(CALLER, me, "suspend")).toBe("self");
  });

  it("strangers, fellow members and admins of other organisations learn nothing", () => {
    for (const user of [target([]), target([[ACME, "member", "member"]]), target([[ACME, "member", undefined]]), target([[GLOBEX, "member", undefined]])]) {
      for (const action of ACTIONS) expect(decideUserAccess(CALLER, user, action), action).toBe("not_found");
    }
  });

  it("an admin manages a member who belongs only to their organisation", () => {
    expect(outcomes(CALLER, target([[ACME, "member", "admin"]]))).toEqual({
      read: "allowed",
      update: "allowed",
      manage_read_only_settings: "allowed",
      suspend: "allowed",
      unsuspend: "allowed",
      block: "allowed",
      unblock: "forbidden",
      delete: "allowed",
    });
  });

  it("block and delete of a member of another organisation too are for super-admins", () => {
    const shared = target([
      [ACME, "member", "owner"],
      [GLOBEX, "member", undefined],
    ]);
    expect(outcomes(CALLER, shared)).toMatchObject({ read: "allowed", update: "allowed", suspend: "allowed", block: "forbidden", delete: "forbidden" });
    expect(outcomes(SUPER, shared)).toMatchObject({ block: "allowed", delete: "allowed", unblock: "allowed" });
    // Admin in both: nothing outside their reach.
    const both = target([
      [ACME, "member", "admin"],
      [GLOBEX, "admin", "owner"],
    ]);
    expect(outcomes(CALLER, both)).toMatchObject({ block: "allowed", delete: "allowed" });
  });

  it("admins read owners but do not act on them; owners act on admins", () => {
    expect(outcomes(CALLER, target([[ACME, "owner", "admin"]]))).toMatchObject({ read: "allowed", update: "forbidden", suspend: "forbidden", block: "forbidden", delete: "forbidden" });
    expect(outcomes(CALLER, target([[ACME, "admin", "owner"]]))).toMatchObject({ update: "allowed", suspend: "allowed", block: "allowed", delete: "allowed" });
  });

  it("only super-admins act on super-admins", () => {
    const root = target([[ACME, "member", "owner"]], true);
    expect(outcomes(CALLER, root)).toMatchObject({ read: "allowed", update: "forbidden", suspend: "forbidden", block: "forbidden", delete: "forbidden" });
    expect(outcomes(SUPER, root)).toMatchObject({ update: "allowed", suspend: "allowed", delete: "allowed" });
  });

  it("super-admins may do everything to others, with or without a shared organisation", () => {
    for (const action of ACTIONS) expect(decideUserAccess(SUPER, target([]), action), action).toBe("allowed");
    expect(decideUserAccess(SUPER, target([], true, "root"), "block")).toBe("self");
  });
});

describe("mayListUsers", () => {
  it("needs admin of the organisation, or super-admin for every user", () => {
    expect(mayListUsers(CALLER, ACME, "admin")).toBe(true);
    expect(mayListUsers(CALLER, ACME, "owner")).toBe(true);
    expect(mayListUsers(CALLER, ACME, "member")).toBe(false);
    expect(mayListUsers(CALLER, undefined, undefined)).toBe(false);
    expect(mayListUsers(SUPER, undefined, undefined)).toBe(true);
    expect(mayListUsers(SUPER, GLOBEX, undefined)).toBe(true);
  });
});
