import { loadConfig } from '../../shared/config';

const base = { JWT_SECRET: 'x'.repeat(32), PHI_ENCRYPTION_KEYS: `v1:${Buffer.alloc(32, 7).toString('base64')}`, BLIND_INDEX_KEY: Buffer.alloc(32, 8).toString('base64') };

describe('session, MFA and OTP settings', () => {
  it('default to 30 min idle, 12 h sessions, no mandatory MFA, 3 codes per identifier and 20 per IP in 10 min', () => {
    expect(loadConfig(base)).toMatchObject({
      SESSION_IDLE_MINUTES: 30, SESSION_MAX_HOURS: 12, MFA_REQUIRED_ROLES: [],
      OTP_RATE_LIMIT_PER_IDENTIFIER: 3, OTP_RATE_LIMIT_PER_IP: 20, OTP_RATE_LIMIT_WINDOW_SECONDS: 600,
    });
  });

  it('reads MFA_REQUIRED_ROLES as a comma list of known roles', () => {
    expect(loadConfig({ ...base, MFA_REQUIRED_ROLES: ' SUPER_ADMIN, CLINIC_ADMIN ,' }).MFA_REQUIRED_ROLES).toEqual(['SUPER_ADMIN', 'CLINIC_ADMIN']);
    expect(() => loadConfig({ ...base, MFA_REQUIRED_ROLES: 'SUPER_ADMIN,WIZARD' })).toThrow(/^Invalid configuration:\n {2}MFA_REQUIRED_ROLES:/);
  });

  it.each([
    [{ SESSION_IDLE_MINUTES: '0' }, 'SESSION_IDLE_MINUTES'],
    [{ SESSION_MAX_HOURS: 'twelve' }, 'SESSION_MAX_HOURS'],
    [{ OTP_RATE_LIMIT_PER_IP: '-1' }, 'OTP_RATE_LIMIT_PER_IP'],
  ])('names the bad variable: %j', (env, name) => {
    expect(() => loadConfig({ ...base, ...env })).toThrow(new RegExp(`^Invalid configuration:\\n  ${name}:`));
  });
});
