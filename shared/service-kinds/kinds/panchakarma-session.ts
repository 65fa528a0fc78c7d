import type { ServiceKindPlugin } from '../types';

/**
 * One daily session of a Panchakarma course (snehana, swedana, virechana, basti…): a therapy room
 * and two therapists. The course's phase messages come from the therapy template.
 */
export const panchakarmaSession: ServiceKindPlugin = {
  kind: 'PANCHAKARMA_SESSION',
  label: 'Panchakarma session',
  resources: { roomKind: 'THERAPY', therapists: 2 },
  preparation: [{
    key: 'ghee-and-diet',
    offsetMinutes: 14 * 60,
    subject: { en: 'Preparing for tomorrow\'s Panchakarma session', hi: 'कल के पंचकर्म सत्र की तैयारी' },
    text: {
      en: 'Take the medicated ghee (snehapana) at the dose and time your physician set, only when you feel hungry; eat warm, light food (rice gruel, moong dal) and drink warm water. No curd, cold or fried food, and no late nights.',
      hi: 'औषधीय घी (स्नेहपान) चिकित्सक द्वारा बताई मात्रा और समय पर, भूख लगने पर ही लें; गर्म, हल्का भोजन (चावल का मांड, मूँग दाल) लें और गुनगुना पानी पिएँ। दही, ठंडा या तला भोजन नहीं, और देर रात तक न जागें।',
    },
  }, {
    key: 'arrive-early',
    offsetMinutes: 90,
    subject: { en: 'Your session today', hi: 'आज आपका सत्र' },
    text: {
      en: 'Arrive 15 minutes early with an empty stomach unless told otherwise, and bring loose cotton clothes.',
      hi: 'जब तक अन्यथा न कहा जाए खाली पेट 15 मिनट पहले पहुँचें, और ढीले सूती कपड़े साथ लाएँ।',
    },
  }],
  afterCare: [{
    key: 'rest-and-warm-food',
    offsetMinutes: 30,
    subject: { en: 'After today\'s session', hi: 'आज के सत्र के बाद' },
    text: {
      en: 'Rest, keep warm and out of wind, drink only warm water, and eat only the diet your physician gave you (peya or vilepi if you are in samsarjana krama). Avoid travel, exercise, sex and daytime sleep.',
      hi: 'आराम करें, गर्म रहें और हवा से बचें, केवल गुनगुना पानी पिएँ, और चिकित्सक द्वारा बताया भोजन ही लें (संसर्जन क्रम में हों तो पेया या विलेपी)। यात्रा, व्यायाम, संभोग और दिन में सोने से बचें।',
    },
  }],
  defaultFollowUpInDays: null,
};
