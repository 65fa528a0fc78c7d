import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ENTITIES } from '../../entities';
import { MIGRATIONS } from '../../migrations';
import { SnakeNamingStrategy } from './naming';
import { installTenantHook } from './tenant-context';

export interface DataSourceOptions {
  url: string;
  poolSize?: number;
  applicationName?: string;
}

export interface AppDataSourceOptions extends DataSourceOptions {
  /**
   * Role every connection acts as (DATABASE_APP_ROLE, default `clinic_app`): no superuser, no
   * BYPASSRLS, no UPDATE/DELETE on audit_logs. Empty when DATABASE_URL already logs in as it.
   */
  appRole: string;
}

const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The owner's DataSource, as DATABASE_URL logs in: migrations, bootstrap CLIs and test assertions.
 * Not subject to row-level security when that login is a superuser. Request paths use createAppDataSource.
 */
export function createDataSource({ url, poolSize = 20, applicationName = 'clinic-backend' }: DataSourceOptions, extra: Record<string, unknown> = {}): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    namingStrategy: new SnakeNamingStrategy(),
    synchronize: false,
    migrationsRun: false,
    logging: false,
    poolSize,
    applicationName,
    extra: {
      // Fail fast when PostgreSQL is unreachable instead of queueing requests forever.
      connectionTimeoutMillis: 5000,
      statement_timeout: 15000,
      idle_in_transaction_session_timeout: 30000,
      ...extra,
    },
  });
}

/**
 * The application's DataSource (API and workers): every connection acts as the restricted app
 * role and carries the tenant context's clinic in `app.clinic_id` for the row-level security
 * policies (see tenant-context.ts).
 *
 * The role is a startup parameter (`-c role=…`), the same as `SET ROLE` on each new connection
 * without the extra round trip; `RESET ROLE` then returns to the app role, not to the login.
 * Logging in as a superuser and stepping down is for development and tests: in production
 * DATABASE_URL should log in as a member of the app role (DATABASE_APP_ROLE='' if it is the role).
 */
export function createAppDataSource({ appRole, ...options }: AppDataSourceOptions): DataSource {
  if (appRole && !ROLE_NAME.test(appRole)) throw new Error('DATABASE_APP_ROLE must be a plain lower-case role name');
  const ds = createDataSource(options, appRole ? { options: `-c role=${appRole}` } : {});
  installTenantHook(ds);
  return ds;
}
