import { z } from 'zod';

/**
 * Panchakarma course templates (SPEC §6 therapySeries, §7 "Long journeys"). A course is a run of
 * daily sessions in three phases, in this order: purvakarma (preparation: snehana, swedana),
 * pradhanakarma (the main procedure) and paschatkarma (samsarjana krama: the graded diet back to
 * normal food, with review visits). Each phase names the service its daily session books (by the
 * clinic's service code), how many days it lasts, and the regimen messages sent on its days
 * (one a day; the last one repeats when the phase is longer than the list).
 *
 * The shipped templates live here, in code, and every clinic has them: a clinic's own templates
 * (table therapy_templates) are listed beside them, and may not reuse a shipped code.
 */
export const PHASES = ['PURVAKARMA', 'PRADHANAKARMA', 'PASCHATKARMA'] as const;
export type Phase = (typeof PHASES)[number];

export interface TemplatePhase {
  phase: Phase;
  days: number;
  serviceCode: string;
  regimen?: string[];
}

export interface TherapyTemplate {
  code: string;
  name: string;
  phases: TemplatePhase[];
  /** Days after the last session when the review follow-up is due (default 7). */
  reviewAfterDays?: number;
  /** Where the course comes from (shipped templates). */
  source?: string;
  shipped?: boolean;
}

/** Service codes the shipped templates book: a clinic creates services with these codes to sell the courses. */
export const SHIPPED_SERVICE_CODES = {
  snehanaSwedana: 'PK-SNEHANA-SWEDANA',
  virechana: 'PK-VIRECHANA',
  basti: 'PK-BASTI',
  rasayana: 'PK-RASAYANA',
  review: 'PK-REVIEW',
} as const;

/**
 * Samsarjana krama after a shodhana (Charaka Samhita Siddhi Sthana 1.11–12; Ashtanga Hridaya
 * Sutra Sthana 18.29–31): peya, vilepi, akrita yusha, krita yusha, akrita mamsarasa, krita
 * mamsarasa, then normal food. Steps of two meals; here one message a day.
 */
const SAMSARJANA = [
  'Samsarjana krama day 1: peya only (thin rice gruel), warm water to drink; rest, no exertion, no day sleep.',
  'Day 2: vilepi (thick rice gruel) at meals; keep to warm water.',
  'Day 3: akrita yusha (plain green-gram soup without salt or fat) with soft rice.',
  'Day 4: krita yusha (green-gram soup with a little salt, ghee and spices) with rice.',
  'Day 5: akrita mamsarasa or, for vegetarians, a thicker plain dal soup; digestion permitting.',
  'Day 6: krita mamsarasa or seasoned dal soup; return gradually to your normal light diet from tomorrow.',
];

