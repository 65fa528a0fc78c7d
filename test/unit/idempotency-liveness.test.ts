import { holderIsRunning } from '../../api/commands/idempotency-liveness';

describe('is the request holding an Idempotency-Key claim still running', () => {
  const here = { processId: 'api-1:10', running: new Set(['t-running']) };
  const claim = (holder: string | null, claimToken: string | null, heartbeatFresh: boolean) => ({ holder, claimToken, heartbeatFresh });

  it('asks this process about its own claims, whatever Redis and the heartbeat say', () => {
    expect(holderIsRunning(claim('api-1:10', 't-running', false), here, undefined)).toBe(true);
    // Ended (e.g. answered 503 while PostgreSQL was away): gone at once, though its heartbeat is fresh.
    expect(holderIsRunning(claim('api-1:10', 't-ended', true), here, true)).toBe(false);
  });

  it('trusts the Redis sign for claims of other processes', () => {
    expect(holderIsRunning(claim('api-2:10', 't', false), here, true)).toBe(true);
    expect(holderIsRunning(claim('api-2:10', 't', true), here, false)).toBe(false);
  });

  it('falls back to the PostgreSQL heartbeat when Redis cannot answer, and for claims without a token', () => {
    expect(holderIsRunning(claim('api-2:10', 't', true), here, undefined)).toBe(true);
    expect(holderIsRunning(claim('api-2:10', 't', false), here, undefined)).toBe(false);
    expect(holderIsRunning(claim(null, null, true), here, false)).toBe(true);
    expect(holderIsRunning(claim(null, null, false), here, true)).toBe(false);
  });
});
