/**
 * Avatars: one image per user, stored in the database (base64) with its
 * SHA-256 as the entity tag. The image is served publicly at
 * GET /avatars/{user_id} (see transport/http/avatars.ts); these RPCs set,
 * read and remove it under the user access rules.
 */
import { invalidField, notFound } from "../../domain/errors.js";
import { MAX_AVATAR_BYTES, avatarDigest, detectAvatarType, fromBase64, toBase64 } from "../../domain/users/avatar-image.js";
import { insertAuditEventIf } from "../../store/queries/audit-events.js";
import { avatarExists, deleteAvatar, findAvatar, upsertAvatar } from "../../store/queries/avatars.js";
import { userInState } from "../../store/queries/users.js";
import { userStates } from "../../store/schema/index.js";
import { actorOf } from "../caller.js";
import { userEvent } from "./audit.js";
import type { ServiceDeps } from "../deps.js";
import type { UserHandlers } from "./index.js";
import { authorizedTarget } from "./target.js";
import { toProtoAvatar } from "./to-proto.js";

export function createAvatarHandlers(deps: ServiceDeps): UserHandlers<"setAvatar" | "getAvatar" | "deleteAvatar"> {
  const { database, clock, random } = deps;
  const db = database.db;

  return {
    async setAvatar(req, ctx) {
      const actor = actorOf(ctx);
      const target = await authorizedTarget(db, actor, req.userId, "update");
      if (req.image.length > MAX_AVATAR_BYTES) throw invalidField("image", `must be at most ${MAX_AVATAR_BYTES} bytes`);
      const contentType = await detectAvatarType(req.image);
      if (!contentType) throw invalidField("image", "must be a PNG, JPEG or WebP image");
      const now = clock.now();
      const row = { userId: target.row.id, contentType, sizeBytes: req.image.length, etag: await avatarDigest(req.image), data: toBase64(req.image), updatedAt: now };
      const event = userEvent(random, ctx, { type: "avatar.set", userId: row.userId, now, details: { content_type: contentType, size_bytes: row.sizeBytes } });
      await database.batch([insertAuditEventIf(db, event, userInState(db, row.userId, userStates)), upsertAvatar(db, row)]);
      return { avatar: toProtoAvatar(row) };
    },

    async getAvatar(req, ctx) {
      const target = await authorizedTarget(db, actorOf(ctx), req.userId, "read");
      const row = await findAvatar(db, target.row.id);
      if (!row) throw notFound("avatar");
      return { avatar: toProtoAvatar(row), image: fromBase64(row.data) };
    },

    async deleteAvatar(req, ctx) {
      const actor = actorOf(ctx);
      const target = await authorizedTarget(db, actor, req.userId, "update");
      const now = clock.now();
      const event = userEvent(random, ctx, { type: "avatar.deleted", userId: target.row.id, now });
      const [, deleted] = await database.batch([insertAuditEventIf(db, event, avatarExists(db, target.row.id)), deleteAvatar(db, target.row.id)]);
      if (deleted.length === 0) throw notFound("avatar");
      return {};
    },
  };
}
