import Stripe from 'stripe';

export type StripeClient = Stripe;

export interface StripeSettings {
  /** Empty: development and tests, against stripe-mock at `apiBase` with its test key. */
  secretKey: string;
  /** e.g. http://127.0.0.1:12111 (stripe-mock); empty: Stripe itself. */
  apiBase: string;
}

/** The key stripe-mock accepts (any sk_test_ key); never used against Stripe itself. */
const MOCK_KEY = 'sk_test_123';

/**
 * One SDK client per process. Retries are the SDK's own (bounded, with the idempotency key sent on
 * every POST, so a retried create or refund never charges or refunds twice).
 */
export function createStripe(s: StripeSettings): StripeClient {
  const base = s.apiBase ? new URL(s.apiBase) : null;
  return new Stripe(s.secretKey || MOCK_KEY, {
    maxNetworkRetries: 2,
    timeout: 10_000,
    ...(base ? { host: base.hostname, port: base.port || (base.protocol === 'http:' ? 80 : 443), protocol: base.protocol === 'http:' ? 'http' : 'https' } : {}),
  });
}

/** Stripe's errors that a retry cannot fix (a refused card, a bad request): everything but connection, rate-limit and 5xx. */
export function isPermanentStripeError(err: unknown): boolean {
  if (!(err instanceof Stripe.errors.StripeError)) return false;
  if (err instanceof Stripe.errors.StripeConnectionError || err instanceof Stripe.errors.StripeRateLimitError) return false;
  return typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500;
}

const perConfig = new WeakMap<object, StripeClient>();

/** The API process's client, made once per configuration. */
export function stripeFor(config: { STRIPE_SECRET_KEY: string; STRIPE_API_BASE: string }): StripeClient {
  let client = perConfig.get(config);
  if (!client) perConfig.set(config, (client = createStripe({ secretKey: config.STRIPE_SECRET_KEY, apiBase: config.STRIPE_API_BASE })));
  return client;
}
