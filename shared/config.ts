import { z } from 'zod';
import { parseKeyring } from './crypto/keyring';
import { parseBlindIndexKey } from './crypto/blind-index';
import { ROLES } from './permissions/roles';

const TASK_QUEUES = ['booking', 'therapy', 'payments', 'notifications', 'maintenance'] as const;
export type TaskQueue = (typeof TASK_QUEUES)[number];
export const ALL_TASK_QUEUES: readonly TaskQueue[] = TASK_QUEUES;

const csvOf = <T extends string>(values: readonly [T, ...T[]]) =>
  z.string().transform((s) => s.split(',').map((v) => v.trim()).filter(Boolean)).pipe(z.array(z.enum(values)).min(1));

/** `NAME=` in a copied .env means "not set". */
const blankAsUnset = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8088),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default('postgres://postgres@127.0.0.1:5432/clinic'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  // Role the API and workers act as (no superuser, no BYPASSRLS; created by the migrations). Empty: DATABASE_URL logs in as it.
  DATABASE_APP_ROLE: z.string().regex(/^([a-z_][a-z0-9_]{0,62})?$/, 'must be a plain lower-case role name or empty').default('clinic_app'),
  // Audit rows for patient reads (on in production; off only to measure what they cost, bench/audit.ts).
  AUDIT_READS: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379/0'),
  // In-process (L1) cache in front of Redis for availability, day view and dashboard; 0 turns it off.
  CACHE_L1_TTL_MS: z.coerce.number().int().min(0).max(60000).default(2000),
  CACHE_L1_MAX_ENTRIES: z.coerce.number().int().min(1).max(1000000).default(5000),
  CACHE_L1_MAX_MB: z.coerce.number().int().min(1).max(65536).default(64),
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_UI_URL: z.url().default('http://127.0.0.1:8233'),
  // Longest an HTTP request waits on a workflow (update, query); past it the answer is 504 and the work may still finish.
  WORKFLOW_CALL_TIMEOUT_MS: z.coerce.number().int().min(100).max(120000).default(10000),
  // Static bearer token Prometheus scrapes /metrics with (no JWT); unset: only platform admins' tokens read /metrics.
  METRICS_TOKEN: blankAsUnset(z.string().min(32, 'must be at least 32 characters (e.g. `openssl rand -hex 32`)')),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters'),
  JWT_ISSUER: z.string().min(1).default('clinic-backend'),
  JWT_AUDIENCE: z.string().min(1).default('clinic-api'),
  JWT_ACCESS_TTL_SECONDS: z.coerce.number().int().min(60).max(86400).default(900),
  // Sessions end after this long without use (refresh or any authenticated request) ...
  SESSION_IDLE_MINUTES: z.coerce.number().int().min(5).max(1440).default(30),
  // ... and this long after sign-in at most.
  SESSION_MAX_HOURS: z.coerce.number().int().min(1).max(720).default(12),
  // Roles that must use TOTP; without it their tokens only reach MFA enrolment and /auth/me.
  MFA_REQUIRED_ROLES: z.string().default('')
    .transform((s) => s.split(',').map((v) => v.trim()).filter(Boolean))
    .pipe(z.array(z.enum(ROLES))),
  OTP_RATE_LIMIT_PER_IDENTIFIER: z.coerce.number().int().min(1).default(3),
  OTP_RATE_LIMIT_PER_IP: z.coerce.number().int().min(1).default(20),
  OTP_RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(10).default(600),
  PHI_ENCRYPTION_KEYS: z.string().refine((spec) => {
    try { parseKeyring(spec); return true; } catch { return false; }
  }, 'must be comma-separated <id>:<base64 of 32 bytes> keys, the last one current'),
  BLIND_INDEX_KEY: z.string().refine((b64) => {
    try { parseBlindIndexKey(b64); return true; } catch { return false; }
  }, 'must be base64 of 32 random bytes (HMAC key of the patient search indexes)'),
  BOOTSTRAP_ADMIN_EMAIL: z.email().optional(),
  BOOTSTRAP_ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  APP_BASE_HOST: z.string().default('localhost'),
  BODY_LIMIT: z.string().regex(/^\d+(kb|mb)$/, 'must look like 100kb or 1mb').default('100kb'),
  // Deepest accepted nesting of a JSON body (objects and arrays); deeper bodies are refused before any handler walks them.
  BODY_MAX_DEPTH: z.coerce.number().int().min(2).max(1000).default(20),
  // Browser origins allowed to call the API (exact scheme://host[:port] matches); empty: no cross-origin calls.
  CORS_ORIGINS: z.string().default('')
    .transform((s) => s.split(',').map((v) => v.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s?#]+$/, 'must be origins like https://app.example.com (scheme, host, optional port; no path)'))),
  // Request limits (fixed windows in Redis) per IP, per user and per clinic; without Redis they fail open.
  RATE_LIMIT_ENABLED: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  RATE_LIMIT_PER_IP: z.coerce.number().int().min(1).default(3000),
  RATE_LIMIT_PER_USER: z.coerce.number().int().min(1).default(1200),
  RATE_LIMIT_PER_CLINIC: z.coerce.number().int().min(1).default(30000),
  // Password and code sign-in (login, MFA and OTP verification): much stricter, per IP and per account.
  RATE_LIMIT_LOGIN_WINDOW_SECONDS: z.coerce.number().int().min(10).max(86400).default(900),
  RATE_LIMIT_LOGIN_PER_IP: z.coerce.number().int().min(1).default(100),
  // Per account: consecutive FAILED sign-ins that lock it for RATE_LIMIT_LOGIN_WINDOW_SECONDS (a success starts over) ...
  RATE_LIMIT_LOGIN_PER_IDENTIFIER: z.coerce.number().int().min(1).default(10),
  // ... free of delay for the first BACKOFF_AFTER failures, then a wait after each one: BASE, 2×BASE, 4×BASE ... seconds.
  RATE_LIMIT_LOGIN_BACKOFF_AFTER: z.coerce.number().int().min(0).default(3),
  RATE_LIMIT_LOGIN_BACKOFF_BASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(2),
  // Proxies in front of the API that append X-Forwarded-For; 0: none, the client address is the connection's.
  TRUST_PROXY: z.coerce.number().int().min(0).max(10).default(0),
  // How long a break-glass grant lets a clinician read a patient outside their normal rights.
  BREAK_GLASS_MINUTES: z.coerce.number().int().min(5).max(1440).default(60),
  // The maintenance schedule (workers serving `maintenance` create it): how often it purges, and how long after
  // expiry (sessions, OTP challenges) or creation (idempotency keys) a row is removed.
  MAINTENANCE_PURGE_EVERY_MINUTES: z.coerce.number().int().min(1).max(1440).default(60),
  MAINTENANCE_PURGE_GRACE_HOURS: z.coerce.number().int().min(1).max(8760).default(24),
  WORKER_TASK_QUEUES: csvOf(TASK_QUEUES).default([...TASK_QUEUES]),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).default(100),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(1).default(100),
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).default(2000),
  WORKER_SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().min(0).default(20),
  SMTP_URL: z.string().default('smtp://127.0.0.1:1025'),
  SMTP_FROM: z.string().min(3).default('Clinic <no-reply@clinic.local>'),
  // SMS and WhatsApp are off until their credentials are set; email always has SMTP_URL.
  SMS_API_BASE_URL: z.url({ protocol: /^https?$/ }).default('https://api.twilio.com'),
  SMS_ACCOUNT_SID: blankAsUnset(z.string()),
  SMS_AUTH_TOKEN: blankAsUnset(z.string()),
  SMS_FROM: blankAsUnset(z.string()),
  WHATSAPP_API_BASE_URL: z.url({ protocol: /^https?$/ }).default('https://graph.facebook.com'),
  WHATSAPP_PHONE_NUMBER_ID: blankAsUnset(z.string()),
  WHATSAPP_TOKEN: blankAsUnset(z.string()),
  NOTIFY_PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(100).max(120000).default(10000),
  // Card payments (Stripe). Without a secret key the SDK talks to stripe-mock at STRIPE_API_BASE (npm start runs it).
  STRIPE_SECRET_KEY: z.string().regex(/^(sk|rk)_(test|live)_\w+$/, 'must be a Stripe secret key (sk_test_…, sk_live_…)').or(z.literal('')).default(''),
  STRIPE_API_BASE: z.url({ protocol: /^https?$/ }).or(z.literal('')).default('http://127.0.0.1:12111'),
  // Webhook signing secret (whsec_…); the development default only works against signed test events.
  STRIPE_WEBHOOK_SECRET: z.string().min(16, 'must be the webhook endpoint\'s signing secret (whsec_…)').default('whsec_development_only_secret_0123456789'),
  // Webhooks signed longer ago than this are refused (replays).
  STRIPE_WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).max(3600).default(300),
});

