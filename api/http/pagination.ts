import { z } from 'zod';
import { problems } from './problem';

export const paginationQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().max(200).optional(),
};

/** Keyset cursor over (sort value, id): stable under inserts, no OFFSET scans. */
export interface Cursor { k: string; id: string }

export const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

export function decodeCursor(raw: string | undefined): Cursor | null {
  if (!raw) return null;
  try {
    const c = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (typeof c?.k === 'string' && typeof c?.id === 'string' && z.uuid().safeParse(c.id).success) return c;
  } catch {
    // fall through
  }
  throw problems.validation([{ field: 'query.cursor', message: 'Invalid cursor' }]);
}

export function page<T>(rows: T[], limit: number, keyOf: (row: T) => Cursor): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? encodeCursor(keyOf(items[items.length - 1])) : null };
}
