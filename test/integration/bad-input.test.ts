import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ActivityFailure } from '@temporalio/common';
import { openApiDocument } from '../../api/app';
import { apiRoutes } from '../../api/routes';
import { cancelUpdate } from '../../workflows/booking-api';
import { adminToken, ClinicFixture, createClinic, nextSlot } from '../support/fixtures';
import { Api, client } from '../support/http';
import { Stack, startStack } from '../support/stack';

/**
 * Bad input ends, at once (issue 9): text PostgreSQL cannot store (NUL, lone UTF-16 surrogates,
 * bytes that were not UTF-8) is refused with a 400 naming the field, in every string field of
 * every route, generated from the served OpenAPI document; a body that is not JSON is 415 on
 * every route that takes one; and data that still reaches an activity fails it at once, never
 * retried. Before the fix a NUL in a cancel reason hung the request for minutes while the
 * activity retried SQLSTATE 22021 forever, and a NUL in a clinic's name answered 500.
 */
type Schema = { type?: string | string[]; properties?: Record<string, Schema>; items?: Schema; anyOf?: Schema[]; oneOf?: Schema[]; allOf?: Schema[]; additionalProperties?: boolean | Schema };
type Op = { parameters?: { name: string; in: string; schema: Schema }[]; requestBody?: { content: Record<string, { schema: Schema }> } };

const doc = openApiDocument() as unknown as { paths: Record<string, Record<string, Op>> };
const BAD_TEXT: [string, string][] = [['NUL', 'a\u0000b'], ['a lone surrogate', 'a\uD800b']];
// In a URL: a NUL, and the UTF-8-looking bytes of a surrogate (no valid UTF-8 has them).
const BAD_QUERY: [string, string][] = [['NUL', 'a%00b'], ['surrogate bytes', 'a%ED%A0%80b']];

/** Paths (in the body) of every value that may be a string: typed strings, unions with one, and free-form values. */
function stringPaths(schema: Schema | undefined, at: (string | number)[] = []): (string | number)[][] {
  if (!schema) return [];
  const variants = [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])];
  if (variants.length) {
    const all = variants.flatMap((v) => stringPaths(v, at));
    return [...new Map(all.map((p) => [p.join('.'), p])).values()];
  }
  const types = schema.type === undefined ? [] : [schema.type].flat();
  if (types.includes('string') || Object.keys(schema).length === 0) return [at];
  if (types.includes('object')) {
    const own = Object.entries(schema.properties ?? {}).flatMap(([k, v]) => stringPaths(v, [...at, k]));
    const free = typeof schema.additionalProperties === 'object' ? stringPaths(schema.additionalProperties, [...at, 'anyKey']) : [];
    return [...own, ...free];
  }
  if (types.includes('array')) return stringPaths(schema.items, [...at, 0]);
  return [];
}

function bodyWith(at: (string | number)[], value: string): unknown {
  if (!at.length) return value;
  const [head, ...rest] = at;
  return typeof head === 'number' ? [bodyWith(rest, value)] : { [head]: bodyWith(rest, value) };
}

interface Case { name: string; method: string; path: string; query?: string; body?: unknown; field: string }

let stack: Stack;
let api: Api;
let su: string;
let c: ClinicFixture;
let appointmentId: string;
const idFor = (path: string) => {
  if (path.startsWith('/api/v1/appointments/')) return appointmentId;
  if (path.startsWith('/api/v1/patients/')) return c.patientId;
  if (path.startsWith('/api/v1/clinics/')) return c.clinicId;
  if (path.startsWith('/api/v1/practitioners/')) return c.practitionerId;
  if (path.startsWith('/api/v1/users/') || path.startsWith('/api/v1/accounts/')) return c.userIds.RECEPTIONIST;
  // Any other resource: an id that names nothing (the refusal comes before the lookup).
  return randomUUID();
};

function cases(): Case[] {
  const all: Case[] = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const path = (template.includes('{id}') ? template.replace('{id}', idFor(template)) : template).replace('{n}', '1');
      for (const p of op.parameters ?? []) {
        if (p.in !== 'query' || !stringPaths(p.schema).length) continue;
        for (const [what, bad] of BAD_QUERY) all.push({ name: `${method.toUpperCase()} ${template} query ${p.name} with ${what}`, method, path, query: `${p.name}=${bad}`, field: `query.${p.name}` });
      }
      const body = op.requestBody?.content['application/json']?.schema;
      for (const at of stringPaths(body)) {
        for (const [what, bad] of BAD_TEXT) {
          all.push({ name: `${method.toUpperCase()} ${template} body ${at.join('.') || '(root)'} with ${what}`, method, path, body: bodyWith(at, bad), field: ['body', ...at].join('.') });
        }
      }
    }
  }
  return all;
}

beforeAll(async () => {
  stack = await startStack();
  api = client(stack.baseUrl);
  su = await adminToken(api);
  c = await createClinic(api, su, ['CLINIC_ADMIN', 'RECEPTIONIST', 'DOCTOR']);
  const booked = await api.post('/api/v1/appointments', {
    patientId: c.patientId, practitionerId: c.practitionerId, serviceId: c.serviceId, locationId: c.locationId, startsAt: nextSlot(),
  }, su, c.h);
  expect(booked.status).toBe(201);
  appointmentId = booked.body.id;
});

