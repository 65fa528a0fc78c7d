import type { Context } from 'koa';
import { z, ZodType } from 'zod';
import type { Action, Actor, AppAbility, SubjectName } from '../../shared/permissions';
import type { ApiDeps, ApiState, AuthState } from './state';
import type { IdempotentJourney } from '../commands/idempotency';

/**
 * Who may call a route:
 * - public: anyone;
 * - user: a signed-in user, no clinic needed;
 * - clinic: a signed-in user acting in the clinic resolved from the request (SPEC §4);
 * - clinic-param: like clinic, with the clinic named by the `:id` path parameter.
 */
export type Access = 'public' | 'user' | 'clinic' | 'clinic-param';

export interface ResponseSpec {
  description: string;
  schema?: ZodType;
}

export interface HandlerInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  deps: ApiDeps;
  ctx: Context & { state: ApiState };
  auth: AuthState;
  actor: Actor;
  ability: AppAbility;
  /** The request's Idempotency-Key, on routes that declare `idempotent`. */
  idempotencyKey?: string;
}

export interface HandlerResult {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the route list is heterogeneous; each route is typed where it is defined
export interface RouteDef<P = any, Q = any, B = any> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  summary: string;
  tags: string[];
  access: Access;
  /**
   * The one authorize call: may this actor ever do `action` on `subject` in this clinic?
   * Record-level conditions (own clinic, own appointments) are checked by the command.
   * `null` is allowed only for public routes and the caller's own account.
   */
  permission: [Action, SubjectName] | null;
  params?: ZodType<P>;
  query?: ZodType<Q>;
  body?: ZodType<B>;
  /**
   * Appends an audit row once the handler has succeeded (SPEC §8: every read and write of patient
   * data), in the clinic's chain: the resource is the `:id` parameter, else the `id` of the answer
   * (a creation), else none (a list). For routes whose commands do not audit themselves.
   */
  audit?: { action: string; resourceType: string };
  /**
   * Accepts an Idempotency-Key header (journey-creating POSTs): the runner replays, refuses or
   * settles retries (api/commands/idempotency.ts), asking the journey what it already created.
   */
  idempotent?: IdempotentJourney;
  /** Reachable with an enrolment-only token (MFA_REQUIRED_ROLES without TOTP): MFA enrolment and /auth/me. */
  allowDuringMfaEnrollment?: boolean;
  responses: Record<number, ResponseSpec>;
  handler: (input: HandlerInput<P, Q, B>) => Promise<HandlerResult>;
}

/** Identity helper that keeps P/Q/B inferred from the schemas. */
export function route<P = undefined, Q = undefined, B = undefined>(def: RouteDef<P, Q, B>): RouteDef<P, Q, B> {
  return def;
}

export const uuidParam = z.object({ id: z.uuid() });
export type IdParam = z.infer<typeof uuidParam>;
