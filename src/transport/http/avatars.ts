/**
 * GET /avatars/{user_id}: a user's avatar image.
 *
 * Avatars are public by URL, as in the seed APIs: pages show them with a
 * plain <img src>, which sends no bearer token. What makes that acceptable:
 * user ids are random v4 UUIDs (122 random bits), so the URL cannot be
 * guessed or enumerated, and an avatar is a picture its owner chose to
 * show. Knowing the URL means having been shown the user, e.g. by GetUser
 * or ListUsers under the access rules. `private` keeps shared caches from
 * keeping a copy after the avatar is removed or the user deleted.
 *
 * The bytes were checked to be PNG, JPEG or WebP when stored; `nosniff` and
 * a CSP that allows nothing keep a browser from reading them as anything
 * else even if that check ever missed something.
 */
import type { Hono } from "hono";
import { isUuid } from "../../domain/formats.js";
import { avatarEtag, fromBase64 } from "../../domain/users/avatar-image.js";

export interface StoredAvatar {
  contentType: string;
  /** SHA-256 of the image, hex. */
  etag: string;
  /** The image, base64. */
  data: string;
}

export interface AvatarRouteDeps {
  findAvatar: (userId: string) => Promise<StoredAvatar | undefined>;
}

const CACHE_CONTROL = "private, max-age=300";

/** Whether an If-None-Match header names `etag` (weak comparison, RFC 9110 §13.1.2). */
function matches(ifNoneMatch: string, etag: string): boolean {
  return ifNoneMatch.split(",").some((candidate) => {
    const tag = candidate.trim();
    return tag === "*" || tag.replace(/^W\//, "") === etag;
  });
}

export function mountAvatarRoutes(app: Hono, deps: AvatarRouteDeps): void {
  app.get("/avatars/:userId", async (c) => {
    const userId = c.req.param("userId");
    const avatar = isUuid(userId) ? await deps.findAvatar(userId.toLowerCase()) : undefined;
    if (!avatar) return c.json({ error: "not_found" }, 404);
    const etag = avatarEtag(avatar.etag);
    c.header("ETag", etag);
    c.header("Cache-Control", CACHE_CONTROL);
    const ifNoneMatch = c.req.header("if-none-match");
    if (ifNoneMatch && matches(ifNoneMatch, etag)) return c.body(null, 304);
    c.header("Content-Type", avatar.contentType);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Content-Security-Policy", "default-src 'none'");
    return c.body(fromBase64(avatar.data) as Uint8Array<ArrayBuffer>, 200);
  });
}
