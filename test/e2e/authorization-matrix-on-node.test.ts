/**
 * Who may do what to organisation A's resources: every RPC of UserService,
 * OrganisationService and the API-key RPCs, called by each kind of caller,
 * with the expected Connect code asserted per cell.
 */
import { Code, ConnectError, createClient, type CallOptions, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { MemberRole } from "../../gen/latchkey/organisation/v1/organisation_pb.js";
import { OrganisationService } from "../../gen/latchkey/organisation/v1/organisation_service_pb.js";
import { SettingType } from "../../gen/latchkey/user/v1/setting_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { BOOTSTRAP_ADMIN, startNode } from "../support/start-node.js";
import type { RpcTarget } from "../support/target.js";

const PASSWORD = "violet-anchor-meadow-71-quartz";
const OK = "ok" as const;
type Expected = typeof OK | Code;
const CALLERS = ["anonymous", "memberA", "adminA", "adminB", "keyWithPermission", "keyWithoutPermission", "superAdmin"] as const;
type Caller = (typeof CALLERS)[number];

/** The smallest PNG: enough for the content check. */
const PNG = Uint8Array.from(atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="), (c) => c.charCodeAt(0));

let node: RpcTarget;
let auth: Client<typeof AuthService>;
let users: Client<typeof UserService>;
let orgs: Client<typeof OrganisationService>;
const tokens: Partial<Record<Caller, string>> = {};
let orgA = "";
let memberA = "";
let counter = 0;

async function signUp(tag: string): Promise<{ id: string; token: string; email: string }> {
  const email = `${tag}-${counter++}@matrix.example`;
  const { user } = await users.createUser({ email, name: tag, password: PASSWORD });
  const signedIn = await auth.signIn({ identifier: { case: "email", value: email }, password: PASSWORD });
  if (signedIn.result.case !== "tokens") throw new Error("expected tokens");
  return { id: user!.id, token: signedIn.result.value.accessToken, email };
}

async function join(userId: string, organisationId: string, role: "member" | "admin" | "owner"): Promise<void> {
  await node.exec("INSERT INTO memberships (organisation_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)", [organisationId, userId, role, Date.now()]);
}

async function switchTo(token: string, organisationId: string): Promise<string> {
  const switched = await auth.switchOrganisation({ organisationId }, { headers: { authorization: `Bearer ${token}` } });
  return switched.tokens!.accessToken;
}

/** Keys of organisation A's admin, one per permission set. */
const keys = new Map<string, string>();
async function keyOf(permissions: string[]): Promise<string> {
  const name = permissions.join("+");
  if (!keys.has(name)) {
    const created = await auth.createApiKey({ name, permissions }, options("adminA"));
    keys.set(name, created.key);
  }
  return keys.get(name)!;
}

function options(caller: Caller): CallOptions {
  const token = tokens[caller];
  return token ? { headers: { authorization: `Bearer ${token}` } } : {};
}

async function outcome(call: Promise<unknown>): Promise<Expected> {
  try {
    await call;
    return OK;
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

const name = (e: Expected) => (e === OK ? "ok" : Code[e]);

interface Row {
  rpc: string;
  /** The permission a key needs; "" when the RPC declares none. */
  permission: string;
  expected: Record<Caller, Expected>;
  /** Makes the call as `caller`; destructive RPCs arrange a fresh target first. */
  call: (caller: Caller, opts: CallOptions) => Promise<unknown>;
}

const U = Code.Unauthenticated;
const PD = Code.PermissionDenied;
const NF = Code.NotFound;
const IA = Code.InvalidArgument;
/** A person-only act attempted with an API key. */
const FP = Code.FailedPrecondition;

/** The usual shape for reading or changing one member of A. */
function memberResource(rpc: string, permission: string, call: Row["call"], member: Expected = OK): Row {
  return { rpc, permission, call, expected: { anonymous: U, memberA: member, adminA: OK, adminB: NF, keyWithPermission: OK, keyWithoutPermission: PD, superAdmin: OK } };
}

/** An organisation-admin RPC about organisation A. */
function adminOfA(rpc: string, permission: string, call: Row["call"], memberCode: Expected = PD): Row {
  return { rpc, permission, call, expected: { anonymous: U, memberA: memberCode, adminA: OK, adminB: PD, keyWithPermission: OK, keyWithoutPermission: PD, superAdmin: OK } };
}

async function freshMemberOfA(): Promise<string> {
  const victim = await signUp("victim");
  await join(victim.id, orgA, "member");
  return victim.id;
}

const ROWS: Row[] = [
  { rpc: "UserService.CreateUser", permission: "", call: (_c, o) => users.createUser({ email: `new-${counter++}@matrix.example`, name: "New", password: PASSWORD }, o), expected: { anonymous: OK, memberA: OK, adminA: OK, adminB: OK, keyWithPermission: OK, keyWithoutPermission: OK, superAdmin: OK } },
  memberResource("UserService.GetUser", "users.read", (_c, o) => users.getUser({ userId: memberA }, o)),
  memberResource("UserService.UpdateUser", "users.write", (_c, o) => users.updateUser({ user: { id: memberA, title: "Engineer" }, updateMask: { paths: ["title"] } }, o)),
  memberResource("UserService.DeleteUser", "users.write", async (_c, o) => users.deleteUser({ userId: await freshMemberOfA() }, o), NF),
  adminOfA("UserService.ListUsers", "users.read", (_c, o) => users.listUsers({ organisationId: orgA }, o)),
  { ...memberResource("UserService.SuspendUser", "users.write", async (_c, o) => users.suspendUser({ userId: await freshMemberOfA() }, o), PD) },
  { ...memberResource("UserService.UnsuspendUser", "users.write", async (_c, o) => users.unsuspendUser({ userId: await freshMemberOfA() }, o), PD) },
  { ...memberResource("UserService.BlockUser", "users.write", async (_c, o) => users.blockUser({ userId: await freshMemberOfA() }, o), PD) },
  { rpc: "UserService.UnblockUser", permission: "", call: async (_c, o) => users.unblockUser({ userId: await freshMemberOfA() }, o), expected: { anonymous: U, memberA: PD, adminA: PD, adminB: PD, keyWithPermission: PD, keyWithoutPermission: PD, superAdmin: OK } },
  { rpc: "UserService.VerifyEmail", permission: "", call: (_c, o) => users.verifyEmail({ code: "00000000" }, o), expected: { anonymous: U, memberA: IA, adminA: IA, adminB: IA, keyWithPermission: FP, keyWithoutPermission: FP, superAdmin: IA } },
  memberResource("UserService.SetAvatar", "users.write", (_c, o) => users.setAvatar({ userId: memberA, image: PNG }, o)),
  memberResource("UserService.GetAvatar", "users.read", async (_c, o) => {
    await users.setAvatar({ userId: memberA, image: PNG }, options("memberA"));
    return users.getAvatar({ userId: memberA }, o);
  }),
  memberResource("UserService.DeleteAvatar", "users.write", async (_c, o) => {
    await users.setAvatar({ userId: memberA, image: PNG }, options("memberA"));
    return users.deleteAvatar({ userId: memberA }, o);
  }),
  memberResource("UserService.ListSettings", "users.read", (_c, o) => users.listSettings({ userId: memberA }, o)),
  memberResource("UserService.SetSetting", "users.write", (_c, o) => users.setSetting({ userId: memberA, setting: { category: "ui", group: "theme", name: "mode", value: "dark", type: SettingType.STRING } }, o)),
  memberResource("UserService.DeleteSetting", "users.write", async (_c, o) => {
    await users.setSetting({ userId: memberA, setting: { category: "ui", group: "theme", name: "mode", value: "dark", type: SettingType.STRING } }, options("memberA"));
    return users.deleteSetting({ userId: memberA, category: "ui", group: "theme", name: "mode" }, o);
  }),
  adminOfA("UserService.SetRoles", "members.write", (_c, o) => users.setRoles({ userId: memberA, organisationId: orgA, roles: ["member"] }, o)),

  { rpc: "OrganisationService.CreateOrganisation", permission: "organisations.write", call: (_c, o) => orgs.createOrganisation({ name: `Org ${counter++}` }, o), expected: { anonymous: U, memberA: OK, adminA: OK, adminB: OK, keyWithPermission: OK, keyWithoutPermission: PD, superAdmin: OK } },
  adminOfA("OrganisationService.GetOrganisation", "organisations.read", (_c, o) => orgs.getOrganisation({ organisationId: orgA }, o), OK),
  adminOfA("OrganisationService.UpdateOrganisation", "organisations.write", (_c, o) => orgs.updateOrganisation({ organisation: { id: orgA, name: `Organisation A ${counter++}` }, updateMask: { paths: ["name"] } }, o)),
  { rpc: "OrganisationService.ListOrganisations", permission: "organisations.read", call: (_c, o) => orgs.listOrganisations({}, o), expected: { anonymous: U, memberA: OK, adminA: OK, adminB: OK, keyWithPermission: OK, keyWithoutPermission: PD, superAdmin: OK } },
  adminOfA("OrganisationService.ListMembers", "members.read", (_c, o) => orgs.listMembers({ organisationId: orgA }, o), OK),
  adminOfA("OrganisationService.InviteMember", "members.write", (_c, o) => orgs.inviteMember({ organisationId: orgA, email: `invitee-${counter++}@matrix.example`, role: MemberRole.MEMBER }, o)),
  { rpc: "OrganisationService.AcceptInvitation", permission: "", call: (_c, o) => orgs.acceptInvitation({ token: "lki_not-a-real-invitation-token" }, o), expected: { anonymous: U, memberA: NF, adminA: NF, adminB: NF, keyWithPermission: FP, keyWithoutPermission: FP, superAdmin: NF } },
  adminOfA("OrganisationService.UpdateMemberRole", "members.write", (_c, o) => orgs.updateMemberRole({ organisationId: orgA, userId: memberA, role: MemberRole.MEMBER }, o)),
  adminOfA("OrganisationService.RemoveMember", "members.write", async (_c, o) => orgs.removeMember({ organisationId: orgA, userId: await freshMemberOfA() }, o)),
  {
    rpc: "OrganisationService.DeleteOrganisation",
    permission: "organisations.write",
    // Deleting needs an owner; A's admin is not one, and neither is a key of the admin.
    call: async (caller, o) => {
      const { organisation } = await orgs.createOrganisation({ name: `Doomed ${counter++}` }, options("superAdmin"));
      for (const who of ["memberA", "adminA", "adminB"] as const) {
        if (caller === who) await join(await userIdOf(who), organisation!.id, who === "memberA" ? "member" : "admin");
      }
      if (caller === "keyWithPermission" || caller === "keyWithoutPermission") await join(await userIdOf("adminA"), organisation!.id, "admin");
      return orgs.deleteOrganisation({ organisationId: organisation!.id }, o);
    },
    expected: { anonymous: U, memberA: PD, adminA: PD, adminB: PD, keyWithPermission: PD, keyWithoutPermission: PD, superAdmin: OK },
  },

  { rpc: "AuthService.CreateApiKey", permission: "api_keys.write", call: (_c, o) => auth.createApiKey({ name: `k-${counter++}`, permissions: ["api_keys.write"] }, o), expected: { anonymous: U, memberA: OK, adminA: OK, adminB: OK, keyWithPermission: OK, keyWithoutPermission: PD, superAdmin: OK } },
  { rpc: "AuthService.ListApiKeys", permission: "api_keys.read", call: (_c, o) => auth.listApiKeys({}, o), expected: { anonymous: U, memberA: OK, adminA: OK, adminB: OK, keyWithPermission: OK, keyWithoutPermission: PD, superAdmin: OK } },
  {
    rpc: "AuthService.RevokeApiKey",
    permission: "api_keys.write",
    call: async (_c, o) => {
      const created = await auth.createApiKey({ name: `victim-${counter++}`, permissions: ["users.read"] }, options("memberA"));
      return auth.revokeApiKey({ apiKeyId: created.apiKey!.id }, o);
    },
    expected: { anonymous: U, memberA: OK, adminA: OK, adminB: NF, keyWithPermission: OK, keyWithoutPermission: PD, superAdmin: OK },
  },
];

const ids: Partial<Record<Caller, string>> = {};
async function userIdOf(caller: Caller): Promise<string> {
  return ids[caller]!;
}

beforeAll(async () => {
  node = await startNode();
  auth = createClient(AuthService, node.transports.connect);
  users = createClient(UserService, node.transports.connect);
  orgs = createClient(OrganisationService, node.transports.connect);

  const root = await auth.signIn({ identifier: { case: "email", value: BOOTSTRAP_ADMIN.email }, password: BOOTSTRAP_ADMIN.password });
  if (root.result.case !== "tokens") throw new Error("expected tokens");
  tokens.superAdmin = root.result.value.accessToken;

  const owner = await signUp("owner-a");
  const created = await orgs.createOrganisation({ name: "Organisation A" }, { headers: { authorization: `Bearer ${owner.token}` } });
  orgA = created.organisation!.id;
  const ownerB = await signUp("owner-b");
  const orgB = (await orgs.createOrganisation({ name: "Organisation B" }, { headers: { authorization: `Bearer ${ownerB.token}` } })).organisation!.id;

  const member = await signUp("member-a");
  await join(member.id, orgA, "member");
  memberA = member.id;
  tokens.memberA = await switchTo(member.token, orgA);
  ids.memberA = member.id;

  const admin = await signUp("admin-a");
  await join(admin.id, orgA, "admin");
  tokens.adminA = await switchTo(admin.token, orgA);
  ids.adminA = admin.id;

  const adminB = await signUp("admin-b");
  await join(adminB.id, orgB, "admin");
  tokens.adminB = await switchTo(adminB.token, orgB);
  ids.adminB = adminB.id;
}, 120_000);
afterAll(() => node?.stop());

describe("authorization matrix over organisation A's resources", () => {
  for (const row of ROWS) {
    it(row.rpc, async () => {
      const actual: Record<string, string> = {};
      const wanted: Record<string, string> = {};
      for (const caller of CALLERS) {
        let opts = options(caller);
        if (caller === "keyWithPermission" || caller === "keyWithoutPermission") {
          // A key of A's admin holding exactly the RPC's permission, or one
          // holding a different one.
          const permission = row.permission || "users.read";
          const other = permission === "users.read" ? "organisations.read" : "users.read";
          opts = { headers: { "x-api-key": await keyOf([caller === "keyWithPermission" ? permission : other]) } };
        }
        actual[caller] = name(await outcome(row.call(caller, opts)));
        wanted[caller] = name(row.expected[caller]);
      }
      expect(actual).toEqual(wanted);
    });
  }
});
