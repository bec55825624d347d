/**
 * The CheckLicense phase: one device with a seat of a signed licence asks for
 * an entitled feature over and over; each answer carries a fresh certificate.
 */
import type { RpcClient } from "./client.js";
import { tokensOf } from "./client.js";

const LICENSE = "latchkey.license.v1.LicenseService";
export const CHECK_LICENSE_PATH = `${LICENSE}/CheckLicense`;
export const CHECK_LICENSE_FEATURE = "inference";

/** Arranges a device entitled to the feature and answers its access token. */
export async function prepareCheckLicense(client: RpcClient, adminAccess: string): Promise<{ deviceAccess: string; deviceId: string }> {
  const as = { authorization: `Bearer ${adminAccess}` };
  const createOrganisation = async (name: string) =>
    ((await client.ok("latchkey.organisation.v1.OrganisationService/CreateOrganisation", { name: `${name} ${Date.now()}` }, as)) as { organisation: { id: string } }).organisation;
  const provider = await createOrganisation("Bench Provider");
  const organisation = await createOrganisation("Bench Fleet");
  const { agreement } = (await client.ok(
    `${LICENSE}/CreateAgreement`,
    { providerOrganisationId: provider.id, kind: "subscription", name: "Bench Vision", provides: [CHECK_LICENSE_FEATURE, "camera.read"], summary: "Bench." },
    as,
  )) as { agreement: { uuid: string } };
  await client.ok(`${LICENSE}/PublishAgreement`, { uuid: agreement.uuid }, as);
  const { license } = (await client.ok(
    `${LICENSE}/CreateLicense`,
    { providerOrganisationId: provider.id, organisationId: organisation.id, agreementUuid: agreement.uuid, maxDevices: 10, startsAt: new Date(Date.now() - 60_000).toISOString() },
    as,
  )) as { license: { uuid: string } };
  await client.ok(`${LICENSE}/SignLicense`, { uuid: license.uuid }, as);
  const registered = (await client.ok(`${LICENSE}/RegisterDevice`, { organisationId: organisation.id, name: "Bench camera", serial: "BENCH-0001" }, as)) as {
    device: { uuid: string };
    credential: string;
  };
  await client.ok(`${LICENSE}/AssignLicense`, { deviceUuid: registered.device.uuid, licenseUuid: license.uuid }, as);
  const signedIn = await client.ok(`${LICENSE}/DeviceSignIn`, { device: { deviceId: registered.device.uuid, credential: registered.credential } });
  const deviceAccess = tokensOf(signedIn).accessToken;
  const check = await client.ok(CHECK_LICENSE_PATH, { feature: CHECK_LICENSE_FEATURE }, { authorization: `Bearer ${deviceAccess}` });
  if (check.entitled !== true || typeof check.certificate !== "string") throw new Error(`CheckLicense does not entitle the bench device: ${JSON.stringify(check)}`);
  return { deviceAccess, deviceId: registered.device.uuid };
}
