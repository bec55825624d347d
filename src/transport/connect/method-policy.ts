/**
 * Reads the access policy each RPC declares in the proto
 * (`option (latchkey.options.v1.policy)`), once per method.
 */
import { getOption, hasOption, type DescMethod } from "@bufbuild/protobuf";
import { CallerKind, policy, type MethodPolicy } from "../../../gen/latchkey/options/v1/options_pb.js";

export interface ResolvedPolicy {
  caller: CallerKind;
  permission: string;
  deadlineMs: number;
  /** Request field naming the organisation of an organisation-scoped RPC; "" otherwise. */
  organisationField: string;
}

/** Budget of RPCs that do not declare one (health, reflection). */
const DEFAULT_DEADLINE_MS = 5000;

const cache = new Map<DescMethod, ResolvedPolicy>();

export function policyOf(method: DescMethod): ResolvedPolicy {
  let resolved = cache.get(method);
  if (!resolved) {
    resolved = resolve(method);
    cache.set(method, resolved);
  }
  return resolved;
}

function resolve(method: DescMethod): ResolvedPolicy {
  if (!hasOption(method, policy)) {
    // Only Latchkey's own packages must declare a policy; the standard gRPC
    // services (health, reflection) are public by nature.
    if (method.parent.typeName.startsWith("latchkey.")) {
      throw new Error(`${method.parent.typeName}.${method.name} declares no latchkey.options.v1.policy`);
    }
    return { caller: CallerKind.PUBLIC, permission: "", deadlineMs: DEFAULT_DEADLINE_MS, organisationField: "" };
  }
  const declared: MethodPolicy = getOption(method, policy);
  if (declared.caller === CallerKind.UNSPECIFIED) {
    throw new Error(`${method.parent.typeName}.${method.name} declares no caller kind`);
  }
  if (declared.organisationField && !method.input.fields.some((f) => f.name === declared.organisationField && f.fieldKind === "scalar")) {
    throw new Error(`${method.parent.typeName}.${method.name}: organisation_field "${declared.organisationField}" is not a field of its request`);
  }
  return {
    caller: declared.caller,
    permission: declared.permission,
    deadlineMs: declared.deadlineMs || DEFAULT_DEADLINE_MS,
    organisationField: declared.organisationField,
  };
}
