import { createDataSource } from '../../shared/db/data-source';

/**
 * Entities describe the tables the migrations build; this keeps the two from drifting apart.
 * Every entity column must exist with the same nullability and type, and every table column must
 * be on the entity, so a migration that adds a column without the entity (or the reverse) fails here.
 */
const TYPE_OF: Record<string, string> = {
  uuid: 'uuid', text: 'text', integer: 'integer', int4: 'integer', int: 'integer', boolean: 'boolean', timestamptz: 'timestamp with time zone', jsonb: 'jsonb',
  char: 'character', bigint: 'bigint', bytea: 'bytea', inet: 'inet', 'timestamp with time zone': 'timestamp with time zone',
};

it('every entity matches its migrated table, column for column', async () => {
  const ds = await createDataSource({ url: process.env.DATABASE_URL!, poolSize: 1 }).initialize();
  try {
    const problems: string[] = [];
    for (const meta of ds.entityMetadatas) {
      const columns: { column_name: string; is_nullable: 'YES' | 'NO'; data_type: string; udt_name: string }[] = await ds.query(
        `SELECT column_name, is_nullable, data_type, udt_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1`, [meta.tableName]);
      if (!columns.length) { problems.push(`${meta.tableName}: no such table`); continue; }
      const byName = new Map(columns.map((c) => [c.column_name, c]));
      for (const col of meta.columns) {
        const db = byName.get(col.databaseName);
        if (!db) { problems.push(`${meta.tableName}.${col.databaseName}: on the entity, not in the table`); continue; }
        if ((db.is_nullable === 'YES') !== col.isNullable && !col.isPrimary) problems.push(`${meta.tableName}.${col.databaseName}: nullable ${db.is_nullable} in the table, ${col.isNullable} on the entity`);
        const type = TYPE_OF[String(col.type)] ?? String(col.type);
        const actual = db.data_type === 'ARRAY' ? db.udt_name.replace(/^_/, '') : db.data_type;
        const wanted = col.isArray ? String(col.type) : type;
        if (actual !== wanted && !(col.isArray && TYPE_OF[actual] === TYPE_OF[wanted])) problems.push(`${meta.tableName}.${col.databaseName}: ${actual} in the table, ${wanted} on the entity`);
        byName.delete(col.databaseName);
      }
      for (const rest of byName.keys()) problems.push(`${meta.tableName}.${rest}: in the table, not on the entity`);
    }
    expect(problems).toEqual([]);
  } finally {
    await ds.destroy();
  }
});
