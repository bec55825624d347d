import { describe, expect, it } from "vitest";
import {
  decideInvite,
  decideRemoval,
  decideRoleChange,
  removesLastOwner,
  roleNeededToRemove,
  rolesAtLeast,
  type ActingMember,
} from "../../src/domain/access/organisation-rules.js";
import type { OrganisationRole } from "../../src/domain/access/roles.js";

const ACTOR = "actor";
const TARGET = "target";

function acting(role: OrganisationRole | undefined, superAdmin = false): ActingMember {
  return { userId: ACTOR, role, superAdmin };
}

describe("inviting", () => {
  it.each([
    ["owner", "owner", "allowed"],
    ["owner", "admin", "allowed"],
    ["owner", "member", "allowed"],
    ["admin", "owner", "forbidden"],
    ["admin", "admin", "allowed"],
    ["admin", "member", "allowed"],
    ["member", "member", "forbidden"],
    [undefined, "member", "forbidden"],
  ] as const)("a %s inviting as %s: %s", (role, invited, outcome) => {
    expect(decideInvite(acting(role), invited)).toBe(outcome);
  });

  it("super-admins invite anyone as anything, member or not", () => {
    expect(decideInvite(acting(undefined, true), "owner")).toBe("allowed");
    expect(decideInvite(acting("member", true), "owner")).toBe("allowed");
  });
});

describe("changing roles", () => {
  // [actor's role, target's role, new role, outcome], with another owner present.
  it.each([
    ["owner", "owner", "admin", "allowed"],
    ["owner", "member", "owner", "allowed"],
    ["owner", "admin", "member", "allowed"],
    ["admin", "member", "admin", "allowed"],
    ["admin", "admin", "member", "allowed"],
    ["admin", "member", "owner", "forbidden"],
    ["admin", "owner", "admin", "forbidden"],
    ["admin", "owner", "owner", "forbidden"],
    ["member", "member", "admin", "forbidden"],
    ["member", "member", "member", "forbidden"],
    [undefined, "member", "admin", "forbidden"],
  ] as const)("a %s moving a %s to %s: %s", (actor, current, next, outcome) => {
    expect(decideRoleChange(acting(actor), { userId: TARGET, role: current }, next, 1)).toBe(outcome);
  });

  it("nobody demotes the last owner, themselves included", () => {
    expect(decideRoleChange(acting("owner"), { userId: TARGET, role: "owner" }, "admin", 0)).toBe("last_owner");
    expect(decideRoleChange({ userId: TARGET, role: "owner", superAdmin: false }, { userId: TARGET, role: "owner" }, "member", 0)).toBe("last_owner");
    expect(decideRoleChange(acting(undefined, true), { userId: TARGET, role: "owner" }, "member", 0)).toBe("last_owner");
    expect(decideRoleChange(acting("owner"), { userId: TARGET, role: "owner" }, "owner", 0)).toBe("allowed");
  });

  it("checks permission before the owner count, so a refused caller learns nothing about owners", () => {
    expect(decideRoleChange(acting("admin"), { userId: TARGET, role: "owner" }, "member", 0)).toBe("forbidden");
  });
});

describe("removing members", () => {
  it.each([
    ["owner", "owner", "allowed"],
    ["owner", "admin", "allowed"],
    ["admin", "admin", "allowed"],
    ["admin", "member", "allowed"],
    ["admin", "owner", "forbidden"],
    ["member", "member", "forbidden"],
  ] as const)("a %s removing a %s: %s", (actor, target, outcome) => {
    expect(decideRemoval(acting(actor), { userId: TARGET, role: target }, 1)).toBe(outcome);
  });

  it("anyone may leave, except the last owner", () => {
    for (const role of ["member", "admin", "owner"] as const) {
      expect(decideRemoval({ userId: ACTOR, role, superAdmin: false }, { userId: ACTOR, role }, 1)).toBe("allowed");
      expect(roleNeededToRemove(ACTOR, { userId: ACTOR, role })).toBeUndefined();
    }
    expect(decideRemoval({ userId: ACTOR, role: "owner", superAdmin: false }, { userId: ACTOR, role: "owner" }, 0)).toBe("last_owner");
  });

  it("not even a super-admin removes the last owner", () => {
    expect(decideRemoval(acting(undefined, true), { userId: TARGET, role: "owner" }, 0)).toBe("last_owner");
    expect(decideRemoval(acting(undefined, true), { userId: TARGET, role: "owner" }, 1)).toBe("allowed");
  });
});

describe("helpers the batch guards use", () => {
  it("lists the roles at least as high as a minimum", () => {
    expect(rolesAtLeast("member")).toEqual(["member", "admin", "owner"]);
    expect(rolesAtLeast("admin")).toEqual(["admin", "owner"]);
    expect(rolesAtLeast("owner")).toEqual(["owner"]);
  });

  it("only moving an owner away from owner can remove the last one", () => {
    expect(removesLastOwner("owner", undefined, 0)).toBe(true);
    expect(removesLastOwner("owner", "admin", 0)).toBe(true);
    expect(removesLastOwner("owner", "admin", 1)).toBe(false);
    expect(removesLastOwner("owner", "owner", 0)).toBe(false);
    expect(removesLastOwner("admin", undefined, 0)).toBe(false);
  });
});
