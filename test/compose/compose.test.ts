/**
 * Static checks of the production-shaped deployment (SPEC §3, §9): docker-compose.yml is validated
 * against the official Compose Specification JSON schema, then its topology is asserted; the
 * Dockerfile and .dockerignore are checked for the shape the compose file relies on.
 * Needs no Docker engine and no running service.
 *
 * Schema source: `compose.schema.json` shipped by the `dclint` package (a verbatim copy of
 * compose-spec/compose-spec `schema/compose-spec.json`, draft-07, `$id: compose_spec.json`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { parseDocument } from 'yaml';

const ROOT = path.resolve(__dirname, '..', '..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
const QUEUES = ['booking', 'therapy', 'payments', 'notifications', 'maintenance'] as const;
const SEARCH_ATTRIBUTES = ['ClinicId', 'PatientId', 'PractitionerId', 'AppointmentId', 'JourneyKind'];
/** Variables the file must refuse to start without (`${VAR:?message}`). */
const REQUIRED_VARS = ['BLIND_INDEX_KEY', 'CLINIC_API_DB_PASSWORD', 'CLINIC_DB_PASSWORD', 'JWT_SECRET', 'METRICS_TOKEN', 'PHI_ENCRYPTION_KEYS', 'POSTGRES_PASSWORD', 'TEMPORAL_DB_PASSWORD'];
const APP_ENV_KEYS = [
  'PORT', 'DATABASE_URL', 'REDIS_URL', 'TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'JWT_SECRET',
  'PHI_ENCRYPTION_KEYS', 'BLIND_INDEX_KEY', 'BOOTSTRAP_ADMIN_EMAIL', 'BOOTSTRAP_ADMIN_PASSWORD', 'SMTP_URL',
];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Dependency = { condition?: string };
interface Service {
  image?: string;
  build?: { context?: string; dockerfile?: string; target?: string } | string;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  depends_on?: Record<string, Dependency> | string[];
  deploy?: { replicas?: number | string };
  ports?: Array<string | number | Record<string, unknown>>;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  restart?: string;
  volumes?: Array<string | Record<string, unknown>>;
  networks?: string[] | Record<string, unknown>;
  configs?: Array<{ source: string; target: string }>;
  stop_grace_period?: string;
  user?: string;
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, { internal?: boolean } | null>;
  configs?: Record<string, { content?: string }>;
  [key: string]: unknown;
}

// ------------------------------------------------------------------------------------------------
// Loading and validation
// ------------------------------------------------------------------------------------------------

function readJson(file: string): Record<string, Json> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, Json>;
}

/** The compose-spec schema as shipped by dclint (its `exports` hide the file, so resolve by path). */
function composeSpecSchema(): Record<string, Json> {
  return readJson(path.join(path.dirname(require.resolve('dclint/package.json')), 'schemas', 'compose.schema.json'));
}

function compileComposeValidator(): ValidateFunction {
  const schema = composeSpecSchema();
  // Ajv strict mode stays on (unknown keywords, ignored formats, etc. throw), with union types,
  // which the spec uses (`type: [a, b]`). Only `strictTypes` is off: it merely *logs* style
  // remarks about the upstream schema (e.g. `additionalProperties` in a oneOf branch without
  // `type: object`) and does not change what validates.
  const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, strictTypes: false });
  // The spec names its meta-schema `https://json-schema.org/draft-07/schema` (https, no `#`); Ajv
  // knows draft-07 as `http://json-schema.org/draft-07/schema#`. Register the same meta-schema
  // under the spec's spelling so the schema itself is still checked against draft-07.
  const draft07 = readJson(require.resolve('ajv/dist/refs/json-schema-draft-07.json'));
  ajv.addMetaSchema({ ...draft07, $id: schema.$schema as string });
  return ajv.compile(schema);
}

/** Parse like Compose does: YAML merge keys (`<<: *anchor`) resolved, duplicate keys refused. */
function parseCompose(text: string): ComposeFile {
  const doc = parseDocument(text, { merge: true });
  if (doc.errors.length > 0 || doc.warnings.length > 0) {
    throw new Error([...doc.errors, ...doc.warnings].map((e) => e.message).join('\n'));
  }
  return doc.toJS({ maxAliasCount: -1 }) as ComposeFile;
}

