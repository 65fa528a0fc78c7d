import { render, resolveLanguage, TEMPLATE_NAMES, TemplateError } from './templates';

const visit = { clinicName: 'Sushruta Ayurveda', startsAt: '2026-03-10T04:30:00Z', timezone: 'Asia/Kolkata' };

describe('templates', () => {
  it('has every template the journeys send', () => {
    expect([...TEMPLATE_NAMES].sort()).toEqual(
      ['appointment-cancelled', 'appointment-confirmed', 'appointment-hold-expired', 'appointment-practitioner-unavailable', 'appointment-reminder', 'appointment-rescheduled', 'break-glass-report', 'follow-up-due', 'otp-code',
        'series-occurrence-skipped', 'service-instruction', 'therapy-cancelled', 'therapy-paused', 'therapy-phase-started', 'therapy-regimen', 'therapy-resumed'],
    );
  });

  it('renders the OTP code in English and Hindi', () => {
    const en = render('otp-code', 'en', { code: '493817' });
    expect(en).toEqual({ subject: 'Your sign-in code', text: expect.stringContaining('493817'), language: 'en' });
    const hi = render('otp-code', 'hi-IN', { code: '493817' });
    expect(hi.language).toBe('hi');
    expect(hi.text).toContain('493817');
    expect(hi.text).toContain('कोड');
    expect(hi.subject).not.toBe(en.subject);
  });

  it('writes the appointment time in the clinic time zone', () => {
    const { subject, text } = render('appointment-confirmed', 'en', visit);
    expect(subject).toBe('Appointment confirmed at Sushruta Ayurveda');
    // 04:30 UTC is 10:00 in Kolkata, on Tuesday 10 March.
    expect(text).toMatch(/Tue.*10 Mar.*2026.*10:00/);
  });

  it('writes the time in Hindi for Hindi readers', () => {
    const { text, language } = render('appointment-reminder', 'hi', visit);
    expect(language).toBe('hi');
    expect(text).toContain('10 मार्च 2026');
    expect(text).toContain('Sushruta Ayurveda');
    expect(text).toMatch(/10:00/);
  });

  it.each(['appointment-reminder', 'appointment-rescheduled', 'appointment-cancelled'])('%s renders in en and hi', (t) => {
    expect(render(t, 'en', visit).text).toContain('Sushruta Ayurveda');
    expect(render(t, 'hi', visit).language).toBe('hi');
  });

  it('falls back to English for an unknown language and for a template without that language', () => {
    expect(render('otp-code', 'ta', { code: '111111' }).language).toBe('en');
    expect(render('otp-code', null, { code: '111111' }).language).toBe('en');
    const followUp = render('follow-up-due', 'hi', { clinicName: 'C', dueDate: '2026-04-01' });
    expect(followUp.language).toBe('en');
    expect(followUp.text).toMatch(/Wed, 1 Apr,? 2026/);
  });

  it('refuses missing or blank params, naming them but never echoing values', () => {
    expect(() => render('otp-code', 'en', {})).toThrow(new TemplateError('otp-code: missing params code'));
    expect(() => render('appointment-confirmed', 'en', { clinicName: 'X', startsAt: ' ' })).toThrow(/missing params startsAt, timezone/);
  });

  it('refuses an unknown template and malformed dates', () => {
    expect(() => render('marketing-blast', 'en', {})).toThrow(TemplateError);
    expect(() => render('appointment-confirmed', 'en', { ...visit, startsAt: 'tomorrow' })).toThrow(/ISO instant/);
    expect(() => render('appointment-confirmed', 'en', { ...visit, timezone: 'Mars/Olympus' })).toThrow(TemplateError);
    expect(() => render('follow-up-due', 'en', { clinicName: 'C', dueDate: '01/04/2026' })).toThrow(/YYYY-MM-DD/);
  });

  it('reports a break-glass access with staff, record number and times in the clinic zone, never a reason', () => {
    const params = {
      clinicName: 'Sushruta Ayurveda', staffName: 'Dr Meera', mrn: 'MRN0000042', grantedAt: '2026-03-10T04:30:00Z',
      expiresAt: '2026-03-10T05:30:00Z', timezone: 'Asia/Kolkata', grantId: '6f1c1c7e-8d43-4a43-9a57-2b1f0f3f1a11',
    };
    const { subject, text } = render('break-glass-report', 'hi', params);
    expect(subject).toBe('Break-glass access at Sushruta Ayurveda');
    expect(text).toMatch(/Dr Meera used emergency \(break-glass\) access to patient record MRN0000042/);
    expect(text).toMatch(/10 Mar.*2026.*10:00.*ends.*11:00/);
    expect(text).toContain(params.grantId);
    expect(() => render('break-glass-report', 'en', { ...params, expiresAt: 'later' })).toThrow(/ISO instants/);
    expect(() => render('break-glass-report', 'en', { ...params, mrn: '' })).toThrow(/missing params mrn/);
  });

  it('resolves language tags to a supported language', () => {
    expect(resolveLanguage('HI_in')).toBe('hi');
    expect(resolveLanguage('en-GB')).toBe('en');
    expect(resolveLanguage('fr')).toBe('en');
    expect(resolveLanguage(undefined)).toBe('en');
  });
});

describe('service-instruction', () => {
  const visit = { clinicName: 'Sushruta Ayurveda', startsAt: '2026-03-10T04:30:00Z', timezone: 'Asia/Kolkata' };

  it("words a kind's preparation from its plugin, in the reader's language, with the visit", () => {
    const en = render('service-instruction', 'en', { ...visit, kind: 'PANCHAKARMA_SESSION', key: 'ghee-and-diet' });
    expect(en.subject).toBe("Preparing for tomorrow's Panchakarma session");
    expect(en.text).toMatch(/medicated ghee[\s\S]*Sushruta Ayurveda, Tue.*10 Mar.*10:00/);
    const hi = render('service-instruction', 'hi-IN', { ...visit, kind: 'PANCHAKARMA_SESSION', key: 'ghee-and-diet' });
    expect(hi).toMatchObject({ language: 'hi', subject: 'कल के पंचकर्म सत्र की तैयारी' });
  });

  it('refuses an instruction its kind does not have, naming neither params nor PHI', () => {
    expect(() => render('service-instruction', 'en', { ...visit, kind: 'PANCHAKARMA_SESSION', key: 'no-such' })).toThrow(TemplateError);
    expect(() => render('service-instruction', 'en', { ...visit, kind: 'NO_KIND', key: 'bring-records' })).toThrow(/service kind "NO_KIND"/);
    expect(() => render('service-instruction', 'en', { ...visit, kind: 'CONSULTATION' } as never)).toThrow(/missing params key/);
  });
});

describe('long-journey templates', () => {
  it('word a phase change, a regimen day and a skipped occurrence without patient data', () => {
    expect(render('therapy-phase-started', 'en', { ...visit, phase: 'Paschatkarma' }).text).toContain('Paschatkarma');
    expect(render('therapy-regimen', 'hi', { clinicName: 'Sushruta Ayurveda', phase: 'Paschatkarma', day: '9', regimen: 'Peya only.' })).toMatchObject({ text: expect.stringContaining('Peya only.'), language: 'en' });
    expect(render('series-occurrence-skipped', 'en', { ...visit, reason: 'SLOT_TAKEN' }).text).toContain('SLOT_TAKEN');
    expect(() => render('therapy-regimen', 'en', { clinicName: 'x', phase: 'p', day: '1' })).toThrow(TemplateError);
  });
});