export type Config = z.infer<typeof configSchema> & {
  /** Per-queue concurrency overrides: WORKER_<QUEUE>_MAX_CONCURRENT_ACTIVITIES etc. */
  queueConcurrency: Record<TaskQueue, { maxConcurrentActivityTaskExecutions: number; maxConcurrentWorkflowTaskExecutions: number }>;
};

export class ConfigError extends Error {}

/** Parses and validates the environment; a bad value names the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${String(i.path[0])}: ${i.message}${i.path.length > 1 ? ` (item ${i.path.slice(1).join('.')})` : ''}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const base = parsed.data;
  const perQueue = z.coerce.number().int().min(1);
  const queueConcurrency = Object.fromEntries(
    TASK_QUEUES.map((q) => {
      const read = (suffix: string, fallback: number) => {
        const name = `WORKER_${q.toUpperCase()}_${suffix}`;
        if (env[name] === undefined) return fallback;
        const v = perQueue.safeParse(env[name]);
        if (!v.success) throw new ConfigError(`Invalid configuration:\n  ${name}: must be a positive integer`);
        return v.data;
      };
      return [q, {
        maxConcurrentActivityTaskExecutions: read('MAX_CONCURRENT_ACTIVITIES', base.WORKER_MAX_CONCURRENT_ACTIVITIES),
        maxConcurrentWorkflowTaskExecutions: read('MAX_CONCURRENT_WORKFLOW_TASKS', base.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS),
      }];
    }),
  ) as Config['queueConcurrency'];
  return { ...base, queueConcurrency };
}

/** For process entry points: print the problem and exit instead of a stack trace. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
