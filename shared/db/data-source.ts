import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ENTITIES } from '../../entities';
import { MIGRATIONS } from '../../migrations';
import { SnakeNamingStrategy } from './naming';

export interface DataSourceOptions {
  url: string;
  poolSize?: number;
  applicationName?: string;
}

export function createDataSource({ url, poolSize = 20, applicationName = 'clinic-backend' }: DataSourceOptions): DataSource {
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
    },
  });
}
