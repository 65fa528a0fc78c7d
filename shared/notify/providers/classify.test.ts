import { classifyFetchError, classifyHttpFailure, classifySmtpError, safeCode } from './classify';

describe('provider failure classification', () => {
  it('HTTP: 4xx refusals are permanent, 5xx, 408, 409 and 429 transient; the provider code wins', () => {
    expect(classifyHttpFailure(400, 21211)).toEqual({ kind: 'permanent', code: '21211' });
    expect(classifyHttpFailure(400, 131026)).toEqual({ kind: 'permanent', code: '131026' });
    expect(classifyHttpFailure(404, undefined)).toEqual({ kind: 'permanent', code: 'HTTP_404' });
    expect(classifyHttpFailure(500, 20500)).toEqual({ kind: 'transient', code: '20500' });
    expect(classifyHttpFailure(503, undefined)).toEqual({ kind: 'transient', code: 'HTTP_503' });
    for (const s of [408, 409, 429]) expect(classifyHttpFailure(s, undefined).kind).toBe('transient');
  });

  it('HTTP: a provider code listed as transient turns a 400 into a retry (Meta throttling)', () => {
    expect(classifyHttpFailure(400, 130429, new Set(['130429']))).toEqual({ kind: 'transient', code: '130429' });
  });

  it('HTTP: a 2xx without the expected body is retried, not trusted', () => {
    expect(classifyHttpFailure(200, undefined).kind).toBe('transient');
  });

  it('fetch: timeouts and refused connections are transient', () => {
    expect(classifyFetchError(Object.assign(new Error('t'), { name: 'TimeoutError' }))).toEqual({ kind: 'transient', code: 'TIMEOUT' });
    expect(classifyFetchError(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }))).toEqual({ kind: 'transient', code: 'ECONNREFUSED' });
    expect(classifyFetchError(new Error('x'))).toEqual({ kind: 'transient', code: 'NETWORK' });
  });

  it('SMTP: 5xx replies are permanent except 503; 4xx and no reply are transient', () => {
    expect(classifySmtpError({ code: 'EENVELOPE', responseCode: 550 })).toEqual({ kind: 'permanent', code: 'SMTP_550' });
    expect(classifySmtpError({ code: 'EENVELOPE', responseCode: 553 }).kind).toBe('permanent');
    expect(classifySmtpError({ code: 'EPROTOCOL', responseCode: 503 }).kind).toBe('transient');
    expect(classifySmtpError({ code: 'EENVELOPE', responseCode: 451 })).toEqual({ kind: 'transient', code: 'SMTP_451' });
    expect(classifySmtpError({ code: 'ESOCKET' })).toEqual({ kind: 'transient', code: 'ESOCKET' });
    expect(classifySmtpError({ code: 'ETIMEDOUT' })).toEqual({ kind: 'transient', code: 'TIMEOUT' });
    expect(classifySmtpError({ code: 'EENVELOPE' })).toEqual({ kind: 'permanent', code: 'EENVELOPE' });
    expect(classifySmtpError(new Error('odd'))).toEqual({ kind: 'transient', code: 'SMTP_ERROR' });
  });

  it('keeps only token-like provider codes (never free text that could hold an address)', () => {
    expect(safeCode('21211')).toBe('21211');
    expect(safeCode('Recipient a@b.test rejected')).toBeNull();
    expect(safeCode({})).toBeNull();
  });
});
