/**
 * What an avatar may be: a PNG, JPEG or WebP image of at most 1 MiB,
 * recognised by its content. The declared type or a file name is never
 * trusted, and anything else (SVG, which can carry script, GIF, text that
 * merely starts like an image) is refused.
 *
 * Detection uses file-type's core entry: it reads only the given bytes (no
 * file system), so it runs the same on Node and in workerd, and it checks
 * more than the first bytes (a PNG signature must be followed by PNG chunks).
 */
import { fileTypeFromBuffer } from "file-type/core";

export const AVATAR_CONTENT_TYPES = ["image/png", "image/jpeg", "image/webp"] as const;
export type AvatarContentType = (typeof AVATAR_CONTENT_TYPES)[number];

export const MAX_AVATAR_BYTES = 1024 * 1024;

/** The image's content type if it is an acceptable avatar, else undefined. */
export async function detectAvatarType(image: Uint8Array): Promise<AvatarContentType | undefined> {
  if (image.length === 0 || image.length > MAX_AVATAR_BYTES) return undefined;
  const detected = await fileTypeFromBuffer(image);
  return AVATAR_CONTENT_TYPES.find((type) => type === detected?.mime);
}

/** The avatar's entity tag: the SHA-256 of its bytes, hex. */
export async function avatarDigest(image: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", image as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The ETag header value of an avatar with this digest (a strong tag). */
export function avatarEtag(digest: string): string {
  return `"${digest}"`;
}

/** Standard base64, as avatars are stored; chunked so a 1 MiB image never builds a huge argument list. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
