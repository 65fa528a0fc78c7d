import type { DataSource } from 'typeorm';
import type { Client } from '@temporalio/client';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Actor, AppAbility } from '../../shared/permissions';
import type { Config } from '../../shared/config';
import type { Cache } from '../../shared/cache';
import type { Metrics } from './metrics';
import type { SignInAttempt } from './rate-limit';

/** Everything the API needs, built once per process and handed to routes. */
export interface ApiDeps {
  config: Config;
  dataSource: DataSource;
  redis: Redis;
  temporal: Client;
  cache: Cache;
  log: Logger;
  metrics: Metrics;
}

export interface AuthState {
  userId: string;
  sessionId: string;
  defaultClinicId: string | null;
  /** MFA_REQUIRED_ROLES without TOTP yet: only routes marked `allowDuringMfaEnrollment` answer. */
  mfaEnrollmentOnly: boolean;
}

/** Koa state, filled by middleware in order: request id → auth → clinic context. */
export interface ApiState {
  requestId: string;
  log: Logger;
  auth?: AuthState;
  actor?: Actor;
  ability?: AppAbility;
  /** A sign-in request's attempt on its account, as the rate limiter counted it. */
  signIn?: SignInAttempt;
}