/** Shipped courses, each with its classical source. */
export const SHIPPED_TEMPLATES: readonly TherapyTemplate[] = [
  {
    // Charaka Samhita Kalpa Sthana 1 and Siddhi Sthana 1 (virechana after snehana and swedana; samsarjana krama);
    // Ashtanga Hridaya Sutra Sthana 18 (Vamana-Virechana vidhi).
    code: 'virechana-14',
    name: 'Virechana (14 days)',
    source: 'Charaka Samhita Kalpa Sthana 1, Siddhi Sthana 1; Ashtanga Hridaya Sutra Sthana 18',
    phases: [
      {
        phase: 'PURVAKARMA', days: 7, serviceCode: SHIPPED_SERVICE_CODES.snehanaSwedana,
        regimen: [
          'Deepana-pachana: light warm food, hot water; take the prescribed digestive before meals.',
          'Snehapana: take the medicated ghee at sunrise on an empty stomach; warm water only until hungry.',
          'Snehapana (increasing dose): eat only when truly hungry, light liquid food; avoid cold, day sleep and exertion.',
          'Snehapana: note thirst, appetite and stools for your therapist; warm water only.',
          'Snehapana, last dose: watch for the signs of proper oleation (soft stools, oil in stools, lightness).',
          'Abhyanga and swedana today; kapha-increasing light food (curd rice, sweet) in the evening as advised.',
          'Abhyanga and swedana; rest well tonight: virechana follows tomorrow morning.',
        ],
      },
      {
        phase: 'PRADHANAKARMA', days: 1, serviceCode: SHIPPED_SERVICE_CODES.virechana,
        regimen: ['Virechana day: take the purgative when told, sip warm water, do not eat until the clinic allows; stay near the clinic.'],
      },
      { phase: 'PASCHATKARMA', days: 6, serviceCode: SHIPPED_SERVICE_CODES.review, regimen: SAMSARJANA },
    ],
  },
  {
    // Charaka Samhita Siddhi Sthana 1.47–48 (yoga basti: eight bastis, three niruha between five anuvasana);
    // Ashtanga Hridaya Sutra Sthana 19 (Basti vidhi).
    code: 'yoga-basti-8',
    name: 'Yoga basti (8 bastis)',
    source: 'Charaka Samhita Siddhi Sthana 1.47-48; Ashtanga Hridaya Sutra Sthana 19',
    phases: [
      {
        phase: 'PURVAKARMA', days: 1, serviceCode: SHIPPED_SERVICE_CODES.snehanaSwedana,
        regimen: ['Abhyanga and swedana to prepare for the bastis; light warm food, no day sleep.'],
      },
      {
        phase: 'PRADHANAKARMA', days: 8, serviceCode: SHIPPED_SERVICE_CODES.basti,
        regimen: [
          'Basti 1, anuvasana (oil) basti after a light meal; lie on your left side as shown, rest afterwards.',
          'Basti 2, niruha (decoction) basti on an empty stomach; eat a light meal with soup once it has returned.',
          'Basti 3, anuvasana basti after a light meal.',
          'Basti 4, niruha basti on an empty stomach.',
          'Basti 5, anuvasana basti after a light meal.',
          'Basti 6, niruha basti on an empty stomach.',
          'Basti 7, anuvasana basti after a light meal.',
          'Basti 8, anuvasana basti: the last of the course; rest and keep warm.',
        ],
      },
      { phase: 'PASCHATKARMA', days: 3, serviceCode: SHIPPED_SERVICE_CODES.review, regimen: [SAMSARJANA[0], SAMSARJANA[2], SAMSARJANA[4]] },
    ],
  },
  {
    // Charaka Samhita Chikitsa Sthana 1 (Rasayana adhyaya: rasayana after shodhana, kutipraveshika);
    // Ashtanga Hridaya Uttara Sthana 39 (Rasayana vidhi).
    code: 'rasayana-21',
    name: 'Rejuvenation (rasayana, 21 days)',
    source: 'Charaka Samhita Chikitsa Sthana 1; Ashtanga Hridaya Uttara Sthana 39',
    reviewAfterDays: 14,
    phases: [
      {
        phase: 'PURVAKARMA', days: 7, serviceCode: SHIPPED_SERVICE_CODES.snehanaSwedana,
        regimen: ['Deepana-pachana and snehana: light warm food, warm water, early nights.'],
      },
      {
        phase: 'PRADHANAKARMA', days: 7, serviceCode: SHIPPED_SERVICE_CODES.rasayana,
        regimen: ['Rasayana: take the prescribed rasayana at sunrise with warm milk; sattvic food, calm mind, no exertion.'],
      },
      {
        phase: 'PASCHATKARMA', days: 7, serviceCode: SHIPPED_SERVICE_CODES.review,
        regimen: [...SAMSARJANA, 'Continue the rasayana as advised, with your normal wholesome diet.'],
      },
    ],
  },
];

export const MAX_COURSE_DAYS = 60;

const phaseSchema = z.object({
  phase: z.enum(PHASES),
  days: z.number().int().min(1).max(28),
  serviceCode: z.string().trim().min(1).max(40).regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _'),
  regimen: z.array(z.string().trim().min(1).max(500)).max(28).optional(),
}).strict();

/** POST /therapy-templates: phases in course order, one run of days each, at most MAX_COURSE_DAYS in all. */
export const templateSchema = z.object({
  code: z.string().trim().min(1).max(40).regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, 'lowercase letters, digits and hyphens'),
  name: z.string().trim().min(1).max(200),
  phases: z.array(phaseSchema).min(1).max(3)
    .refine((ps) => ps.every((p, i) => i === 0 || PHASES.indexOf(ps[i - 1].phase) < PHASES.indexOf(p.phase)),
      'phases go PURVAKARMA → PRADHANAKARMA → PASCHATKARMA, each at most once')
    .refine((ps) => ps.some((p) => p.phase === 'PRADHANAKARMA'), 'a course has a PRADHANAKARMA phase')
    .refine((ps) => ps.reduce((n, p) => n + p.days, 0) <= MAX_COURSE_DAYS, `at most ${MAX_COURSE_DAYS} days in all`),
  reviewAfterDays: z.number().int().min(1).max(90).optional(),
}).strict();

export type TemplateInput = z.infer<typeof templateSchema>;

export const isShippedCode = (code: string) => SHIPPED_TEMPLATES.some((t) => t.code === code);

/** One session a day, in phase order: session n (1-based) on course day n − 1. */
export function courseSessions(template: Pick<TherapyTemplate, 'phases'>): { n: number; phase: Phase; serviceCode: string; phaseDay: number }[] {
  const sessions: { n: number; phase: Phase; serviceCode: string; phaseDay: number }[] = [];
  for (const p of template.phases) {
    for (let d = 0; d < p.days; d++) sessions.push({ n: sessions.length + 1, phase: p.phase, serviceCode: p.serviceCode, phaseDay: d });
  }
  return sessions;
}

/** The regimen message of a phase's day, the last one repeating; null when the phase has none. */
export function regimenFor(phase: Pick<TemplatePhase, 'regimen'>, phaseDay: number): string | null {
  const list = phase.regimen ?? [];
  return list.length ? list[Math.min(phaseDay, list.length - 1)] : null;
}
