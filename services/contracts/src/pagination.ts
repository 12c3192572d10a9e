/** Relay cursor connections over an ordered key (we page by id/created order, opaque cursors). */
import { badInput } from './errors';

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

export interface Connection<T> {
  edges: { node: T; cursor: string }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  totalCount?: number;
}

export const MAX_PAGE_SIZE = 200;

export function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  return Buffer.from(cursor, 'base64url').toString('utf8');
}

export function pageSize(args: PageArgs, fallback = 50): number {
  const first = args.first ?? fallback;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    // A coded input error (BAD_USER_INPUT naming `first`); a plain Error became INTERNAL_SERVER_ERROR.
    throw badInput('first', `first must be between 0 and ${MAX_PAGE_SIZE}`, 'PAGE_SIZE_INVALID');
  }
  return first;
}

/** Build a connection from `limit + 1` fetched rows: the extra row only says there is more. */
export function toConnection<T>(rows: T[], limit: number, keyOf: (row: T) => string, hadCursor: boolean, totalCount?: number): Connection<T> {
  const page = rows.slice(0, limit);
  const edges = page.map((node) => ({ node, cursor: encodeCursor(keyOf(node)) }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > limit,
      hasPreviousPage: hadCursor,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    totalCount,
  };
}
