import type { ServiceKindPlugin } from '../types';

/** Ayurvedic para-surgical procedures (agnikarma, jalaukavacharana, kshara karma): a procedure room. */
export const vidhakarma: ServiceKindPlugin = {
  kind: 'VIDHAKARMA',
  label: 'Vidhakarma procedure',
  resources: { roomKind: 'PROCEDURE', therapists: 1 },
  preparation: [{
    key: 'light-meal',
    offsetMinutes: 12 * 60,
    subject: { en: 'Preparing for your procedure', hi: 'प्रक्रिया की तैयारी' },
    text: {
      en: 'Take only a light meal (khichdi or rice gruel) the evening before, wear loose clothing, and tell the clinic if you take blood thinners.',
      hi: 'पिछली शाम केवल हल्का भोजन (खिचड़ी या चावल का मांड) लें, ढीले कपड़े पहनें, और यदि आप खून पतला करने की दवा लेते हैं तो क्लिनिक को बताएँ।',
    },
  }],
  afterCare: [{
    key: 'wound-care',
    offsetMinutes: 60,
    subject: { en: 'Caring for the treated area', hi: 'उपचारित स्थान की देखभाल' },
    text: {
      en: 'Keep the treated area clean and dry for 24 hours, avoid cold water and heavy exertion, and call the clinic if bleeding, swelling or fever appears.',
      hi: 'उपचारित स्थान को 24 घंटे साफ और सूखा रखें, ठंडे पानी और भारी परिश्रम से बचें, और खून, सूजन या बुखार हो तो क्लिनिक को फोन करें।',
    },
  }],
  defaultFollowUpInDays: 7,
};
