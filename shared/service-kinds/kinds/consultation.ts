import type { ServiceKindPlugin } from '../types';

export const consultation: ServiceKindPlugin = {
  kind: 'CONSULTATION',
  label: 'Consultation',
  resources: { roomKind: null, therapists: 0 },
  preparation: [{
    key: 'bring-records',
    offsetMinutes: 24 * 60,
    subject: { en: 'Before your consultation', hi: 'परामर्श से पहले' },
    text: {
      en: 'Please bring your previous prescriptions, test reports and a list of the medicines you take, and arrive 10 minutes early.',
      hi: 'कृपया अपने पुराने पर्चे, जाँच रिपोर्ट और आप जो दवाएँ लेते हैं उनकी सूची साथ लाएँ, और 10 मिनट पहले पहुँचें।',
    },
  }],
  afterCare: [],
  defaultFollowUpInDays: null,
};
