import { BadUserInputError } from '../errors.ts';

/** One page of a list, in the shape of a Relay connection. */
export interface Page<Node> {
  readonly edges: ReadonlyArray<{ readonly cursor: string; readonly node: Node }>;
  readonly pageInfo: { readonly hasNextPage: boolean; readonly endCursor: string | null };
  /** Counted only when asked for. */
  readonly totalCount?: number | (() => Promise<number>);
}

/** @default 1000: the most items one page may ask for. */
export const MAX_PAGE_SIZE = 1000;

/** Checks `first` and decodes `after`; cursors are opaque base64url text of a sort key. */
export function pageArgs(
  first: number | null | undefined,
  after: string | null | undefined,
  fallback: number,
) {
  const size = first ?? fallback;
  if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE_SIZE) {
    throw new BadUserInputError(`first must be an integer from 0 to ${MAX_PAGE_SIZE}, got ${size}`);
  }
  return { first: size, after: after == null ? undefined : decodeCursor(after) };
}

export function encodeCursor(key: string): string {
  return Buffer.from(`c:${key}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith('c:')) throw new BadUserInputError(`after: "${cursor}" is not a cursor of this list`);
  return text.slice(2);
}

/**
 * Builds a page from up to `first + 1` rows fetched after the cursor: the extra row only tells
 * whether there is a next page.
 */
export function toPage<Row, Node>(
  rows: readonly Row[],
  first: number,
  keyOf: (row: Row) => string,
  toNode: (row: Row) => Node,
  totalCount?: Page<Node>['totalCount'],
): Page<Node> {
  const shown = rows.slice(0, first);
  const edges = shown.map((row) => ({ cursor: encodeCursor(keyOf(row)), node: toNode(row) }));
  return {
    edges,
    pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null },
    ...(totalCount === undefined ? {} : { totalCount }),
  };
}
