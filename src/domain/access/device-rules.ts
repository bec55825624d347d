/**
 * Who may see and change which device, for the device RPCs. Pure decisions:
 * the service loads the caller's role in the device's organisation and asks
 * here.
 *
 * The rules:
 * - members of a device's organisation see it (GetDevice, ListDevices);
 * - its admins and owners change it (DeleteDevice, AssignLicense,
 *   ReleaseLicense, RegisterDevice);
 * - super-admins (signed in, or a key of a super-admin) may do all of it;
 * - an API key reaches only its own organisation, with its owner's role there;
 * - anyone else learns nothing: `not_found`, whether or not it exists. A
 *   member who may see a device but not change it gets `permission_denied`.
 */
import { atLeast, type OrganisationRole } from "./roles.js";

export type DeviceAction = "read" | "write";
export type DeviceAccessOutcome = "allowed" | "not_found" | "forbidden";

export interface DeviceCaller {
  superAdmin: boolean;
  /** The organisation an API key is bound to; undefined for a signed-in user. */
  keyOrganisationId: string | undefined;
}

export function decideDeviceAccess(caller: DeviceCaller, organisationId: string, role: OrganisationRole | undefined, action: DeviceAction): DeviceAccessOutcome {
  if (caller.superAdmin) return "allowed";
  const effective = caller.keyOrganisationId !== undefined && caller.keyOrganisationId !== organisationId ? undefined : role;
  if (!effective) return "not_found";
  if (action === "read") return "allowed";
  return atLeast(effective, "admin") ? "allowed" : "forbidden";
}