const VARIABLE = /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/** Compose's interpolation of `$VAR`, `${VAR}`, `${VAR:-def}`, `${VAR-def}`, `${VAR:?err}`, `${VAR?err}`, `$$`. */
function interpolate<T>(value: T, env: Record<string, string>, used = new Set<string>()): T {
  if (typeof value === 'string') {
    return value.replace(VARIABLE, (whole, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
      if (whole === '$$') return '$';
      const name = (braced ?? bare) as string;
      used.add(name);
      const set = Object.prototype.hasOwnProperty.call(env, name);
      const current = set ? env[name] : undefined;
      const missing = op?.startsWith(':') ? !current : !set;
      switch (op) {
        case ':-': case '-': return missing ? arg ?? '' : (current as string);
        case ':+': case '+': return missing ? '' : arg ?? '';
        case ':?': case '?':
          if (missing) throw new Error(`required variable ${name} is missing a value: ${arg}`);
          return current as string;
        default: return current ?? '';
      }
    }) as T;
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env, used)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, used)])) as T;
  }
  return value;
}

const RAW = readFileSync(COMPOSE_FILE, 'utf8');
const compose = parseCompose(RAW);
const services = compose.services;
const validate = compileComposeValidator();
const FULL_ENV = Object.fromEntries(REQUIRED_VARS.map((name) => [name, `test-${name.toLowerCase()}`]));

function errorsOf(document: unknown): ErrorObject[] {
  return validate(document) ? [] : [...(validate.errors ?? [])];
}

