import { isServiceKind, registerServiceKind, resourcesForNewService, serviceKind, SHIPPED_SERVICE_KINDS } from '.';
import type { ServiceKindPlugin } from './types';

const plugin = (over: Partial<ServiceKindPlugin> = {}): ServiceKindPlugin => ({
  kind: 'NASYA_CLINIC', label: 'Nasya', resources: { roomKind: 'THERAPY', therapists: 1 },
  preparation: [], afterCare: [], defaultFollowUpInDays: null, ...over,
});

describe('service kind registry', () => {
  it('ships the six SPEC kinds, each with preparation content in English', () => {
    expect(SHIPPED_SERVICE_KINDS.map((k) => k.kind).sort()).toEqual(['AYURVEDA_THERAPY', 'CHEQUP', 'CONSULTATION', 'FOLLOW_UP', 'PANCHAKARMA_SESSION', 'VIDHAKARMA']);
    for (const k of SHIPPED_SERVICE_KINDS) {
      expect(k.preparation.length).toBeGreaterThan(0);
      for (const i of [...k.preparation, ...k.afterCare]) expect(i.text.en.length).toBeGreaterThan(40);
    }
  });

  it('therapies need a therapy room and two therapists; a consultation needs neither', () => {
    expect(serviceKind('AYURVEDA_THERAPY')!.resources).toEqual({ roomKind: 'THERAPY', therapists: 2 });
    expect(serviceKind('CONSULTATION')!.resources).toEqual({ roomKind: null, therapists: 0 });
  });

  it('a new kind is one registration; the same kind twice with another plugin is refused', () => {
    const nasya = registerServiceKind(plugin());
    expect(isServiceKind('NASYA_CLINIC')).toBe(true);
    expect(registerServiceKind(nasya)).toBe(nasya);
    expect(() => registerServiceKind(plugin())).toThrow(/already registered/);
  });

  it('refuses malformed kinds and repeated instruction keys', () => {
    expect(() => registerServiceKind(plugin({ kind: 'lower' }))).toThrow(/upper-case/);
    const i = { key: 'x', offsetMinutes: 5, subject: { en: 's' }, text: { en: 't' } };
    expect(() => registerServiceKind(plugin({ kind: 'TWICE', preparation: [i], afterCare: [i] }))).toThrow(/repeats/);
  });

  it('a new service takes what its body names, else the kind defaults', () => {
    expect(resourcesForNewService('AYURVEDA_THERAPY', {})).toEqual({ roomKind: 'THERAPY', therapists: 2 });
    expect(resourcesForNewService('AYURVEDA_THERAPY', { therapistsRequired: 4 })).toEqual({ roomKind: 'THERAPY', therapists: 4 });
    expect(resourcesForNewService('AYURVEDA_THERAPY', { roomKind: null })).toEqual({ roomKind: null, therapists: 2 });
    expect(resourcesForNewService('UNKNOWN', {})).toEqual({ roomKind: null, therapists: 0 });
  });
});
