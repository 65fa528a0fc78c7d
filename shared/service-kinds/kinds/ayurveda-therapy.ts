import type { ServiceKindPlugin } from '../types';

/** Abhyanga, Pizhichil, Shirodhara: a therapy room and two therapists working together. */
export const ayurvedaTherapy: ServiceKindPlugin = {
  kind: 'AYURVEDA_THERAPY',
  label: 'Ayurveda therapy',
  resources: { roomKind: 'THERAPY', therapists: 2 },
  preparation: [{
    key: 'empty-stomach',
    offsetMinutes: 3 * 60,
    subject: { en: 'Before your therapy', hi: 'चिकित्सा से पहले' },
    text: {
      en: 'Come with a light or empty stomach (nothing heavy for 2 hours before), bring a change of old clothes the oil may stain, and tell the therapist about any injury or pregnancy.',
      hi: 'हल्के या खाली पेट आएँ (2 घंटे पहले तक भारी भोजन नहीं), तेल से दाग लगने वाले पुराने कपड़े साथ लाएँ, और किसी चोट या गर्भावस्था के बारे में चिकित्सक को बताएँ।',
    },
  }],
  afterCare: [{
    key: 'after-oil',
    offsetMinutes: 15,
    subject: { en: 'After your therapy', hi: 'चिकित्सा के बाद' },
    text: {
      en: 'Rest for an hour, bathe only in warm water after 1–2 hours (with green gram powder rather than soap), avoid cold drinks, wind and daytime sleep, and eat a light warm meal.',
      hi: 'एक घंटा आराम करें, 1–2 घंटे बाद केवल गुनगुने पानी से स्नान करें (साबुन के बजाय मूँग का आटा), ठंडे पेय, हवा और दिन में सोने से बचें, और हल्का गर्म भोजन लें।',
    },
  }],
  defaultFollowUpInDays: null,
};
