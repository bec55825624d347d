/**
 * LicenseService agreements, catalogue items and licences, written once and
 * run against the Node server (test/e2e) and the Worker inside workerd
 * (test/worker).
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectError, createClient, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AuthService } from "../../gen/latchkey/auth/v1/auth_service_pb.js";
import type { License } from "../../gen/latchkey/license/v1/license_pb.js";
import { LicenseService, type ListLicensesRequest } from "../../gen/latchkey/license/v1/license_service_pb.js";
import { MemberRole } from "../../gen/latchkey/organisation/v1/organisation_pb.js";
import { OrganisationService } from "../../gen/latchkey/organisation/v1/organisation_service_pb.js";
import { UserService } from "../../gen/latchkey/user/v1/user_service_pb.js";
import { bearer, joinByInvitation, rpcError, signInPair, unique } from "../support/rpc-calls.js";
import type { RpcTarget } from "../support/target.js";
import { ADMIN } from "./auth-suite.js";

const PASSWORD = "violet-anchor-meadow-71-quartz";
const UNKNOWN_ID = "00000000-0000-4000-8000-00000000dead";
const DAY = 86_400_000;
const KEY = /^LK-[2-9A-HJKMNP-TV-Z]{5}-[2-9A-HJKMNP-TV-Z]{5}-[2-9A-HJKMNP-TV-Z]{5}$/;

interface Person {
  id: string;
  email: string;
  name: string;
  token: string;
}

function violatedFields(error: ConnectError): string[] {
  return error.findDetails(BadRequestSchema).flatMap((detail) => detail.fieldViolations.map((v) => v.field));
}

export function defineLicenseSuite(start: () => Promise<RpcTarget>): void {
  let target: RpcTarget;
  let auth: Client<typeof AuthService>;
  let users: Client<typeof UserService>;
  let orgs: Client<typeof OrganisationService>;
  let licenses: Client<typeof LicenseService>;

  async function signUp(tag: string): Promise<Person> {
    const email = `${unique(tag)}@example.com`;
    const name = `User ${unique(tag)}`;
    const { user } = await users.createUser({ email, name, password: PASSWORD });
    return { id: user!.id, email, name, token: (await signInPair(auth, email, PASSWORD)).accessToken };
  }

  /** A new organisation and its owner, who has it as active organisation. */
  async function organisationWithOwner(tag: string): Promise<{ id: string; owner: Person }> {
    const owner = await signUp(`${tag}-owner`);
    const { organisation } = await orgs.createOrganisation({ name: unique(tag) }, bearer(owner.token));
    return { id: organisation!.id, owner: { ...owner, token: (await signInPair(auth, owner.email, PASSWORD)).accessToken } };
  }

  /** A new user who joined the organisation through an invitation. */
  async function join(by: Person, organisationId: string, role = MemberRole.MEMBER, tag = "member"): Promise<Person> {
    const person = await signUp(tag);
    await joinByInvitation(target, orgs, { by, person, organisationId, role });
    return { ...person, token: (await signInPair(auth, person.email, PASSWORD)).accessToken };
  }

  async function publishedAgreement(by: Person, providerId: string, fields: { name?: string; kind?: string; provides?: string[] } = {}) {
    const { agreement } = await licenses.createAgreement(
      { providerOrganisationId: providerId, name: fields.name ?? unique("Agreement"), kind: fields.kind ?? "subscription", provides: fields.provides ?? ["inference"], summary: "Terms." },
      bearer(by.token),
    );
    return (await licenses.publishAgreement({ uuid: agreement!.uuid }, bearer(by.token))).agreement!;
  }

  beforeAll(async () => {
    target = await start();
    auth = createClient(AuthService, target.transports.connect);
    users = createClient(UserService, target.transports.connect);
    orgs = createClient(OrganisationService, target.transports.connect);
    licenses = createClient(LicenseService, target.transports.connect);
  });
  afterAll(async () => {
    await target?.stop();
  });

  describe("agreements, catalogue items and licences", () => {
    let provider: { id: string; owner: Person };
    let customer: { id: string; owner: Person };
    let member: Person;
    let outsider: { id: string; owner: Person };
    let licence: License;

    beforeAll(async () => {
      [provider, customer, outsider] = await Promise.all([organisationWithOwner("provider"), organisationWithOwner("customer"), organisationWithOwner("outsider")]);
      member = await join(customer.owner, customer.id);
    });

    it("a provider admin publishes an agreement, adds a catalogue item and licenses both to a customer", async () => {
      const p = bearer(provider.owner.token);
      const { agreement: draft } = await licenses.createAgreement(
        { providerOrganisationId: provider.id, name: unique("Vision"), kind: "subscription", provides: ["inference", "camera.read", "inference"], summary: "Monthly." },
        p,
      );
      expect(draft).toMatchObject({ providerOrganisationId: provider.id, kind: "subscription", provides: ["inference", "camera.read"] });
      expect(draft!.publishedAt).toBeUndefined();

      // Drafts cannot be licensed.
      const refused = await rpcError(licenses.createLicense({ providerOrganisationId: provider.id, organisationId: customer.id, agreementUuid: draft!.uuid, maxDevices: 2 }, p));
      expect(refused.code).toBe(Code.FailedPrecondition);

      const { agreement } = await licenses.publishAgreement({ uuid: draft!.uuid }, p);
      expect(agreement!.publishedAt).toBeDefined();
      expect((await rpcError(licenses.publishAgreement({ uuid: draft!.uuid }, p))).code).toBe(Code.FailedPrecondition);

      const { item } = await licenses.createCatalogueItem({ providerOrganisationId: provider.id, name: unique("Analytics"), provides: ["analytics", "inference"] }, p);
      const listedItems = await licenses.listCatalogueItems({ providerOrganisationId: provider.id }, bearer(member.token));
      expect(listedItems.items.map((i) => i.uuid)).toEqual([item!.uuid]);

      const startsAt = Date.now() - DAY;
      const created = await licenses.createLicense(
        {
          providerOrganisationId: provider.id,
          organisationId: customer.id,
          agreementUuid: agreement!.uuid,
          catalogueUuids: [item!.uuid],
          amountPerMonth: 4900n,
          discountBp: 1500,
          startsAt: timestampFromMs(startsAt),
          expiresAt: timestampFromMs(startsAt + 365 * DAY),
          maxDevices: 5,
        },
        p,
      );
      licence = created.license!;
      expect(licence.licenseKey).toMatch(KEY);
      expect(licence).toMatchObject({
        catalogueUuids: [item!.uuid],
        providerOrganisation: { uuid: provider.id },
        organisation: { uuid: customer.id },
        amountPerMonth: 4900n,
        discountBp: 1500,
        maxDevices: 5,
        devicesAssigned: 0,
        features: ["inference", "camera.read", "analytics"],
      });
      expect(licence.agreement?.uuid).toBe(agreement!.uuid);
      expect(licence.signedUser).toBeUndefined();
      const audit = await target.exec("SELECT type FROM audit_events WHERE organisation_id = ? AND (type LIKE 'agreement.%' OR type LIKE 'license.%')", [provider.id]);
      expect(audit.map((row) => row.type)).toEqual(expect.arrayContaining(["agreement.created", "agreement.published", "license.created"]));
    });

    it("refuses bad terms naming the field, and items or agreements of another provider", async () => {
      const p = bearer(provider.owner.token);
      const agreement = await publishedAgreement(provider.owner, provider.id);
      const base = { providerOrganisationId: provider.id, organisationId: customer.id, agreementUuid: agreement.uuid, maxDevices: 1 };
      const cases: [Partial<typeof base> & Record<string, unknown>, string][] = [
        [{ maxDevices: 0 }, "max_devices"],
        [{ maxDevices: 1_000_001 }, "max_devices"],
        [{ discountBp: 10_001 }, "discount_bp"],
        [{ amountPerMonth: -1n }, "amount_per_month"],
        [{ startsAt: timestampFromMs(Date.now()), expiresAt: timestampFromMs(Date.now() - DAY) }, "expires_at"],
      ];
      for (const [change, field] of cases) {
        const error = await rpcError(licenses.createLicense({ ...base, ...change }, p));
        expect(error.code, field).toBe(Code.InvalidArgument);
        expect(violatedFields(error), field).toContain(field);
      }
      const toItself = await rpcError(licenses.createLicense({ ...base, organisationId: provider.id }, p));
      expect(violatedFields(toItself)).toEqual(["organisation_id"]);
      const foreignItem = (await licenses.createCatalogueItem({ providerOrganisationId: outsider.id, name: unique("Other"), provides: ["x"] }, bearer(outsider.owner.token))).item!;
      const withForeignItem = await rpcError(licenses.createLicense({ ...base, catalogueUuids: [foreignItem.uuid] }, p));
      expect(violatedFields(withForeignItem)).toEqual(["catalogue_uuids[0]"]);
      const foreignAgreement = await publishedAgreement(outsider.owner, outsider.id);
      expect((await rpcError(licenses.createLicense({ ...base, agreementUuid: foreignAgreement.uuid }, p))).code).toBe(Code.InvalidArgument);
      // Only the provider's admins license its agreements.
      expect((await rpcError(licenses.createLicense(base, bearer(outsider.owner.token)))).code).toBe(Code.PermissionDenied);
      const bad = await rpcError(licenses.createAgreement({ providerOrganisationId: provider.id, name: unique("Bad"), kind: "trial", provides: ["no spaces"] }, p));
      expect(violatedFields(bad)).toEqual(["provides[0]"]);
    });

    it("members of the customer see and sign the licence once; it records who and when", async () => {
      const got = await licenses.getLicense({ uuid: licence.uuid }, bearer(member.token));
      expect(got.license?.licenseKey).toBe(licence.licenseKey);
      const before = Date.now();
      const { license: signed } = await licenses.signLicense({ uuid: licence.uuid }, bearer(member.token));
      expect(signed!.signedUser).toMatchObject({ uuid: member.id, name: member.name });
      expect(Number(signed!.signedUserAt!.seconds) * 1000).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 1000);
      const again = await rpcError(licenses.signLicense({ uuid: licence.uuid }, bearer(customer.owner.token)));
      expect(again.code).toBe(Code.FailedPrecondition);
      const events = await target.exec("SELECT actor_id FROM audit_events WHERE type = 'license.signed' AND details LIKE ?", [`%${licence.uuid}%`]);
      expect(events.map((row) => row.actor_id)).toEqual([member.id]);
      // The provider sees it too.
      expect((await licenses.getLicense({ uuid: licence.uuid }, bearer(provider.owner.token))).license?.signedUser?.uuid).toBe(member.id);
    });

    it("outsiders learn nothing: not_found for the licence, the draft, and an unknown id alike", async () => {
      const o = bearer(outsider.owner.token);
      for (const call of [
        () => licenses.getLicense({ uuid: licence.uuid }, o),
        () => licenses.signLicense({ uuid: licence.uuid }, o),
        () => licenses.revokeLicense({ uuid: licence.uuid }, o),
        () => licenses.getLicense({ uuid: UNKNOWN_ID }, o),
      ]) {
        expect((await rpcError(call())).code).toBe(Code.NotFound);
      }
      const { agreement: draft } = await licenses.createAgreement({ providerOrganisationId: provider.id, name: unique("Draft"), kind: "trial", provides: ["a"] }, bearer(provider.owner.token));
      expect((await rpcError(licenses.publishAgreement({ uuid: draft!.uuid }, o))).code).toBe(Code.NotFound);
      expect((await rpcError(licenses.publishAgreement({ uuid: draft!.uuid }, bearer(member.token)))).code).toBe(Code.NotFound);
      // Drafts are listed only to their provider's members.
      const seenByOutsider = await licenses.listAgreements({ providerOrganisationId: provider.id, pageSize: 1000 }, o);
      expect(seenByOutsider.agreements.map((a) => a.uuid)).not.toContain(draft!.uuid);
      expect(seenByOutsider.agreements.length).toBeGreaterThan(0);
      const seenByProvider = await licenses.listAgreements({ providerOrganisationId: provider.id, pageSize: 1000 }, bearer(provider.owner.token));
      expect(seenByProvider.agreements.map((a) => a.uuid)).toContain(draft!.uuid);
      // A super-admin reaches every licence.
      const root = (await signInPair(auth, ADMIN.email, ADMIN.password)).accessToken;
      expect((await licenses.getLicense({ uuid: licence.uuid }, bearer(root))).license?.uuid).toBe(licence.uuid);
      // Customers may see their licence but not revoke it.
      expect((await rpcError(licenses.revokeLicense({ uuid: licence.uuid }, bearer(customer.owner.token)))).code).toBe(Code.PermissionDenied);
      // Listing another organisation is refused; the outsider's own list holds none of these.
      expect((await rpcError(licenses.listLicenses({ organisationId: customer.id }, o))).code).toBe(Code.PermissionDenied);
      expect((await licenses.listLicenses({}, o)).licenses).toEqual([]);
    });

    it("a revoked licence frees its seats at once and cannot be revoked or signed again", async () => {
      const agreement = await publishedAgreement(provider.owner, provider.id);
      const { license: fresh } = await licenses.createLicense({ providerOrganisationId: provider.id, organisationId: customer.id, agreementUuid: agreement.uuid, maxDevices: 3 }, bearer(provider.owner.token));
      const deviceId = crypto.randomUUID();
      await target.exec("INSERT INTO devices (id, organisation_id, name, serial, credential_hash, created_at) VALUES (?, ?, 'Camera', ?, 'x', ?)", [deviceId, customer.id, unique("serial"), Date.now()]);
      await target.exec("INSERT INTO device_licenses (device_id, license_id, assigned_at) VALUES (?, ?, ?)", [deviceId, fresh!.uuid, Date.now()]);
      await target.exec("UPDATE licenses SET devices_assigned = 1 WHERE id = ?", [fresh!.uuid]);
      const held = await licenses.listLicenses({ organisationId: customer.id, device: deviceId }, bearer(member.token));
      expect(held.licenses.map((l) => l.uuid)).toEqual([fresh!.uuid]);

      const { license: revoked } = await licenses.revokeLicense({ uuid: fresh!.uuid }, bearer(provider.owner.token));
      expect(revoked!.revokedAt).toBeDefined();
      expect(revoked!.devicesAssigned).toBe(0);
      expect(await target.exec("SELECT * FROM device_licenses WHERE license_id = ?", [fresh!.uuid])).toEqual([]);
      expect((await licenses.listLicenses({ organisationId: customer.id, device: deviceId }, bearer(member.token))).licenses).toEqual([]);
      expect((await rpcError(licenses.revokeLicense({ uuid: fresh!.uuid }, bearer(provider.owner.token)))).code).toBe(Code.FailedPrecondition);
      expect((await rpcError(licenses.signLicense({ uuid: fresh!.uuid }, bearer(member.token)))).code).toBe(Code.FailedPrecondition);
      const events = await target.exec("SELECT actor_id FROM audit_events WHERE type = 'license.revoked' AND details LIKE ?", [`%${fresh!.uuid}%`]);
      expect(events.map((row) => row.actor_id)).toEqual([provider.owner.id]);
    });
  });

  describe("ListLicenses", () => {
    /** The provider both provides licences (to `customer`) and holds one (from `upstream`). */
    let provider: { id: string; owner: Person };
    let customer: { id: string; owner: Person };
    let all: License[];
    let promoId: string;
    const tag = unique("set");

    beforeAll(async () => {
      let upstream: { id: string; owner: Person };
      [provider, customer, upstream] = await Promise.all([organisationWithOwner("lister"), organisationWithOwner("holder"), organisationWithOwner("upstream")]);
      const vision = await publishedAgreement(provider.owner, provider.id, { name: `Vision ${tag}`, kind: "subscription" });
      const edge = await publishedAgreement(provider.owner, provider.id, { name: `edge ${tag}`, kind: "trial" });
      const promo = await publishedAgreement(provider.owner, provider.id, { name: `Promo 100%_${tag}`, kind: "perpetual" });
      const upstreamAgreement = await publishedAgreement(upstream.owner, upstream.id, { name: `Upstream ${tag}`, kind: "subscription" });
      promoId = promo.uuid;
      const base = Date.UTC(2030, 0, 1);
      const plan = [vision, edge, promo, vision, edge, vision, promo, edge, vision, edge];
      const created: License[] = [];
      for (const [i, agreement] of plan.entries()) {
        const { license } = await licenses.createLicense(
          {
            providerOrganisationId: provider.id,
            organisationId: customer.id,
            agreementUuid: agreement.uuid,
            startsAt: timestampFromMs(base + ((i * 7) % 10) * DAY),
            // Every third licence has no end.
            expiresAt: i % 3 === 0 ? undefined : timestampFromMs(base + 400 * DAY - ((i * 3) % 10) * DAY),
            maxDevices: 1,
          },
          bearer(provider.owner.token),
        );
        created.push(license!);
      }
      for (const i of [0, 1]) {
        const { license } = await licenses.createLicense(
          { providerOrganisationId: upstream.id, organisationId: provider.id, agreementUuid: upstreamAgreement.uuid, startsAt: timestampFromMs(base + i * DAY), maxDevices: 1 },
          bearer(upstream.owner.token),
        );
        created.push(license!);
      }
      all = created;
    });

    async function list(request: Partial<Omit<ListLicensesRequest, "$typeName" | "$unknown">>, token = provider.owner.token) {
      return licenses.listLicenses({ organisationId: provider.id, limit: 1000, ...request }, bearer(token));
    }

    const value: Record<string, (l: License) => string | number> = {
      agreement_name: (l) => l.agreement!.name,
      license_key: (l) => l.licenseKey,
      starts_at: (l) => Number(l.startsAt!.seconds),
      expires_at: (l) => (l.expiresAt ? Number(l.expiresAt.seconds) : Number.MAX_SAFE_INTEGER),
      id: (l) => l.uuid,
    };

    function sorted(licences: License[], orderBy: string): string[] {
      const given = orderBy.split(",").map((t) => ({ field: t.replace("-", ""), desc: t.startsWith("-") }));
      // The id that ends the order runs in the direction of the last field.
      const terms = [...given, { field: "id", desc: given.at(-1)!.desc }];
      return [...licences]
        .sort((a, b) => {
          for (const term of terms) {
            const x = value[term.field]!(a);
            const y = value[term.field]!(b);
            if (x !== y) return (x < y ? -1 : 1) * (term.desc ? -1 : 1);
          }
          return 0;
        })
        .map((l) => l.uuid);
    }

    it("lists what the organisation holds and provides, by license_key by default, with the total", async () => {
      const listed = await list({});
      expect(listed.totalSize).toBe(12);
      expect(listed.licenses.map((l) => l.uuid)).toEqual(sorted(all, "license_key"));
      // The customer sees only what it holds; the upstream provider's other customers are not in it.
      const held = await licenses.listLicenses({}, bearer(customer.owner.token));
      expect(held.licenses.map((l) => l.uuid).sort()).toEqual(all.slice(0, 10).map((l) => l.uuid).sort());
    });

    it("orders by each field ascending and descending, and by several", async () => {
      for (const orderBy of ["agreement_name", "license_key", "starts_at", "expires_at", "-agreement_name", "-license_key", "-starts_at", "-expires_at", "agreement_name,-expires_at", "-starts_at,license_key"]) {
        const listed = await list({ orderBy });
        expect(listed.licenses.map((l) => l.uuid), orderBy).toEqual(sorted(all, orderBy));
      }
      const unknown = await rpcError(list({ orderBy: "price" }));
      expect(unknown.code).toBe(Code.InvalidArgument);
      expect(violatedFields(unknown)).toEqual(["order_by"]);
    });

    it("filters by q (any case, wildcards literal), kind and agreement", async () => {
      const vision = await list({ q: `VISION ${tag}`.toLowerCase() });
      expect(vision.licenses.map((l) => l.uuid).sort()).toEqual(all.filter((l) => l.agreement!.name.startsWith("Vision")).map((l) => l.uuid).sort());
      expect(vision.totalSize).toBe(4);
      const literal = await list({ q: "0%_" });
      expect(literal.licenses.every((l) => l.agreement!.uuid === promoId)).toBe(true);
      expect(literal.totalSize).toBe(2);
      expect((await list({ q: "%" })).totalSize).toBe(2);
      const key = all[4]!.licenseKey;
      const byKey = await list({ q: key.slice(2, 11).toLowerCase() });
      expect(byKey.licenses.map((l) => l.uuid)).toContain(all[4]!.uuid);
      expect(byKey.licenses.every((l) => l.licenseKey.includes(key.slice(2, 11)))).toBe(true);
      const trials = await list({ kind: "trial", orderBy: "-expires_at" });
      expect(trials.licenses.map((l) => l.uuid)).toEqual(sorted(all.filter((l) => l.agreement!.kind === "trial"), "-expires_at"));
      expect(trials.totalSize).toBe(4);
      const subscriptions = await list({ kind: "subscription" });
      expect(subscriptions.totalSize).toBe(6);
      const promo = await list({ agreement: promoId });
      expect(promo.licenses.map((l) => l.uuid).sort()).toEqual([all[2]!.uuid, all[6]!.uuid].sort());
      expect((await list({ q: "no such licence" })).licenses).toEqual([]);
      // "e" may be in a key or a name.
      const either = await list({ q: "e", orderBy: "expires_at" });
      const expected = all.filter((l) => l.licenseKey.toLowerCase().includes("e") || l.agreement!.name.toLowerCase().includes("e"));
      expect(either.licenses.map((l) => l.uuid)).toEqual(sorted(expected, "expires_at"));
      expect(either.totalSize).toBe(expected.length);
    });

    it("pages with offset and limit, and with page tokens bound to the query", async () => {
      const full = sorted(all, "-starts_at");
      const slice = await list({ orderBy: "-starts_at", offset: 3, limit: 4 });
      expect(slice.licenses.map((l) => l.uuid)).toEqual(full.slice(3, 7));
      expect(slice.totalSize).toBe(12);

      const seen: string[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const page = await list({ orderBy: "-starts_at", limit: 0, pageSize: 5, pageToken });
        seen.push(...page.licenses.map((l) => l.uuid));
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual(full);

      const first = await list({ orderBy: "-starts_at", limit: 0, pageSize: 5 });
      const token = first.nextPageToken;
      for (const other of [{ orderBy: "starts_at" }, { orderBy: "-starts_at", kind: "trial" }, { orderBy: "-starts_at", q: "vision" }]) {
        const error = await rpcError(list({ ...other, limit: 0, pageSize: 5, pageToken: token }));
        expect(error.code, JSON.stringify(other)).toBe(Code.InvalidArgument);
        expect(violatedFields(error)).toEqual(["page_token"]);
      }
      const tampered = `${token.slice(0, -2)}${token.endsWith("AA") ? "BB" : "AA"}`;
      expect(violatedFields(await rpcError(list({ orderBy: "-starts_at", limit: 0, pageSize: 5, pageToken: tampered })))).toEqual(["page_token"]);
      // The token of one organisation's list is no good for another's.
      const elsewhere = await rpcError(licenses.listLicenses({ organisationId: customer.id, orderBy: "-starts_at", pageSize: 5, pageToken: token }, bearer(customer.owner.token)));
      expect(elsewhere.code).toBe(Code.InvalidArgument);
      expect((await rpcError(list({ offset: -1 }))).code).toBe(Code.InvalidArgument);
    });

    it("filters by kind and agreement exactly when another provider's agreement shares a name", async () => {
      const other = await organisationWithOwner("namesake");
      const namesake = await publishedAgreement(other.owner, other.id, { name: `Vision ${tag}`, kind: "trial" });
      const { license } = await licenses.createLicense({ providerOrganisationId: other.id, organisationId: provider.id, agreementUuid: namesake.uuid, maxDevices: 1 }, bearer(other.owner.token));
      const withNamesake = [...all, license!];
      for (const kind of ["trial", "subscription"]) {
        const listed = await list({ kind });
        expect(listed.licenses.map((l) => l.uuid).sort(), kind).toEqual(withNamesake.filter((l) => l.agreement!.kind === kind).map((l) => l.uuid).sort());
        expect(listed.totalSize).toBe(listed.licenses.length);
      }
      const vision = all[0]!.agreement!.uuid;
      const byAgreement = await list({ agreement: vision });
      expect(byAgreement.licenses.map((l) => l.uuid).sort()).toEqual(all.filter((l) => l.agreement!.uuid === vision).map((l) => l.uuid).sort());
      expect(byAgreement.totalSize).toBe(4);
    });

    it("keeps total_size right as licences come and their holder organisation goes", async () => {
      const leaving = await organisationWithOwner("leaving");
      const vision = all[0]!.agreement!.uuid;
      const totals = async () => Promise.all([list({}), list({ kind: "subscription" }), list({ agreement: vision }), list({ q: `vision ${tag}` })].map(async (answer) => (await answer).totalSize));
      const before = await totals();
      for (let i = 0; i < 2; i++) {
        await licenses.createLicense({ providerOrganisationId: provider.id, organisationId: leaving.id, agreementUuid: vision, maxDevices: 1 }, bearer(provider.owner.token));
      }
      expect(await totals()).toEqual(before.map((n) => n + 2));
      await orgs.deleteOrganisation({ organisationId: leaving.id }, bearer(leaving.owner.token));
      expect(await totals()).toEqual(before);
    });

    it("skips an offset into a filtered list, and into one ordered by several fields", async () => {
      const trials = (await list({ kind: "trial", orderBy: "-expires_at" })).licenses.map((l) => l.uuid);
      expect((await list({ kind: "trial", orderBy: "-expires_at", offset: 1, limit: 2 })).licenses.map((l) => l.uuid)).toEqual(trials.slice(1, 3));
      const names = (await list({ q: "vision", orderBy: "starts_at" })).licenses.map((l) => l.uuid);
      expect((await list({ q: "vision", orderBy: "starts_at", offset: 2, limit: 2 })).licenses.map((l) => l.uuid)).toEqual(names.slice(2, 4));
      const several = (await list({ orderBy: "agreement_name,-starts_at" })).licenses.map((l) => l.uuid);
      expect((await list({ orderBy: "agreement_name,-starts_at", offset: 5, limit: 3 })).licenses.map((l) => l.uuid)).toEqual(several.slice(5, 8));
    });

    it("finds q in keys and names exactly, whatever its length and case, also after licences come and go", async () => {
      const [seller, buyer] = await Promise.all([organisationWithOwner("grams-seller"), organisationWithOwner("grams-buyer")]);
      // Key symbols in a name: "ab" may be in a key or in this name.
      const agreements = [await publishedAgreement(seller.owner, seller.id, { name: unique("Cab Basic"), kind: "subscription" }), await publishedAgreement(seller.owner, seller.id, { name: unique("Vision"), kind: "trial" })];
      const create = async (i: number) =>
        (
          await licenses.createLicense(
            { providerOrganisationId: seller.id, organisationId: buyer.id, agreementUuid: agreements[i % 2]!.uuid, startsAt: timestampFromMs(Date.UTC(2030, 0, 1) + (i % 5) * DAY), maxDevices: 1 },
            bearer(seller.owner.token),
          )
        ).license!;
      const held: License[] = [];
      for (let i = 0; i < 12; i++) held.push(await create(i));
      const seen = (q: string, among: License[]) => among.filter((l) => l.licenseKey.toLowerCase().includes(q.toLowerCase()) || l.agreement!.name.toLowerCase().includes(q.toLowerCase()));
      // Each fragment in one of the orders, in turn: a sort of the matches, and two walks of an index.
      const orders = ["agreement_name,-starts_at", "-expires_at", "license_key"];
      let checks = 0;
      const check = async (q: string, among: License[]) => {
        const expected = seen(q, among);
        const orderBy = orders[checks++ % orders.length]!;
        const listed = await licenses.listLicenses({ organisationId: seller.id, q, orderBy, limit: 1000 }, bearer(seller.owner.token));
        expect(listed.licenses.map((l) => l.uuid), `${q} by ${orderBy}`).toEqual(sorted(expected, orderBy));
        expect(listed.totalSize, `${q} by ${orderBy}`).toBe(expected.length);
        return expected.length;
      };
      const key = held[0]!.licenseKey; // LK-AAAAA-BBBBB-CCCCC
      const fragments = [
        key.slice(4, 6),
        key.slice(4, 6).toLowerCase(),
        `${key[10]}${key[11]!.toLowerCase()}`,
        key.slice(15, 18),
        key.slice(9, 13).toLowerCase(),
        key.slice(6, 11),
        key.slice(2, 5),
        "lk-",
        key[3]!,
        "ab",
        "AB",
        "cab b",
        "ision",
        key,
        ...held.slice(1, 5).map((l) => l.licenseKey.slice(16, 18)),
      ];
      for (const q of fragments) await check(q, held);
      expect(await check(key.slice(4, 6), held)).toBeGreaterThan(0);
      expect(await check("lk-", held)).toBe(12);

      // Pages through a key fragment's matches with page tokens.
      const q = "lk-";
      const pages: string[] = [];
      let pageToken = "";
      do {
        const page = await licenses.listLicenses({ organisationId: seller.id, q, orderBy: "agreement_name,-starts_at", pageSize: 5, pageToken }, bearer(seller.owner.token));
        pages.push(...page.licenses.map((l) => l.uuid));
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(pages).toEqual(sorted(held, "agreement_name,-starts_at"));
      // The seller only provides: an offset into its unfiltered list is skipped on that side alone.
      const skipped = await licenses.listLicenses({ organisationId: seller.id, orderBy: "-starts_at", offset: 5, limit: 4 }, bearer(seller.owner.token));
      expect(skipped.licenses.map((l) => l.uuid)).toEqual(sorted(held, "-starts_at").slice(5, 9));
      expect(skipped.totalSize).toBe(12);

      // A new licence is found by its fragments at once, and still once revoked.
      const added = await create(12);
      const more = [...held, added];
      for (const q of [added.licenseKey.slice(3, 5), added.licenseKey.slice(15, 18).toLowerCase(), added.licenseKey.slice(9, 15)]) expect(await check(q, more)).toBeGreaterThan(0);
      await licenses.revokeLicense({ uuid: added.uuid }, bearer(seller.owner.token));
      expect(await check(added.licenseKey.slice(9, 15), more)).toBeGreaterThan(0);
      // Once the holder is gone, so are its licences: none of the fragments finds one.
      await orgs.deleteOrganisation({ organisationId: buyer.id }, bearer(buyer.owner.token));
      for (const q of [key.slice(4, 6), key.slice(15, 18), "ab", "lk-", added.licenseKey.slice(9, 15)]) await check(q, []);
    });
  });
}
