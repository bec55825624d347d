/**
 * UserService accounts, state, settings and avatars, written once and run
 * against every target: the Node server (test/e2e) and the Worker inside
 * workerd (test/worker).
 *
 * Two organisations, Acme and Globex, are arranged directly in the database,
 * so these tests depend on nothing but UserService and sign-in.
 */
import { Code, createClient, type Client, type ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { SettingType } from "../../gen/latchkey/user/v1/setting_pb.js";
import { UserState, type User } from "../../gen/latchkey/user/v1/user_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { bearer, rpcError, signInPair } from "../support/rpc-calls.js";
import type { RpcTarget } from "../support/target.js";
import { ADMIN } from "./auth-suite.js";

const STRONG = "violet-anchor-meadow-71-quartz";
const DEFAULT_PROFILE = "00000000-0000-4000-8000-000000000001";
const MiB = 1024 * 1024;

// --- Images, built byte by byte: the server must judge them by content. ---

const text = new TextEncoder();
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  new DataView(out.buffer).setUint32(0, data.length);
  out.set(text.encode(type), 4);
  out.set(data, 8);
  return out;
}
const PNG_SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** A PNG of exactly `size` bytes: signature, IHDR, one IDAT that fills up, IEND. */
function png(size: number, fill = 0): Uint8Array {
  const ihdr = pngChunk("IHDR", new Uint8Array([0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]));
  return concat(PNG_SIGNATURE, ihdr, pngChunk("IDAT", new Uint8Array(size - 8 - ihdr.length - 24).fill(fill)), pngChunk("IEND", new Uint8Array()));
}
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0xff, 0xd9]);
const WEBP = (() => {
  const body = concat(text.encode("WEBPVP8L"), new Uint8Array([5, 0, 0, 0, 0x2f, 0, 0, 0, 0, 0]));
  return concat(text.encode("RIFF"), new Uint8Array([body.length, 0, 0, 0]), body);
})();
const SVG = text.encode('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
const GIF = concat(text.encode("GIF89a"), new Uint8Array([1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21, 0xf9, 4, 1, 0, 0, 0, 0, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, 0x3b]));
const TEXT_WITH_PNG_HEADER = concat(PNG_SIGNATURE, text.encode("<html><script>alert(1)</script></html> not a chunk in sight"));

interface Person {
  id: string;
  email: string;
  token: string;
  refreshToken: string;
}

let counter = 0;

export function defineUserSuite(start: () => Promise<RpcTarget>): void {
  let target: RpcTarget;
  let auth: Client<typeof AuthService>;
  let users: Client<typeof UserService>;
  /** Binary (gRPC-Web) client: a 1 MiB image fits the message limit only in binary. */
  let binaryUsers: Client<typeof UserService>;
  let root: Person;

  const run = Date.now().toString(36);
  const acme = crypto.randomUUID();
  const globex = crypto.randomUUID();
  // Acme: an owner, an admin, two members, and a member who also belongs to Globex.
  // Globex: an admin and a member.
  const people = {} as Record<"acmeOwner" | "acmeAdmin" | "alice" | "bob" | "shared" | "globexAdmin" | "gina", Person>;

  async function signIn(email: string): Promise<{ token: string; refreshToken: string }> {
    const pair = await signInPair(auth, email, email === ADMIN.email ? ADMIN.password : STRONG);
    return { token: pair.accessToken, refreshToken: pair.refreshToken };
  }

  /** A new user, optionally a member of organisations (the first one active), signed in. */
  async function person(tag: string, memberships: [string, "owner" | "admin" | "member"][] = [], name = `User ${tag}`): Promise<Person> {
    const email = `${tag}-${run}-${counter++}@${memberships[0]?.[0] === globex ? "globex" : "acme"}.example`;
    const { user } = await users.createUser({ email, name, password: STRONG });
    for (const [organisationId, role] of memberships) {
      await target.exec("INSERT INTO memberships (organisation_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)", [organisationId, user!.id, role, Date.now()]);
    }
    if (memberships[0]) await target.exec("UPDATE users SET active_organisation_id = ? WHERE id = ?", [memberships[0][0], user!.id]);
    return { id: user!.id, email, ...(await signIn(email)) };
  }

  async function validate(token: string) {
    return auth.validateToken({ token }, bearer(root.token));
  }

  async function auditCount(type: string, userId: string): Promise<number> {
    const rows = await target.exec("SELECT COUNT(*) AS n FROM audit_events WHERE type = ? AND user_id = ?", [type, userId]);
    return Number(rows[0]!.n);
  }

  function reason(error: ConnectError): string | undefined {
    return error.findDetails(ErrorInfoSchema)[0]?.reason;
  }

  beforeAll(async () => {
    target = await start();
    auth = createClient(AuthService, target.transports.connect);
    users = createClient(UserService, target.transports.connect);
    binaryUsers = createClient(UserService, target.transports.grpcWeb);
    const rootTokens = await signIn(ADMIN.email);
    const rootId = (await auth.getCurrentUser({}, bearer(rootTokens.token))).user!.id;
    root = { id: rootId, email: ADMIN.email, ...rootTokens };
    for (const [id, name] of [
      [acme, `Acme ${run}`],
      [globex, `Globex ${run}`],
    ]) {
      await target.exec("INSERT INTO organisations (id, name, name_key, security_profile_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)", [id!, name!, name!.toLowerCase(), DEFAULT_PROFILE, Date.now(), Date.now()]);
    }
    people.acmeOwner = await person("owner", [[acme, "owner"]], "Olivia Owner");
    people.acmeAdmin = await person("admin", [[acme, "admin"]], "Adam Admin");
    people.alice = await person("alice", [[acme, "member"]], "Alice Alpha");
    people.bob = await person("bob", [[acme, "member"]], "Bob Beta");
    people.shared = await person("shared", [
      [acme, "member"],
      [globex, "member"],
    ], "Sam Shared");
    people.globexAdmin = await person("gadmin", [[globex, "admin"]], "Greta Globex");
    people.gina = await person("gina", [[globex, "member"]], "Gina Globex");
  });
  afterAll(async () => {
    await target?.stop();
  });

  describe("GetUser", () => {
    it("users read themselves; admins read members of their organisation with their role there", async () => {
      const me = await users.getUser({ userId: people.alice.id }, bearer(people.alice.token));
      expect(me.user?.email).toBe(people.alice.email);
      const seen = await users.getUser({ userId: people.alice.id }, bearer(people.acmeAdmin.token));
      expect(seen.user).toMatchObject({ id: people.alice.id, organisationId: acme, roles: ["member"], state: UserState.ACTIVE });
      const byRoot = await users.getUser({ userId: people.gina.id }, bearer(root.token));
      expect(byRoot.user).toMatchObject({ organisationId: globex, roles: ["member"] });
    });

    it("anyone else gets not_found, the same as for an id that does not exist", async () => {
      const unknown = await rpcError(users.getUser({ userId: crypto.randomUUID() }, bearer(people.acmeAdmin.token)));
      expect(unknown.code).toBe(Code.NotFound);
      for (const [caller, other] of [
        [people.acmeAdmin, people.gina],
        [people.globexAdmin, people.alice],
        [people.alice, people.bob],
        [people.bob, people.acmeAdmin],
      ] as const) {
        const hidden = await rpcError(users.getUser({ userId: other.id }, bearer(caller.token)));
        expect(hidden.code).toBe(Code.NotFound);
        expect(hidden.rawMessage).toBe(unknown.rawMessage);
      }
    });

    it("a member of both organisations is seen by each admin, without the other organisation", async () => {
      const byGlobex = await users.getUser({ userId: people.shared.id }, bearer(people.globexAdmin.token));
      // Their active organisation is Acme, which Globex's admin does not administer.
      expect(byGlobex.user).toMatchObject({ id: people.shared.id, organisationId: "", roles: [] });
      const byAcme = await users.getUser({ userId: people.shared.id }, bearer(people.acmeAdmin.token));
      expect(byAcme.user).toMatchObject({ organisationId: acme, roles: ["member"] });
    });
  });

  describe("UpdateUser", () => {
    it("changes the fields in the mask, and a new phone number is no longer verified", async () => {
      const carol = await person("carol", [[acme, "member"]]);
      await users.updateUser({ user: { id: carol.id, phoneNumber: "+31612345678" }, updateMask: { paths: ["phone_number"] } }, bearer(carol.token));
      await target.exec("UPDATE users SET phone_verified_at = ? WHERE id = ?", [Date.now(), carol.id]);
      const same = await users.updateUser({ user: { id: carol.id, name: "Carol Renamed", phoneNumber: "+31612345678" }, updateMask: { paths: ["name", "phone_number"] } }, bearer(carol.token));
      expect(same.user).toMatchObject({ name: "Carol Renamed", phoneNumber: "+31612345678", phoneVerified: true });
      const changed = await users.updateUser({ user: { id: carol.id, phoneNumber: "+31687654321", title: "ignored" }, updateMask: { paths: ["phone_number"] } }, bearer(carol.token));
      expect(changed.user).toMatchObject({ phoneNumber: "+31687654321", phoneVerified: false, title: "", name: "Carol Renamed" });
      expect(await auditCount("user.updated", carol.id)).toBe(3);
    });

    it("without a mask writes every writable field", async () => {
      const dave = await person("dave", [[acme, "member"]]);
      const { user } = await users.updateUser(
        { user: { id: dave.id, name: "Dave Full", locale: "nl-NL", newsletter: true, title: "Engineer", department: "R&D", email: "evil@example.com", state: UserState.BLOCKED, roles: ["super_admin"] } },
        bearer(dave.token),
      );
      expect(user).toMatchObject({ name: "Dave Full", locale: "nl-NL", newsletter: true, title: "Engineer", department: "R&D", phoneNumber: "", email: dave.email, state: UserState.ACTIVE, roles: ["member"] });
    });

    it("refuses unknown and output-only paths by name, and bad values by field", async () => {
      for (const path of ["email", "state", "roles", "id", "nonsense"]) {
        const error = await rpcError(users.updateUser({ user: { id: people.bob.id, name: "x" }, updateMask: { paths: ["name", path] } }, bearer(people.bob.token)));
        expect(error.code).toBe(Code.InvalidArgument);
        expect(error.rawMessage).toContain(`"${path}"`);
        expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("update_mask");
      }
      const bad = await rpcError(users.updateUser({ user: { id: people.bob.id, name: " ", phoneNumber: "0612345678", locale: "not a locale!" }, updateMask: { paths: ["name", "phone_number", "locale"] } }, bearer(people.bob.token)));
      expect(bad.code).toBe(Code.InvalidArgument);
      expect(bad.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(["user.name", "user.phone_number", "user.locale"]);
    });

    it("admins update members of their organisation, but not owners, nor other organisations' users", async () => {
      const { user } = await users.updateUser({ user: { id: people.alice.id, title: "Lead" }, updateMask: { paths: ["title"] } }, bearer(people.acmeAdmin.token));
      expect(user?.title).toBe("Lead");
      expect((await rpcError(users.updateUser({ user: { id: people.acmeOwner.id, title: "x" }, updateMask: { paths: ["title"] } }, bearer(people.acmeAdmin.token)))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(users.updateUser({ user: { id: people.gina.id, title: "x" }, updateMask: { paths: ["title"] } }, bearer(people.acmeAdmin.token)))).code).toBe(Code.NotFound);
      expect((await rpcError(users.updateUser({ user: { id: people.bob.id, title: "x" }, updateMask: { paths: ["title"] } }, bearer(people.alice.token)))).code).toBe(Code.NotFound);
    });
  });

  describe("ListUsers", () => {
    const acmeMembers = () => [people.acmeOwner, people.acmeAdmin, people.alice, people.bob, people.shared].map((p) => p.id);

    async function listAll(token: string, request: { filter?: string; orderBy?: string; pageSize: number; organisationId?: string }): Promise<{ ids: string[]; totals: number[]; pages: number }> {
      const ids: string[] = [];
      const totals: number[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const page = await users.listUsers({ ...request, pageToken }, bearer(token));
        ids.push(...page.users.map((u) => u.id));
        totals.push(page.totalSize);
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken && pages < 100);
      return { ids, totals, pages };
    }

    it("lists the members of the caller's organisation, oldest first, and nobody else", async () => {
      const page = await users.listUsers({ filter: `email:"*-${run}-*"` }, bearer(people.acmeAdmin.token));
      // Carol and Dave joined Acme in the UpdateUser tests; the order is by creation.
      expect(page.users.map((u) => u.id).filter((id) => acmeMembers().includes(id))).toEqual(acmeMembers());
      expect(page.users.map((u) => u.id)).not.toContain(people.gina.id);
      expect(page.users.map((u) => u.id)).not.toContain(people.globexAdmin.id);
      expect(page.totalSize).toBe(page.users.length);
      const globexPage = await users.listUsers({}, bearer(people.globexAdmin.token));
      expect(globexPage.users.map((u) => u.id).sort()).toEqual([people.globexAdmin.id, people.gina.id, people.shared.id].sort());
      // Sam's active organisation is Acme: Globex's admin does not see it.
      expect(globexPage.users.find((u) => u.id === people.shared.id)).toMatchObject({ organisationId: "", roles: [] });
    });

    it("refuses members, other organisations, and callers without one", async () => {
      expect((await rpcError(users.listUsers({}, bearer(people.alice.token)))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(users.listUsers({ organisationId: globex }, bearer(people.acmeAdmin.token)))).code).toBe(Code.PermissionDenied);
      const loner = await person("loner");
      expect((await rpcError(users.listUsers({}, bearer(loner.token)))).code).toBe(Code.PermissionDenied);
    });

    it("lists every user for a super-admin without an organisation, or one organisation on request", async () => {
      const everyone = await users.listUsers({ pageSize: 1000 }, bearer(root.token));
      const ids = everyone.users.map((u) => u.id);
      for (const p of Object.values(people)) expect(ids).toContain(p.id);
      expect(ids).toContain(root.id);
      expect(everyone.totalSize).toBe(ids.length);
      const globexOnly = await users.listUsers({ organisationId: globex }, bearer(root.token));
      expect(globexOnly.users.map((u) => u.id).sort()).toEqual([people.globexAdmin.id, people.gina.id, people.shared.id].sort());
    });

    it("filters, orders and pages, with total_size counting what the filter matches", async () => {
      const filter = `email:"*-${run}-*@acme.example" AND suspended=false`;
      const all = await users.listUsers({ filter, orderBy: "name", pageSize: 1000 }, bearer(people.acmeAdmin.token));
      const names = all.users.map((u) => u.name);
      expect(names).toEqual([...names].sort());
      expect(names).toEqual(expect.arrayContaining(["Adam Admin", "Alice Alpha", "Bob Beta", "Olivia Owner", "Sam Shared"]));
      const paged = await listAll(people.acmeAdmin.token, { filter, orderBy: "name", pageSize: 2 });
      expect(paged.ids).toEqual(all.users.map((u) => u.id));
      expect(paged.pages).toBe(Math.ceil(all.users.length / 2));
      expect(new Set(paged.totals)).toEqual(new Set([all.users.length]));

      const newest = await users.listUsers({ filter, orderBy: "-created_at" }, bearer(people.acmeAdmin.token));
      const created = newest.users.map((u) => Number(u.createdAt!.seconds) * 1000 + Math.floor(u.createdAt!.nanos / 1e6));
      expect(created).toEqual([...created].sort((a, b) => b - a));
      expect(newest.users[0]?.id).toBe(all.users.reduce((a, b) => (Number(b.createdAt!.seconds) * 1e9 + b.createdAt!.nanos > Number(a.createdAt!.seconds) * 1e9 + a.createdAt!.nanos ? b : a)).id);

      const alphas = await users.listUsers({ filter: `name:"Al*" OR name:"*Beta"`, orderBy: "-name" }, bearer(people.acmeAdmin.token));
      expect(alphas.users.map((u) => u.name)).toEqual(["Bob Beta", "Alice Alpha"]);
      expect(alphas.totalSize).toBe(2);
    });

    it("offset skips rows after the page token's position", async () => {
      const filter = `email:"*-${run}-*@acme.example"`;
      const all = (await users.listUsers({ filter, pageSize: 1000 }, bearer(people.acmeAdmin.token))).users.map((u) => u.id);
      const skipped = await users.listUsers({ filter, offset: 1, pageSize: 2 }, bearer(people.acmeAdmin.token));
      expect(skipped.users.map((u) => u.id)).toEqual(all.slice(1, 3));
      const next = await users.listUsers({ filter, offset: 1, pageSize: 2, pageToken: skipped.nextPageToken }, bearer(people.acmeAdmin.token));
      expect(next.users.map((u) => u.id)).toEqual(all.slice(4, 6));
    });

    it("read_mask \"id\" returns ids only, and a list of fields returns those", async () => {
      const ids = await users.listUsers({ readMask: { paths: ["id"] } }, bearer(people.acmeAdmin.token));
      expect(ids.users.length).toBeGreaterThan(0);
      for (const user of ids.users) {
        expect(user.id).toMatch(/^[0-9a-f-]{36}$/);
        expect(user).toMatchObject({ email: "", name: "", roles: [], state: UserState.UNSPECIFIED, organisationId: "" } satisfies Partial<User>);
        expect(user.createdAt).toBeUndefined();
      }
      const some = await users.listUsers({ readMask: { paths: ["email", "created_at"] } }, bearer(people.acmeAdmin.token));
      expect(some.users[0]).toMatchObject({ id: "", name: "" });
      expect(some.users[0]!.email).not.toBe("");
      expect(some.users[0]!.createdAt).toBeDefined();
      const star = await users.listUsers({ readMask: { paths: ["*"] } }, bearer(people.acmeAdmin.token));
      expect(star.users[0]!.email).not.toBe("");
    });

    it("answers invalid_argument naming the problem", async () => {
      const token = bearer(people.acmeAdmin.token);
      const cases: [Parameters<typeof users.listUsers>[0], string, string][] = [
        [{ filter: "password = x" }, "filter", "unknown field"],
        [{ filter: "name = " }, "filter", "expected a value"],
        [{ filter: "state = ZOMBIE" }, "filter", "ZOMBIE"],
        [{ orderBy: "password" }, "order_by", "unknown field"],
        [{ orderBy: "created_at desc" }, "order_by", '"-created_at"'],
        [{ pageSize: -1 }, "page_size", "negative"],
        [{ offset: -1 }, "offset", "negative"],
        [{ readMask: { paths: ["password_hash"] } }, "read_mask", "password_hash"],
        [{ pageToken: "garbage" }, "page_token", "not a valid page token"],
      ];
      for (const [request, field, text] of cases) {
        const error = await rpcError(users.listUsers(request, token));
        expect(error.code, JSON.stringify(request)).toBe(Code.InvalidArgument);
        expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe(field);
        expect(error.rawMessage).toContain(text);
      }
    });

    it("binds page tokens to the filter, the order and the organisation", async () => {
      const first = await users.listUsers({ pageSize: 1, orderBy: "name" }, bearer(people.acmeAdmin.token));
      expect(first.nextPageToken).not.toBe("");
      const token = first.nextPageToken;
      for (const [request, caller] of [
        [{ orderBy: "email" }, people.acmeAdmin],
        [{ orderBy: "name", filter: "suspended = false" }, people.acmeAdmin],
        [{ orderBy: "name" }, people.globexAdmin],
        [{ orderBy: "name" }, root],
      ] as const) {
        const error = await rpcError(users.listUsers({ ...request, pageToken: token, pageSize: 1 }, bearer(caller.token)));
        expect(error.code).toBe(Code.InvalidArgument);
      }
      const tampered = `${token.slice(0, -3)}${token.endsWith("AAA") ? "BBB" : "AAA"}`;
      expect((await rpcError(users.listUsers({ orderBy: "name", pageToken: tampered }, bearer(people.acmeAdmin.token)))).code).toBe(Code.InvalidArgument);
      // The same query with another page size continues where it left off.
      const second = await users.listUsers({ orderBy: "name", pageToken: token, pageSize: 5 }, bearer(people.acmeAdmin.token));
      expect(second.users[0]?.id).not.toBe(first.users[0]?.id);
    });
  });

  describe("SuspendUser, BlockUser and back", () => {
    it("suspension ends sessions at once, is audited, and is lifted by UnsuspendUser", async () => {
      const erin = await person("erin", [[acme, "member"]]);
      expect((await validate(erin.token)).active).toBe(true);
      const { user } = await users.suspendUser({ userId: erin.id, reason: "left the company" }, bearer(people.acmeAdmin.token));
      expect(user?.state).toBe(UserState.SUSPENDED);
      expect((await validate(erin.token)).active).toBe(false);
      expect((await rpcError(auth.refreshToken({ refreshToken: erin.refreshToken }))).code).toBe(Code.Unauthenticated);
      expect((await rpcError(auth.signIn({ identifier: { case: "email", value: erin.email }, password: STRONG }))).code).toBe(Code.Unauthenticated);
      const live = await target.exec("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ? AND revoked_at IS NULL", [erin.id]);
      expect(Number(live[0]!.n)).toBe(0);
      expect(await auditCount("user.suspended", erin.id)).toBe(1);
      // Suspending again changes nothing and writes nothing.
      expect((await users.suspendUser({ userId: erin.id }, bearer(people.acmeAdmin.token))).user?.state).toBe(UserState.SUSPENDED);
      expect(await auditCount("user.suspended", erin.id)).toBe(1);

      const back = await users.unsuspendUser({ userId: erin.id }, bearer(people.acmeAdmin.token));
      expect(back.user?.state).toBe(UserState.ACTIVE);
      const again = await signIn(erin.email);
      expect((await validate(again.token)).active).toBe(true);
      expect(await auditCount("user.unsuspended", erin.id)).toBe(1);
    });

    it("nobody suspends or blocks themselves", async () => {
      // One call at a time: a rejection made ahead of its await would go unhandled meanwhile.
      for (const call of [() => users.suspendUser({ userId: people.acmeAdmin.id }, bearer(people.acmeAdmin.token)), () => users.blockUser({ userId: people.acmeAdmin.id }, bearer(people.acmeAdmin.token))]) {
        expect((await rpcError(call())).code).toBe(Code.FailedPrecondition);
      }
    });

    it("members cannot suspend; admins cannot reach other organisations or owners", async () => {
      expect((await rpcError(users.suspendUser({ userId: people.bob.id }, bearer(people.alice.token)))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(users.suspendUser({ userId: people.gina.id }, bearer(people.acmeAdmin.token)))).code).toBe(Code.NotFound);
      expect((await rpcError(users.suspendUser({ userId: people.acmeOwner.id }, bearer(people.acmeAdmin.token)))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(users.suspendUser({ userId: root.id }, bearer(people.acmeAdmin.token)))).code).toBe(Code.NotFound);
    });

    it("a block of someone in another organisation too is for super-admins, and only they lift it", async () => {
      const frank = await person("frank", [
        [acme, "member"],
        [globex, "member"],
      ]);
      expect((await rpcError(users.blockUser({ userId: frank.id }, bearer(people.acmeAdmin.token)))).code).toBe(Code.PermissionDenied);
      // Suspension is per-person and reversible: either admin may.
      expect((await users.suspendUser({ userId: frank.id }, bearer(people.globexAdmin.token))).user?.state).toBe(UserState.SUSPENDED);
      const { user } = await users.blockUser({ userId: frank.id, reason: "abuse" }, bearer(root.token));
      expect(user?.state).toBe(UserState.BLOCKED);
      expect(await auditCount("user.blocked", frank.id)).toBe(1);
      // Unsuspending must not lift a block.
      const lifted = await rpcError(users.unsuspendUser({ userId: frank.id }, bearer(people.acmeAdmin.token)));
      expect(lifted.code).toBe(Code.FailedPrecondition);
      expect((await rpcError(users.unblockUser({ userId: frank.id }, bearer(people.acmeAdmin.token)))).code).toBe(Code.PermissionDenied);
      expect((await users.unblockUser({ userId: frank.id }, bearer(root.token))).user?.state).toBe(UserState.ACTIVE);
      expect((await validate((await signIn(frank.email)).token)).active).toBe(true);
    });

    it("an admin blocks a member who belongs only to their organisation; tokens die at once", async () => {
      const grace = await person("grace", [[acme, "member"]]);
      const key = await auth.createApiKey({ name: "mine", permissions: ["users.read"] }, bearer(grace.token));
      await users.blockUser({ userId: grace.id }, bearer(people.acmeAdmin.token));
      expect((await validate(grace.token)).active).toBe(false);
      expect((await validate(key.key)).active).toBe(false);
      expect((await rpcError(users.getUser({ userId: grace.id }, { headers: { "x-api-key": key.key } }))).code).toBe(Code.Unauthenticated);
    });
  });

  describe("DeleteUser", () => {
    it("users delete themselves: sessions, memberships, settings and avatar go with them", async () => {
      const hank = await person("hank", [[acme, "member"]]);
      await users.setSetting({ setting: { category: "ui", group: "theme", name: "mode", value: "dark", type: SettingType.STRING } }, bearer(hank.token));
      await users.setAvatar({ image: png(100) }, bearer(hank.token));
      await users.deleteUser({ userId: hank.id }, bearer(hank.token));
      expect((await validate(hank.token)).active).toBe(false);
      expect((await rpcError(users.getUser({ userId: hank.id }, bearer(root.token)))).code).toBe(Code.NotFound);
      for (const table of ["sessions", "memberships", "settings", "avatars"]) {
        const rows = await target.exec(`SELECT COUNT(*) AS n FROM ${table} WHERE user_id = ?`, [hank.id]);
        expect(Number(rows[0]!.n), table).toBe(0);
      }
      expect(await auditCount("user.deleted", hank.id)).toBe(1);
      expect((await rpcError(users.deleteUser({ userId: hank.id }, bearer(root.token)))).code).toBe(Code.NotFound);
    });

    it("admins delete members who belong to nothing else; the rest is for super-admins", async () => {
      const ivan = await person("ivan", [[acme, "member"]]);
      await users.deleteUser({ userId: ivan.id }, bearer(people.acmeAdmin.token));
      expect(await auditCount("user.deleted", ivan.id)).toBe(1);
      const jane = await person("jane", [
        [acme, "member"],
        [globex, "member"],
      ]);
      expect((await rpcError(users.deleteUser({ userId: jane.id }, bearer(people.acmeAdmin.token)))).code).toBe(Code.PermissionDenied);
      expect((await rpcError(users.deleteUser({ userId: jane.id }, bearer(people.alice.token)))).code).toBe(Code.NotFound);
      await users.deleteUser({ userId: jane.id }, bearer(root.token));
    });

    it("refuses to delete the last owner of an organisation, naming the reason", async () => {
      const solo = crypto.randomUUID();
      await target.exec("INSERT INTO organisations (id, name, name_key, security_profile_id, created_at, updated_at) VALUES (?, ?, ?, ?, 0, 0)", [solo, `Solo ${run}`, `solo ${run}`, DEFAULT_PROFILE]);
      const kate = await person("kate", [[solo, "owner"]]);
      for (const caller of [kate, root]) {
        const error = await rpcError(users.deleteUser({ userId: kate.id }, bearer(caller.token)));
        expect(error.code).toBe(Code.FailedPrecondition);
        expect(reason(error)).toBe("LAST_OWNER");
        expect(error.findDetails(ErrorInfoSchema)[0]?.metadata.organisation_ids).toBe(solo);
      }
      expect(await auditCount("user.deleted", kate.id)).toBe(0);
      // With a second owner the first may go.
      const leo = await person("leo", [[solo, "owner"]]);
      await users.deleteUser({ userId: kate.id }, bearer(kate.token));
      expect((await rpcError(users.getUser({ userId: kate.id }, bearer(root.token)))).code).toBe(Code.NotFound);
      expect(leo.id).toBeTruthy();
    });
  });

  describe("settings", () => {
    it("users set, list and delete their settings; values must parse as their type", async () => {
      const mia = await person("mia", [[acme, "member"]]);
      const set = (setting: { category: string; group: string; name: string; value: string; type: SettingType; description?: string; readOnly?: boolean }, token = mia.token, userId = "") =>
        users.setSetting({ userId, setting }, bearer(token));
      const stored = await set({ category: "notifications", group: "email", name: "weekly_digest", value: "true", type: SettingType.BOOL, description: "Weekly mail" });
      expect(stored.setting).toMatchObject({ value: "true", type: SettingType.BOOL, readOnly: false });
      await set({ category: "notifications", group: "email", name: "limit", value: "-7", type: SettingType.INT });
      await set({ category: "ui", group: "layout", name: "panels", value: '{"left":true}', type: SettingType.JSON });
      await set({ category: "notifications", group: "email", name: "weekly_digest", value: "false", type: SettingType.BOOL });
      const listed = await users.listSettings({}, bearer(mia.token));
      expect(listed.settings.map((s) => `${s.category}/${s.group}/${s.name}=${s.value}`)).toEqual(["notifications/email/limit=-7", "notifications/email/weekly_digest=false", "ui/layout/panels={\"left\":true}"]);
      expect((await users.listSettings({ category: "ui" }, bearer(mia.token))).settings).toHaveLength(1);

      for (const [setting, field] of [
        [{ category: "ui", group: "x", name: "n", value: "yes", type: SettingType.BOOL }, "setting.value"],
        [{ category: "ui", group: "x", name: "n", value: "4.2", type: SettingType.INT }, "setting.value"],
        [{ category: "ui", group: "x", name: "n", value: "99999999999999999999", type: SettingType.INT }, "setting.value"],
        [{ category: "ui", group: "x", name: "n", value: "{", type: SettingType.JSON }, "setting.value"],
        [{ category: "ui", group: "x", name: "n", value: "x".repeat(4097), type: SettingType.STRING }, "setting.value"],
        [{ category: "has space", group: "x", name: "n", value: "", type: SettingType.STRING }, "setting.category"],
        [{ category: "ui", group: "", name: "n", value: "", type: SettingType.STRING }, "setting.group"],
        [{ category: "ui", group: "x", name: "n".repeat(65), value: "", type: SettingType.STRING }, "setting.name"],
      ] as const) {
        const error = await rpcError(set(setting));
        expect(error.code, JSON.stringify(setting).slice(0, 80)).toBe(Code.InvalidArgument);
        expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe(field);
      }
      await set({ category: "ui", group: "x", name: "n", value: "x".repeat(4096), type: SettingType.STRING });

      await users.deleteSetting({ category: "ui", group: "layout", name: "panels" }, bearer(mia.token));
      expect((await rpcError(users.deleteSetting({ category: "ui", group: "layout", name: "panels" }, bearer(mia.token)))).code).toBe(Code.NotFound);
      expect(await auditCount("setting.set", mia.id)).toBe(5);
      expect(await auditCount("setting.deleted", mia.id)).toBe(1);
    });

    it("read-only settings are made by admins; the user reads them but cannot change or delete them", async () => {
      const nina = await person("nina", [[acme, "member"]]);
      const policy = { category: "security", group: "mfa", name: "required", value: "true", type: SettingType.BOOL, readOnly: true };
      expect((await rpcError(users.setSetting({ setting: policy }, bearer(nina.token)))).code).toBe(Code.PermissionDenied);
      const made = await users.setSetting({ userId: nina.id, setting: policy }, bearer(people.acmeAdmin.token));
      expect(made.setting?.readOnly).toBe(true);
      expect((await users.listSettings({}, bearer(nina.token))).settings[0]).toMatchObject({ name: "required", readOnly: true });
      const change = await rpcError(users.setSetting({ setting: { ...policy, value: "false", readOnly: false } }, bearer(nina.token)));
      expect(change.code).toBe(Code.PermissionDenied);
      expect((await rpcError(users.deleteSetting({ category: "security", group: "mfa", name: "required" }, bearer(nina.token)))).code).toBe(Code.PermissionDenied);
      expect((await users.listSettings({}, bearer(nina.token))).settings[0]?.value).toBe("true");
      // Other organisations' admins see nothing; the user's admin removes it.
      expect((await rpcError(users.listSettings({ userId: nina.id }, bearer(people.globexAdmin.token)))).code).toBe(Code.NotFound);
      expect((await rpcError(users.setSetting({ userId: nina.id, setting: policy }, bearer(people.globexAdmin.token)))).code).toBe(Code.NotFound);
      await users.deleteSetting({ userId: nina.id, category: "security", group: "mfa", name: "required" }, bearer(people.acmeAdmin.token));
      expect((await users.listSettings({ userId: nina.id }, bearer(people.acmeAdmin.token))).settings).toHaveLength(0);
    });
  });

  describe("avatars", () => {
    it("accepts PNG, JPEG and WebP by content, and serves them with an ETag", async () => {
      const olga = await person("olga", [[acme, "member"]]);
      for (const [image, type] of [
        [png(200, 7), "image/png"],
        [JPEG, "image/jpeg"],
        [WEBP, "image/webp"],
      ] as const) {
        const { avatar } = await users.setAvatar({ image }, bearer(olga.token));
        expect(avatar).toMatchObject({ userId: olga.id, contentType: type, sizeBytes: BigInt(image.length), url: `/avatars/${olga.id}` });
        expect(avatar!.etag).toMatch(/^"[0-9a-f]{64}"$/);
        const got = await users.getAvatar({}, bearer(olga.token));
        expect(got.image).toEqual(image);
        expect(got.avatar?.etag).toBe(avatar!.etag);

        const response = await target.fetch(`${target.baseUrl}${avatar!.url}`);
        expect(response.status).toBe(200);
        expect(response.headers.get("content-type")).toBe(type);
        expect(response.headers.get("etag")).toBe(avatar!.etag);
        expect(response.headers.get("x-content-type-options")).toBe("nosniff");
        expect(response.headers.get("cache-control")).toBe("private, max-age=300");
        expect(response.headers.get("content-security-policy")).toBe("default-src 'none'");
        expect(new Uint8Array(await response.arrayBuffer())).toEqual(image);
        const cached = await target.fetch(`${target.baseUrl}${avatar!.url}`, { headers: { "if-none-match": `W/"0000", ${avatar!.etag}` } });
        expect(cached.status).toBe(304);
        expect(cached.headers.get("etag")).toBe(avatar!.etag);
        expect((await cached.arrayBuffer()).byteLength).toBe(0);
        const stale = await target.fetch(`${target.baseUrl}${avatar!.url}`, { headers: { "if-none-match": '"0000"' } });
        expect(stale.status).toBe(200);
        await stale.arrayBuffer();
      }
      expect(await auditCount("avatar.set", olga.id)).toBe(3);
      await users.deleteAvatar({}, bearer(olga.token));
      expect((await target.fetch(`${target.baseUrl}/avatars/${olga.id}`)).status).toBe(404);
      expect((await rpcError(users.getAvatar({}, bearer(olga.token)))).code).toBe(Code.NotFound);
      expect((await rpcError(users.deleteAvatar({}, bearer(olga.token)))).code).toBe(Code.NotFound);
      expect(await auditCount("avatar.deleted", olga.id)).toBe(1);
    });

    it("refuses SVG, GIF, text behind a PNG signature, and anything over 1 MiB", async () => {
      const pete = await person("pete", [[acme, "member"]]);
      for (const image of [SVG, GIF, TEXT_WITH_PNG_HEADER, text.encode("just text")]) {
        const error = await rpcError(users.setAvatar({ image }, bearer(pete.token)));
        expect(error.code).toBe(Code.InvalidArgument);
        expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("image");
      }
      const largest = await binaryUsers.setAvatar({ image: png(MiB) }, bearer(pete.token));
      expect(largest.avatar?.sizeBytes).toBe(BigInt(MiB));
      const tooLarge = await rpcError(binaryUsers.setAvatar({ image: png(MiB + 1) }, bearer(pete.token)));
      expect(tooLarge.code).toBe(Code.InvalidArgument);
      expect(tooLarge.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("image");
      // The refused image left the stored one alone.
      expect((await users.getAvatar({}, bearer(pete.token))).avatar?.sizeBytes).toBe(BigInt(MiB));
    });

    it("admins manage avatars of their members only; unknown users and ids get 404 on the route", async () => {
      const { avatar } = await users.setAvatar({ userId: people.bob.id, image: JPEG }, bearer(people.acmeAdmin.token));
      expect(avatar?.userId).toBe(people.bob.id);
      expect((await rpcError(users.setAvatar({ userId: people.gina.id, image: JPEG }, bearer(people.acmeAdmin.token)))).code).toBe(Code.NotFound);
      expect((await rpcError(users.getAvatar({ userId: people.bob.id }, bearer(people.globexAdmin.token)))).code).toBe(Code.NotFound);
      expect((await rpcError(users.deleteAvatar({ userId: people.bob.id }, bearer(people.alice.token)))).code).toBe(Code.NotFound);
      for (const path of [`/avatars/${crypto.randomUUID()}`, "/avatars/not-a-uuid", `/avatars/${people.alice.id}`]) {
        const response = await target.fetch(`${target.baseUrl}${path}`);
        expect(response.status, path).toBe(404);
        await response.arrayBuffer();
      }
    });
  });

  describe("isolation between organisations", () => {
    it("Globex's admin reaches no Acme-only user through any RPC, and learns nothing", async () => {
      const victim = people.alice.id;
      const token = bearer(people.globexAdmin.token);
      // Every call is made, and each answer read, in turn: a call made ahead
      // would reject before anything awaits it.
      const calls: Array<() => Promise<unknown>> = [
        () => users.getUser({ userId: victim }, token),
        () => users.updateUser({ user: { id: victim, name: "pwned" }, updateMask: { paths: ["name"] } }, token),
        () => users.deleteUser({ userId: victim }, token),
        () => users.suspendUser({ userId: victim }, token),
        () => users.unsuspendUser({ userId: victim }, token),
        () => users.blockUser({ userId: victim }, token),
        () => users.listSettings({ userId: victim }, token),
        () => users.setSetting({ userId: victim, setting: { category: "a", group: "b", name: "c", value: "d", type: SettingType.STRING } }, token),
        () => users.deleteSetting({ userId: victim, category: "a", group: "b", name: "c" }, token),
        () => users.setAvatar({ userId: victim, image: JPEG }, token),
        () => users.getAvatar({ userId: victim }, token),
        () => users.deleteAvatar({ userId: victim }, token),
      ];
      for (const call of calls) expect((await rpcError(call())).code).toBe(Code.NotFound);
      expect((await rpcError(users.listUsers({ organisationId: acme }, token))).code).toBe(Code.PermissionDenied);
      const still = await users.getUser({ userId: victim }, bearer(people.alice.token));
      expect(still.user).toMatchObject({ name: "Alice Alpha", state: UserState.ACTIVE });
    });

    it("an API key acts only in its own organisation", async () => {
      const key = await auth.createApiKey({ name: `reader-${run}`, permissions: ["users.read"] }, bearer(people.acmeAdmin.token));
      const headers = { headers: { "x-api-key": key.key } };
      expect((await users.getUser({ userId: people.alice.id }, headers)).user?.id).toBe(people.alice.id);
      expect((await users.listUsers({}, headers)).users.length).toBeGreaterThan(0);
      expect((await rpcError(users.getUser({ userId: people.gina.id }, headers))).code).toBe(Code.NotFound);
      // users.read does not allow writes.
      expect((await rpcError(users.updateUser({ user: { id: people.alice.id, name: "x" }, updateMask: { paths: ["name"] } }, headers))).code).toBe(Code.PermissionDenied);
    });
  });
}
