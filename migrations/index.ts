import { InitialSchema1764144000000 } from './1764144000000-initial-schema';

/** In order; the migration runner applies those not yet in schema_migrations. */
export const MIGRATIONS = [InitialSchema1764144000000];
