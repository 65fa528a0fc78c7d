import type { ServiceKindPlugin } from '../types';

/** `CHEQUP` is the SPEC's spelling of the kind; it is part of the public contract. */
export const checkup: ServiceKindPlugin = {
  kind: 'CHEQUP',
  label: 'Check-up',
  resources: { roomKind: null, therapists: 0 },
  preparation: [{
    key: 'fasting-blood-tests',
    offsetMinutes: 18 * 60,
    subject: { en: 'Fasting before your check-up', hi: 'जाँच से पहले उपवास' },
    text: {
      en: 'Your check-up may include fasting blood tests: eat nothing after 10 pm the night before. Water is fine. Take your usual medicines unless your doctor said otherwise.',
      hi: 'आपकी जाँच में खाली पेट रक्त परीक्षण हो सकते हैं: पिछली रात 10 बजे के बाद कुछ न खाएँ। पानी पी सकते हैं। डॉक्टर ने मना न किया हो तो अपनी नियमित दवाएँ लें।',
    },
  }],
  afterCare: [{
    key: 'results-ready',
    offsetMinutes: 2 * 24 * 60,
    subject: { en: 'Your check-up results' },
    text: { en: 'Your check-up results are usually ready within two days. The clinic will contact you if anything needs attention.' },
  }],
  defaultFollowUpInDays: 365,
};
