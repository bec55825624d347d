/**
 * Invitations: InviteMember emails a single-use token, AcceptInvitation
 * turns it into a membership. Only the token's SHA-256 is stored; the email,
 * queued in the outbox by the same batch as the invitation and its audit
 * row, is the only place the token exists.
 */
import { decideInvite } from "../../domain/access/organisation-rules.js";
import type { OrganisationRole } from "../../domain/access/roles.js";
import { DomainError, Reason, notFound, permissionDenied, alreadyExists } from "../../domain/errors.js";
import { normaliseEmail } from "../../domain/formats.js";
import { newOpaqueToken, sha256Hex } from "../../domain/tokens/secrets.js";
import { insertAuditEvent, insertAuditEventIf } from "../../store/queries/audit-events.js";
import { consumeInvitation, findInvitationByTokenHash, insertInvitation, insertMembershipIfPending, invitationPending, type InvitationRow } from "../../store/queries/invitations.js";
import { findMember, findMembershipRole } from "../../store/queries/memberships.js";
import { findOrganisationById, setActiveOrganisationIfNone } from "../../store/queries/organisations.js";
import { findUserByEmail, findUserById } from "../../store/queries/users.js";
import type { ServiceDeps } from "../deps.js";
import { clientAddressOf, personOf } from "../caller.js";
import { organisationEvent, scopeOf } from "./caller.js";
import type { OrganisationHandlers } from "./index.js";
import { requestedRole, toProtoInvitation, toProtoMember } from "./to-proto.js";

export const INVITATION_TOKEN_PREFIX = "lki";
const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Unknown, used, expired, or sent to someone else: one answer for all, so a
 * token reveals nothing about the invitation behind it.
 */
function invitationInvalid(): DomainError {
  return new DomainError("not_found", Reason.INVITATION_INVALID, "invitation not found, already used or expired");
}

function invitationEmail(args: { organisationName: string; role: OrganisationRole; token: string; expiresAt: number; issuer: string }) {
  // The token rides in the fragment, which browsers never send to a server,
  // so it stays out of access logs and Referer headers.
  const link = `${args.issuer}/invitations/accept#token=${encodeURIComponent(args.token)}`;
  return {
    subject: `Invitation to join ${args.organisationName}`,
    text: [
      `You have been invited to join the organisation "${args.organisationName}" as ${args.role}.`,
      "",
      "Sign in with this email address and open:",
      link,
      "",
      `or accept the invitation with this token: ${args.token}`,
      "",
      `The invitation can be used once and expires on ${new Date(args.expiresAt).toISOString()}.`,
      "If you did not expect it, ignore this email.",
    ].join("\n"),
  };
}

export function createInvitationHandlers(deps: ServiceDeps): OrganisationHandlers<"inviteMember" | "acceptInvitation"> {
  const { database, clock, random, outbox, config } = deps;
  const db = database.db;

  return {
    async inviteMember(req, ctx) {
      const scope = scopeOf(ctx);
      const role = requestedRole(req.role, "member");
      if (decideInvite(scope.acting, role) !== "allowed") throw permissionDenied();
      const email = normaliseEmail(req.email);
      const invitee = await findUserByEmail(db, email);
      if (invitee && (await findMembershipRole(db, scope.organisationId, invitee.id))) {
        throw alreadyExists("email", "is already a member of the organisation");
      }
      const organisation = await findOrganisationById(db, scope.organisationId);
      if (!organisation) throw notFound("organisation");

      const now = clock.now();
      const token = newOpaqueToken(random, INVITATION_TOKEN_PREFIX);
      const row: InvitationRow = {
        id: random.uuid(),
        organisationId: scope.organisationId,
        email,
        role,
        tokenHash: await sha256Hex(token),
        invitedBy: scope.actor.userId,
        createdAt: now,
        expiresAt: now + INVITATION_TTL_MS,
        acceptedAt: null,
        acceptedBy: null,
      };
      const message = outbox.email({
        to: email,
        ...invitationEmail({ organisationName: organisation.organisation.name, role, token, expiresAt: row.expiresAt, issuer: config.issuer }),
      });
      const change = { ...scope, clientAddress: clientAddressOf(ctx), now };
      await database.batch([
        insertInvitation(db, row),
        insertAuditEvent(db, organisationEvent(random, change, "invitation.created", { invitation_id: row.id, email, role }, invitee?.id)),
        message.statement,
      ]);
      await outbox.deliver([message.id]);
      return { invitation: toProtoInvitation(row, now) };
    },

    async acceptInvitation(req, ctx) {
      // Joining an organisation is a person's decision, not a key's.
      const actor = personOf(ctx);
      const [invitation, user] = await Promise.all([findInvitationByTokenHash(db, await sha256Hex(req.token)), findUserById(db, actor.userId)]);
      const now = clock.now();
      if (!invitation || !user || invitation.acceptedAt !== null || invitation.expiresAt <= now || normaliseEmail(user.email) !== normaliseEmail(invitation.email)) {
        throw invitationInvalid();
      }
      if (await findMembershipRole(db, invitation.organisationId, user.id)) {
        throw new DomainError("already_exists", Reason.PRECONDITION_FAILED, "you are already a member of this organisation");
      }
      const change = { actor, organisationId: invitation.organisationId, clientAddress: clientAddressOf(ctx), now };
      const [, , won] = await database.batch([
        insertAuditEventIf(
          db,
          organisationEvent(random, change, "invitation.accepted", { invitation_id: invitation.id, role: invitation.role }),
          invitationPending(db, invitation.id, now),
        ),
        insertMembershipIfPending(db, invitation.id, user.id, now),
        consumeInvitation(db, invitation.id, user.id, now),
        setActiveOrganisationIfNone(db, user.id, invitation.organisationId),
      ]);
      // Another request accepted it first.
      if (won.length !== 1) throw invitationInvalid();
      const member = await findMember(db, invitation.organisationId, user.id);
      if (!member) throw invitationInvalid();
      return { member: toProtoMember(member) };
    },
  };
}
