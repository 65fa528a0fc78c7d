import { addressFor, chooseChannels } from './channels';

const both = { phone: '+919812345678', email: 'asha@example.test' };

describe('chooseChannels', () => {
  it('uses the default order whatsapp → sms → email when nothing is asked or preferred', () => {
    expect(chooseChannels({ contact: both })).toEqual(['whatsapp', 'sms', 'email']);
  });

  it('takes the request over the preference, and the preference over the default', () => {
    expect(chooseChannels({ requested: ['sms'], preferred: ['email', 'whatsapp'], contact: both })).toEqual(['sms']);
    expect(chooseChannels({ preferred: ['email', 'whatsapp'], contact: both })).toEqual(['email', 'whatsapp']);
    expect(chooseChannels({ requested: null, preferred: null, contact: both })).toEqual(['whatsapp', 'sms', 'email']);
  });

  it('drops channels the recipient has no address for', () => {
    expect(chooseChannels({ contact: { phone: null, email: 'a@b.test' } })).toEqual(['email']);
    expect(chooseChannels({ contact: { phone: '+919812345678', email: null } })).toEqual(['whatsapp', 'sms']);
    expect(chooseChannels({ contact: { phone: '  ', email: '' } })).toEqual([]);
    expect(chooseChannels({ requested: ['email'], contact: { phone: '+919812345678', email: null } })).toEqual([]);
  });

  it('drops channels this deployment has no provider for', () => {
    expect(chooseChannels({ contact: both, enabled: ['email', 'sms'] })).toEqual(['sms', 'email']);
    expect(chooseChannels({ contact: both, enabled: [] })).toEqual([]);
  });

  it('respects an explicit empty preference (opted out) and ignores junk in stored preferences', () => {
    expect(chooseChannels({ preferred: [], contact: both })).toEqual([]);
    expect(chooseChannels({ preferred: ['pigeon', 'email', 'email', 3, 'sms'], contact: both })).toEqual(['email', 'sms']);
  });
});

describe('addressFor', () => {
  it('sends WhatsApp and SMS to the phone, email to the address', () => {
    expect(addressFor('whatsapp', both)).toBe(both.phone);
    expect(addressFor('sms', both)).toBe(both.phone);
    expect(addressFor('email', both)).toBe(both.email);
    expect(addressFor('email', { phone: null, email: null })).toBeNull();
  });
});
