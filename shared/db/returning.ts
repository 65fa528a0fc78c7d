import type { DataSource, EntityManager } from 'typeorm';

/**
 * Rows of an `UPDATE … RETURNING` or `DELETE … RETURNING` through TypeORM's `query()`, which answers
 * those as `[rows, affectedCount]` (and INSERT or SELECT as the rows themselves).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- raw pg rows
export async function returning(db: DataSource | EntityManager, sql: string, params: unknown[]): Promise<Record<string, any>[]> {
  const result = await db.query(sql, params);
  return Array.isArray(result[0]) ? result[0] : result;
}
