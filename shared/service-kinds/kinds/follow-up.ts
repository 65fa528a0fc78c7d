import type { ServiceKindPlugin } from '../types';

export const followUpVisit: ServiceKindPlugin = {
  kind: 'FOLLOW_UP',
  label: 'Follow-up visit',
  resources: { roomKind: null, therapists: 0 },
  preparation: [{
    key: 'track-progress',
    offsetMinutes: 24 * 60,
    subject: { en: 'Before your follow-up', hi: 'फॉलो-अप से पहले' },
    text: {
      en: 'Bring the medicines you were given and note how your symptoms changed since your last visit, so the doctor can adjust your treatment.',
      hi: 'आपको दी गई दवाएँ साथ लाएँ और पिछली मुलाकात के बाद से लक्षणों में क्या बदलाव आया, यह लिख लें ताकि डॉक्टर उपचार बदल सकें।',
    },
  }],
  afterCare: [],
  defaultFollowUpInDays: null,
};