afterAll(() => stack?.stop());

describe('the OpenAPI document the sweep is generated from', () => {
  it('is the one the API serves, and reaches every route', async () => {
    expect((await api.get('/openapi.json')).body).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
    expect(Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0)).toBe(apiRoutes.length);
  });
});

describe('text that cannot be stored', () => {
  it('is a 400 naming the field, within a second, in every string field of every route', async () => {
    const all = cases();
    expect(all.length).toBeGreaterThan(100);
    expect(all.some((k) => k.field === 'body.reason' && k.path.endsWith('/cancel'))).toBe(true);
    const wrong: string[] = [];
    for (const k of all) {
      const started = Date.now();
      const res = await Promise.race([
        api.call(k.method.toUpperCase(), `${k.path}${k.query ? `?${k.query}` : ''}`, { token: su, headers: c.h, ...(k.body !== undefined ? { body: k.body } : {}) }),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 5000)),
      ]);
      const ms = Date.now() - started;
      if (!res) { wrong.push(`${k.name}: no answer in 5 s`); continue; }
      const named = (res.body?.errors ?? []).some((e: { field: string; message: string }) => e.field === k.field && /NUL|surrogate|UTF-8/.test(e.message));
      if (res.status !== 400 || !named || ms > 1000) wrong.push(`${k.name}: ${res.status} in ${ms} ms ${JSON.stringify(res.body?.errors ?? res.body)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('changes nothing: the appointment is still booked and the clinic keeps its name', async () => {
    expect((await api.get(`/api/v1/appointments/${appointmentId}`, su, c.h)).body.status).toBe('CONFIRMED');
    expect((await api.get(`/api/v1/clinics/${c.clinicId}`, su)).body.name).toBe(`Clinic ${c.slug}`);
  });

  it('is refused in the clinic reference of the query too', async () => {
    const res = await api.get('/api/v1/services?clinicId=a%00b', su);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'query.clinicId', message: 'must not contain NUL (U+0000)' }]);
  });
});

describe('a body that is not JSON', () => {
  const withBody = () => Object.entries(doc.paths).flatMap(([template, ops]) => Object.entries(ops)
    .filter(([, op]) => op.requestBody)
    .map(([method]) => ({ method: method.toUpperCase(), path: (template.includes('{id}') ? template.replace('{id}', idFor(template)) : template).replace('{n}', '1'), template })));

  it('is 415 on every route that takes a body, PATCH and PUT included, and changes nothing', async () => {
    const routes = withBody();
    expect(routes.map((r) => r.method)).toEqual(expect.arrayContaining(['POST', 'PUT', 'PATCH']));
    const wrong: string[] = [];
    for (const r of routes) {
      for (const [type, raw] of [['application/x-www-form-urlencoded', 'name=Renamed'], ['text/plain', '{"name":"Renamed"}']]) {
        const res = await api.call(r.method, r.path, { token: su, headers: { ...c.h, 'content-type': type }, raw });
        if (res.status !== 415 || res.body?.type !== 'https://clinic-backend.dev/problems/unsupported-media-type') wrong.push(`${r.method} ${r.template} as ${type}: ${res.status}`);
      }
    }
    expect(wrong).toEqual([]);
    expect((await api.get(`/api/v1/clinics/${c.clinicId}`, su)).body.name).toBe(`Clinic ${c.slug}`);
  });

  it('still accepts JSON, with or without a charset', async () => {
    const res = await api.call('PATCH', `/api/v1/clinics/${c.clinicId}`, { token: su, headers: { 'content-type': 'application/json; charset=utf-8' }, raw: JSON.stringify({ settings: { minNoticeMinutes: 5 } }) });
    expect(res.status).toBe(200);
  });
});

describe('data that reaches an activity anyway', () => {
  it('fails the activity at once as INVALID_DATA instead of retrying it (SQLSTATE 22021)', async () => {
    const handle = stack.deps.temporal.workflow.getHandle(`appointment-${appointmentId}`);
    const started = Date.now();
    // Past the API's schema, straight to the journey: the activity meets PostgreSQL's refusal.
    const outcome = await Promise.race([
      handle.executeUpdate(cancelUpdate, { args: [{ actorUserId: c.userIds.CLINIC_ADMIN, reason: 'a\u0000b' }] }).then(() => 'cancelled', (err) => err),
      new Promise((resolve) => setTimeout(() => resolve('still retrying after 15 s'), 15_000)),
    ]);
    expect(outcome).toBeInstanceOf(WorkflowUpdateFailedError);
    // A local activity's failure reaches the update as itself, a remote one's inside an ActivityFailure.
    const failure = (outcome as WorkflowUpdateFailedError).cause;
    expect(failure instanceof ActivityFailure ? failure.cause : failure).toMatchObject({ type: 'INVALID_DATA', nonRetryable: true, message: 'The database refused the data (SQLSTATE 22021)' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await api.get(`/api/v1/appointments/${appointmentId}`, su, c.h)).body.status).toBe('CONFIRMED');
  });
});
