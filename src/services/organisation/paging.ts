/**
 * Keyset pages ordered by name, for the List methods whose order is fixed
 * to name (organisations, members, agreements, catalogue items, devices).
 * The page token is bound to the collection and the caller's scope, so a
 * token from one organisation's member list is refused for another's.
 */
import type { OrderTerm } from "../../domain/listing/order-by.js";
import { decodePageToken, encodePageToken, listQueryHash, pageSize, type CursorValue } from "../../domain/listing/page-token.js";

export const BY_NAME: readonly OrderTerm[] = [
  { field: "name", descending: false },
  { field: "id", descending: false },
];

export interface PageRequest {
  pageSize: number;
  pageToken: string;
}

export async function pageByName<Row>(
  request: PageRequest,
  query: { collection: string; scope: Record<string, string | boolean | undefined>; key: Uint8Array },
  fetch: (order: readonly OrderTerm[], limit: number, after: readonly CursorValue[] | undefined) => Promise<Row[]>,
  cursorOf: (row: Row) => CursorValue[],
): Promise<{ rows: Row[]; nextPageToken: string }> {
  const limit = pageSize(request.pageSize);
  const queryHash = await listQueryHash({ collection: query.collection, filter: undefined, orderBy: BY_NAME, scope: query.scope });
  const after = request.pageToken ? (await decodePageToken(request.pageToken, query.key, queryHash)).after : undefined;
  // One row more than the page tells whether another page follows.
  const rows = await fetch(BY_NAME, limit + 1, after);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  const nextPageToken = rows.length > limit && last ? await encodePageToken({ queryHash, after: cursorOf(last) }, query.key) : "";
  return { rows: page, nextPageToken };
}