function describeErrors(errors: ErrorObject[]): string {
  return errors.map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`).join('\n');
}

// ------------------------------------------------------------------------------------------------
// Helpers over the parsed file
// ------------------------------------------------------------------------------------------------

function commandText(service: Service): string {
  const parts = [service.entrypoint, service.command].flatMap((p) => (p === undefined ? [] : Array.isArray(p) ? p : [p]));
  return parts.join(' ');
}

function dependencies(service: Service): Record<string, Dependency> {
  const deps = service.depends_on ?? {};
  return Array.isArray(deps) ? Object.fromEntries(deps.map((d) => [d, {}])) : deps;
}

function replicas(service: Service): number {
  return Number(service.deploy?.replicas ?? 1);
}

function isOneShot(service: Service): boolean {
  return service.restart === 'no';
}

function env(service: Service): Record<string, string | number | boolean | null> {
  return service.environment ?? {};
}

const appServices = Object.entries(services).filter(([, s]) => s.build !== undefined);
const workerServices = Object.entries(services).filter(([, s]) => env(s).WORKER_TASK_QUEUES !== undefined);
const longRunningApp = appServices.filter(([, s]) => !isOneShot(s));

// ------------------------------------------------------------------------------------------------
// Schema validation
// ------------------------------------------------------------------------------------------------

describe('docker-compose.yml against the Compose Specification schema', () => {
  it('uses the real compose-spec schema (draft-07) and compiles it in Ajv strict mode', () => {
    const schema = composeSpecSchema();
    expect(schema.$id).toBe('compose_spec.json');
    expect(schema.title).toBe('Compose Specification');
    expect(String(schema.$schema)).toMatch(/draft-07/);
    expect(Object.keys(schema.definitions as object)).toEqual(expect.arrayContaining(['service', 'deployment', 'healthcheck']));
    expect(() => compileComposeValidator()).not.toThrow();
  });

  it('parses as YAML with no errors, warnings or duplicate keys', () => {
    expect(() => parseCompose(RAW)).not.toThrow();
    expect(Object.keys(services).length).toBeGreaterThan(0);
  });

  it('is valid as written (before interpolation)', () => {
    const errors = errorsOf(compose);
    expect(describeErrors(errors)).toBe('');
  });

  it('is still valid once interpolated with the required variables set', () => {
    const errors = errorsOf(interpolate(compose, FULL_ENV));
    expect(describeErrors(errors)).toBe('');
  });

  const mutations: Array<[string, (c: ComposeFile) => void, string, string]> = [
    ['services.api.ports is a number, not a list', (c) => { (c.services.api as Record<string, unknown>).ports = 8088; }, '/services/api/ports', 'type'],
    ['an unknown top-level key', (c) => { c.extras = { foo: 1 }; }, '', 'additionalProperties'],
    ['an unknown service key (replicas outside deploy)', (c) => { (c.services.api as Record<string, unknown>).replicas = 2; }, '/services/api', 'additionalProperties'],
    ['a depends_on condition that does not exist', (c) => {
      (c.services.api.depends_on as Record<string, Dependency>).postgres = { condition: 'service_ready' };
    }, '/services/api/depends_on/postgres/condition', 'enum'],
    ['deploy.replicas given as a list', (c) => { (c.services.api.deploy as Record<string, unknown>).replicas = [2]; }, '/services/api/deploy/replicas', 'type'],
  ];

  it.each(mutations)('rejects a mutated copy: %s', (_label, mutate, instancePath, keyword) => {
    const copy = structuredClone(compose);
    mutate(copy);
    const errors = errorsOf(copy);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors).toEqual(expect.arrayContaining([expect.objectContaining({ instancePath, keyword })]));
    // The untouched original stays valid: the failure comes from the mutation alone.
    expect(errorsOf(compose)).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------------
// Topology
// ------------------------------------------------------------------------------------------------

describe('docker-compose.yml topology', () => {
  it('runs one worker service per task queue, each serving exactly its queue', () => {
    const byQueue = Object.fromEntries(workerServices.map(([name, s]) => [String(env(s).WORKER_TASK_QUEUES), name]));
    expect(Object.keys(byQueue).sort()).toEqual([...QUEUES].sort());
    expect(workerServices).toHaveLength(QUEUES.length);
    for (const queue of QUEUES) {
      const name = `worker-${queue}`;
      const worker = services[name];
      expect(worker).toBeDefined();
      expect(env(worker).WORKER_TASK_QUEUES).toBe(queue);
      expect(worker.command).toEqual(['node', 'dist/workers/main.js']);
      expect(replicas(worker)).toBeGreaterThanOrEqual(1);
      expect(worker.stop_grace_period).toBeDefined();
      expect(worker.ports).toBeUndefined();
    }
  });

  it('runs at least two API replicas whose published ports cannot collide', () => {
    const api = services.api;
    expect(api.command).toEqual(['node', 'dist/api/main.js']);
    expect(replicas(api)).toBeGreaterThanOrEqual(2);
    expect(env(api).PORT).toBe('8088');
    for (const port of api.ports ?? []) {
      // Several replicas cannot share one fixed host port: it must be a range at least as wide.
      const match = /^(?:[\d.]+:)?(\d+)-(\d+):(\d+)$/.exec(String(port));
      expect(match).not.toBeNull();
      const [, from, to, target] = match as RegExpExecArray;
      expect(Number(target)).toBe(8088);
      expect(Number(to) - Number(from) + 1).toBeGreaterThanOrEqual(replicas(api));
    }
    expect(JSON.stringify(api.healthcheck?.test)).toContain('/health');
  });

  it('trusts X-Forwarded-For only when a proxy sits in front of the API (TRUST_PROXY hops)', () => {
    const api = services.api;
    const hops = String(env(api).TRUST_PROXY);
    expect(hops).toMatch(/^\d+$/);
    // Published ports: clients connect straight to a replica and write the header themselves.
    if ((api.ports ?? []).length > 0) expect(hops).toBe('0');
    else expect(Number(hops)).toBeGreaterThanOrEqual(1);
    // Only the API reads client addresses; the setting is not smuggled into the shared app environment.
    for (const [name, s] of appServices.filter(([n]) => n !== 'api')) expect({ name, trust: env(s).TRUST_PROXY }).toEqual({ name, trust: undefined });
  });

  it('builds every application process from this repository with the same image and environment', () => {
    expect(appServices.map(([name]) => name).sort()).toEqual(['api', 'migrate', ...QUEUES.map((q) => `worker-${q}`)].sort());
    const images = new Set(appServices.map(([, s]) => s.image));
    expect(images.size).toBe(1);
    for (const [name, s] of appServices) {
      expect({ name, build: s.build }).toEqual({ name, build: expect.objectContaining({ context: '.', dockerfile: 'Dockerfile' }) });
      expect(Object.keys(env(s))).toEqual(expect.arrayContaining(APP_ENV_KEYS));
      expect(env(s).TEMPORAL_ADDRESS).toBe('temporal:7233');
      expect(env(s).TEMPORAL_NAMESPACE).toBe('default');
      expect(new URL(String(interpolate(env(s).DATABASE_URL, FULL_ENV))).hostname).toBe('postgres');
      expect(new URL(String(env(s).REDIS_URL)).hostname).toBe('redis');
    }
  });

  it('runs migrations once, before the API and the workers start', () => {
    const migrate = services.migrate;
    expect(migrate.command).toEqual(['node', 'dist/scripts/migrate.js']);
    expect(isOneShot(migrate)).toBe(true);
    for (const [name, s] of longRunningApp) {
      expect({ name, dep: dependencies(s).migrate?.condition }).toEqual({ name, dep: 'service_completed_successfully' });
      expect({ name, dep: dependencies(s).redis?.condition }).toEqual({ name, dep: 'service_healthy' });
    }
  });

  it('runs the Temporal server on PostgreSQL, with its schema set up by a one-shot job', () => {
    const temporal = services.temporal;
    expect(temporal.image).toMatch(/^temporalio\/(server|auto-setup):\d/);
    expect(env(temporal).DB).toBe('postgres12');
    expect(env(temporal).POSTGRES_SEEDS).toBe('postgres');
    expect(services.postgres.image).toMatch(/^postgres:16/);
    expect(dependencies(temporal).postgres?.condition).toBe('service_healthy');
    expect(commandText(temporal)).not.toMatch(/start-dev|sqlite/i);
    // The persistence and visibility databases are Temporal's own, separate from the app's `clinic`.
    expect(env(temporal).DBNAME).toBe('temporal');
    expect(env(temporal).VISIBILITY_DBNAME).toBe('temporal_visibility');
    if (!String(temporal.image).startsWith('temporalio/auto-setup')) {
      const schemaJobs = Object.entries(dependencies(temporal))
        .filter(([, d]) => d.condition === 'service_completed_successfully')
        .map(([name]) => services[name]);
      const script = schemaJobs.map(commandText).join('\n');
      expect(script).toMatch(/temporal-sql-tool --plugin postgres12 --ep postgres/);
      expect(script).toContain('--db temporal ');
      expect(script).toContain('--db temporal_visibility ');
      expect(script).toMatch(/update-schema/);
    }
    expect(services.postgres.volumes).toEqual(expect.arrayContaining([expect.stringMatching(/^postgres-data:\/var\/lib\/postgresql\/data$/)]));
    expect(compose.volumes).toHaveProperty(['postgres-data']);
  });

  it('registers the custom search attributes (Keyword) with the admin-tools image before the app starts', () => {
    const registrars = Object.entries(services).filter(([, s]) => commandText(s).includes('temporal operator search-attribute create'));
    expect(registrars).toHaveLength(1);
    const [registrarName, registrar] = registrars[0];
    expect(registrar.image).toMatch(/^temporalio\/admin-tools:\d/);
    expect(isOneShot(registrar)).toBe(true);
    const script = commandText(registrar);
    expect(script).toContain('--type Keyword');
    for (const attribute of SEARCH_ATTRIBUTES) expect(script).toMatch(new RegExp(`\\b${attribute}\\b`));
    expect(dependencies(registrar).temporal?.condition).toBe('service_healthy');
    for (const [name, s] of longRunningApp) {
      expect({ name, dep: dependencies(s)[registrarName]?.condition }).toEqual({ name, dep: 'service_completed_successfully' });
    }
  });

  it('serves the Temporal Web UI only through the gateway, with the API codec on the same origin', () => {
    const ui = services['temporal-ui'];
    expect(ui.image).toMatch(/^temporalio\/ui:\d/);
    expect(ui.ports).toBeUndefined();
    expect(env(ui).TEMPORAL_ADDRESS).toBe('temporal:7233');
    const uiUrl = String(interpolate(env(services.api).TEMPORAL_UI_URL, {}));
    const codec = new URL(String(interpolate(env(ui).TEMPORAL_CODEC_ENDPOINT, {})));
    expect(codec.pathname).toBe('/codec');
    expect(codec.origin).toBe(new URL(uiUrl).origin);
    expect(String(env(ui).TEMPORAL_CODEC_INCLUDE_CREDENTIALS)).toBe('true');
    expect(services.gateway.ports).toEqual([`${new URL(uiUrl).port}:8080`]);
  });

  it('puts the Web UI behind authentication: the gateway checks the codec session before every UI request', () => {
    const gateway = services.gateway;
    expect(gateway.image).toMatch(/^nginx:\d/);
    const conf = String(interpolate(compose.configs?.[gateway.configs?.[0]?.source ?? '']?.content ?? '', {}));
    expect(gateway.configs?.[0]?.target).toBe('/etc/nginx/conf.d/default.conf');
    const block = (name: string) => {
      const start = conf.indexOf(`location ${name} {`);
      expect({ name, found: start >= 0 }).toEqual({ name, found: true });
      return conf.slice(start, conf.indexOf('}', start) + 1);
    };
    // The UI server is reached by one location only, and it requires the check.
    expect(conf.match(/proxy_pass http:\/\/temporal-ui:8080/g)).toHaveLength(1);
    expect(block('/')).toMatch(/auth_request \/_codec_session_check;/);
    expect(block('/')).toContain('proxy_pass http://temporal-ui:8080');
    expect(block('/')).toMatch(/error_page 401 = @sign_in;/);
    const check = block('= /_codec_session_check');
    expect(check).toContain('internal;');
    expect(check).toContain('proxy_pass http://api:8088/codec/session;');
    expect(block('@sign_in')).toContain('/codec/sign-in');
    // Everything else the gateway serves is the API, which authenticates itself.
    expect(block('/codec/')).toContain('proxy_pass http://api:8088;');
    for (const path of ['= /api/v1/auth/login', '= /api/v1/auth/mfa/verify']) expect(block(path)).toContain('proxy_pass http://api:8088;');
    expect(conf.match(/proxy_pass /g)).toHaveLength(5);
    expect(dependencies(gateway).api?.condition).toBe('service_healthy');
  });

  it('keeps the Temporal frontend, the UI server and the data stores off the public network', () => {
    const networksOf = (s: Service) => (Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {}));
    const internal = Object.entries(compose.networks ?? {}).filter(([, n]) => n?.internal === true).map(([name]) => name);
    expect(internal.length).toBeGreaterThan(0);
    for (const name of ['temporal', 'temporal-ui', 'postgres', 'redis', 'temporal-schema', 'temporal-bootstrap']) {
      const s = services[name];
      expect({ name, ports: s.ports }).toEqual({ name, ports: undefined });
      expect({ name, networks: networksOf(s).length > 0 && networksOf(s).every((n) => internal.includes(n)) }).toEqual({ name, networks: true });
    }
    // Only the gateway and the API publish ports (and Prometheus, on loopback); every service names its networks (none on the default one).
    const publishing = Object.entries(services).filter(([, s]) => (s.ports ?? []).length > 0).map(([name]) => name).sort();
    expect(publishing).toEqual(['api', 'gateway', 'prometheus']);
    // Prometheus only on loopback, for operators on the host.
    expect(services.prometheus.ports).toEqual(['127.0.0.1:9090:9090']);
    for (const [name, s] of Object.entries(services)) expect({ name, networks: networksOf(s).length > 0 }).toEqual({ name, networks: true });
    // The gRPC port is published nowhere, not even on loopback.
    expect(RAW).not.toMatch(/^\s*-\s*"?[\d.:]*7233:7233/m);
  });

  it('waits on conditions: healthchecks for servers, successful exit for one-shot jobs', () => {
    const order: string[] = [];
    const visit = (name: string, trail: string[]): void => {
      if (trail.includes(name)) throw new Error(`dependency cycle: ${[...trail, name].join(' -> ')}`);
      if (order.includes(name)) return;
      for (const dep of Object.keys(dependencies(services[name]))) visit(dep, [...trail, name]);
      order.push(name);
    };
    for (const [name, service] of Object.entries(services)) {
      expect({ name, longForm: !Array.isArray(service.depends_on) }).toEqual({ name, longForm: true });
      for (const [dep, { condition }] of Object.entries(dependencies(service))) {
        expect({ name, dep, exists: dep in services }).toEqual({ name, dep, exists: true });
        const target = services[dep];
        const expected = isOneShot(target) ? 'service_completed_successfully' : 'service_healthy';
        expect({ name, dep, condition }).toEqual({ name, dep, condition: expected });
        if (condition === 'service_healthy') {
          expect({ dep, healthcheck: target.healthcheck?.test !== undefined && !target.healthcheck.disable }).toEqual({ dep, healthcheck: true });
        }
      }
      visit(name, []);
    }
    expect(order).toHaveLength(Object.keys(services).length);
  });

  it('makes every service that depends on postgres wait for its healthcheck', () => {
    expect(JSON.stringify(services.postgres.healthcheck?.test)).toContain('pg_isready');
    const dependents = Object.entries(services).filter(([, s]) => 'postgres' in dependencies(s));
    expect(dependents.map(([name]) => name)).toEqual(expect.arrayContaining(['migrate', 'api', 'temporal', ...QUEUES.map((q) => `worker-${q}`)]));
    for (const [name, s] of dependents) {
      expect({ name, condition: dependencies(s).postgres.condition }).toEqual({ name, condition: 'service_healthy' });
    }
  });

  it('pins every image to an explicit tag', () => {
    for (const [name, s] of Object.entries(services)) {
      const image = String(interpolate(s.image, {}));
      expect({ name, image }).toEqual({ name, image: expect.stringMatching(/^[\w./-]+:(?!latest$)[\w.-]+$/) });
    }
  });
});

// ------------------------------------------------------------------------------------------------
// Secrets
// ------------------------------------------------------------------------------------------------

describe('docker-compose.yml secrets', () => {
  const SECRET_KEY = /(PASSWORD|PASSWD|PWD|SECRET|TOKEN|_KEYS?$|^KEYS?$)/;
  // `${VAR}` or `${VAR:?message}`; a `${VAR:-default}` would smuggle in a literal default secret.
  const REFERENCE = /^\$\{[A-Z][A-Z0-9_]*(?::?\?[^}]*)?\}$/;

  it('takes every secret-looking variable from the environment, never from a literal', () => {
    let checked = 0;
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(env(s))) {
        if (!SECRET_KEY.test(key)) continue;
        checked += 1;
        // Either passed through unset (`KEY:` with no value) or a ${VAR...} reference.
        if (value !== null) expect({ name, key, value }).toEqual({ name, key, value: expect.stringMatching(REFERENCE) });
      }
    }
    expect(checked).toBeGreaterThanOrEqual(10);
  });

  it('requires JWT_SECRET, PHI_ENCRYPTION_KEYS and the database passwords (${VAR:?message})', () => {
    for (const [name, s] of appServices) {
      expect({ name, v: env(s).JWT_SECRET }).toEqual({ name, v: expect.stringMatching(/^\$\{JWT_SECRET:\?.+\}$/) });
      expect({ name, v: env(s).PHI_ENCRYPTION_KEYS }).toEqual({ name, v: expect.stringMatching(/^\$\{PHI_ENCRYPTION_KEYS:\?.+\}$/) });
    }
    expect(env(services.postgres).POSTGRES_PASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?.+\}$/);
    for (const missing of REQUIRED_VARS) {
      const partial = { ...FULL_ENV };
      delete partial[missing];
      expect(() => interpolate(compose, partial)).toThrow(new RegExp(`required variable ${missing} `));
    }
  });

  it('puts no literal credential in a connection URL', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(env(s))) {
        const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^@/]*)@/i.exec(String(value ?? ''));
        if (!userinfo) continue;
        const password = userinfo[1].split(':').slice(1).join(':');
        expect({ name, key, password }).toEqual({ name, key, password: expect.stringMatching(REFERENCE) });
      }
    }
  });

  it('references only the intended compose variables (shell variables in scripts are escaped as $$)', () => {
    const used = new Set<string>();
    interpolate(compose, FULL_ENV, used);
    expect([...used].sort()).toEqual(
      [...REQUIRED_VARS, 'CLINIC_IMAGE', 'LOG_LEVEL', 'TEMPORAL_UI_URL'].sort(),
    );
  });

  it('creates database roles without literal passwords', () => {
    const init = compose.configs?.['postgres-init']?.content ?? '';
    expect(init).toMatch(/CREATE ROLE clinic LOGIN [A-Z ]*PASSWORD :'\w+'/);
    expect(init).toMatch(/CREATE ROLE clinic_api LOGIN [A-Z ]*PASSWORD :'\w+' IN ROLE clinic_app/);
    expect(init).not.toMatch(/PASSWORD\s+'/i);
  });
});

// ------------------------------------------------------------------------------------------------
// Dockerfile (the image every application service runs)
// ------------------------------------------------------------------------------------------------

interface Stage { name: string; from: string; instructions: Array<[string, string]> }

function dockerStages(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op, rest] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    const instruction = (op ?? '').toUpperCase();
    if (instruction === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=');
      args[k] = v ?? '';
    } else if (instruction === 'FROM') {
      const [, image, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest) ?? [];
      const from = image.replace(/\$\{(\w+)\}/g, (_m, k: string) => args[k] ?? '');
      stages.push({ name: name ?? String(stages.length), from, instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push([instruction, rest]);
    }
  }
  return { args, stages };
}

describe('Dockerfile', () => {
  const { stages } = dockerStages(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  const byName = Object.fromEntries(stages.map((s) => [s.name, s]));
  const runtime = stages[stages.length - 1];
  const runs = (stage: Stage): string => stage.instructions.filter(([op]) => op === 'RUN').map(([, r]) => r).join('\n');

  it('is multi-stage on node:20-slim, the runtime stage last (the target compose builds)', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(runtime.name).toBe('runtime');
    expect(runtime.from).toBe('node:20-slim');
    for (const stage of stages) expect(stage.from).toMatch(/^(node:20-slim|[a-z-]+)$/);
  });

  it('builds with npm ci, tsc and the pre-built workflow bundle', () => {
    const build = byName.build;
    expect(build).toBeDefined();
    const script = runs(build);
    expect(script).toMatch(/\bnpm ci\b(?! --omit)/);
    expect(script).toContain('npm run build');
    expect(script).toContain('node dist/scripts/build-workflow-bundle.js');
    expect(script).toContain('dist/workflow-bundle.js');
  });

  it('ships production dependencies only, compiled output only, and runs as a non-root user', () => {
    const copies = runtime.instructions.filter(([op]) => op === 'COPY').map(([, c]) => c);
    const modules = copies.find((c) => /node_modules/.test(c));
    const source = /--from=(\S+)/.exec(modules ?? '')?.[1];
    expect(source).toBeDefined();
    expect(runs(byName[source as string])).toMatch(/npm ci --omit=dev/);
    expect(copies).toEqual(expect.arrayContaining([expect.stringMatching(/--from=build \/app\/dist /)]));
    const users = runtime.instructions.filter(([op]) => op === 'USER').map(([, u]) => u);
    expect(users.length).toBeGreaterThan(0);
    expect(users[users.length - 1]).not.toMatch(/^(root|0)(:|$)/);
    expect(runtime.instructions).toEqual(expect.arrayContaining([['CMD', '["node", "dist/api/main.js"]']]));
  });

  it('keeps secrets, dependencies and build output out of the build context', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split(/\r?\n/).map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git', '.env', '.env.*']));
    // Code the build needs must not be ignored.
    for (const needed of ['api', 'workers', 'workflows', 'activities', 'entities', 'migrations', 'shared', 'scripts', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      expect(ignored).not.toContain(needed);
    }
  });
});
