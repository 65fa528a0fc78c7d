import { DateTime } from 'luxon';
import { serviceKind } from '../service-kinds';

/**
 * Message templates: pure functions of (template, language, params). The rendered text holds PHI
 * (an OTP code, a clinic visit), so it is built at send time and never stored or logged.
 */
export const LANGUAGES = ['en', 'hi'] as const;
export type Language = (typeof LANGUAGES)[number];

export interface Rendered {
  subject: string;
  text: string;
  /** The language actually used (English when the asked one has no text for this template). */
  language: Language;
}

/** A template that does not exist or params that do not fit it: a programming error, never retried. */
export class TemplateError extends Error {}

type Params = Record<string, string>;
interface Helpers {
  /** `startsAt` (ISO instant) in the `timezone` param, written the way the language writes dates. */
  when(): string;
  /** `dueDate` (YYYY-MM-DD) written in the language. */
  dueDate(): string;
}
type Text = (p: Params, h: Helpers) => { subject: string; text: string };

interface TemplateDef {
  params: readonly string[];
  /**
   * Params that are secrets: filled at send time from the message's secretRef
   * (shared/notify/message-secrets.ts), and refused in the request's params, which travel through Temporal.
   */
  secretParams?: readonly string[];
  texts: { en: Text } & Partial<Record<Language, Text>>;
  /** Languages these params have text in, when that depends on them (default: the keys of `texts`). */
  languages?: (p: Params) => readonly Language[];
}

/** The service kind's instruction `key` (shared/service-kinds), or a TemplateError naming what is unknown. */
function instructionOf(p: Params) {
  const kind = serviceKind(p.kind);
  const instruction = kind && [...kind.preparation, ...kind.afterCare].find((i) => i.key === p.key);
  if (!instruction) throw new TemplateError(`service-instruction: no instruction ${JSON.stringify(p.key)} for service kind ${JSON.stringify(p.kind)}`);
  return instruction;
}

/** A service kind's instruction (preparation or after-care), in the reader's language, with the visit it is for. */
const serviceInstruction = (language: Language): Text => (p, h) => {
  const i = instructionOf(p);
  const visit = language === 'hi' ? `${p.clinicName}, ${h.when()}` : `Your visit: ${p.clinicName}, ${h.when()}.`;
  return { subject: i.subject[language] ?? i.subject.en, text: `${i.text[language] ?? i.text.en}\n\n${visit}` };
};

const VISIT = ['clinicName', 'startsAt', 'timezone'] as const;

const TEMPLATES: Record<string, TemplateDef> = {
  'otp-code': {
    params: ['code'],
    secretParams: ['code'],
    texts: {
      en: (p) => ({
        subject: 'Your sign-in code',
        text: `Your sign-in code is ${p.code}. It expires in 5 minutes. Never share it with anyone.`,
      }),
      hi: (p) => ({
        subject: 'आपका साइन-इन कोड',
        text: `आपका साइन-इन कोड ${p.code} है। यह 5 मिनट में समाप्त हो जाएगा। इसे कभी किसी के साथ साझा न करें।`,
      }),
    },
  },
  'appointment-confirmed': {
    params: VISIT,
    texts: {
      en: (p, h) => ({
        subject: `Appointment confirmed at ${p.clinicName}`,
        text: `Your appointment at ${p.clinicName} is confirmed for ${h.when()}.`,
      }),
      hi: (p, h) => ({
        subject: `${p.clinicName} में अपॉइंटमेंट की पुष्टि`,
        text: `${p.clinicName} में आपकी अपॉइंटमेंट ${h.when()} के लिए पक्की हो गई है।`,
      }),
    },
  },
  'appointment-reminder': {
    params: VISIT,
    texts: {
      en: (p, h) => ({
        subject: `Reminder: your appointment at ${p.clinicName}`,
        text: `This is a reminder of your appointment at ${p.clinicName} on ${h.when()}.`,
      }),
      hi: (p, h) => ({
        subject: `याद दिलाना: ${p.clinicName} में आपकी अपॉइंटमेंट`,
        text: `याद दिला दें कि ${p.clinicName} में आपकी अपॉइंटमेंट ${h.when()} है।`,
      }),
    },
  },
  'appointment-rescheduled': {
    params: VISIT,
    texts: {
      en: (p, h) => ({
        subject: `Appointment moved at ${p.clinicName}`,
        text: `Your appointment at ${p.clinicName} has been moved to ${h.when()}.`,
      }),
      hi: (p, h) => ({
        subject: `${p.clinicName} में अपॉइंटमेंट का समय बदला`,
        text: `${p.clinicName} में आपकी अपॉइंटमेंट अब ${h.when()} है।`,
      }),
    },
  },
  'appointment-cancelled': {
    params: VISIT,
    texts: {
      en: (p, h) => ({
        subject: `Appointment cancelled at ${p.clinicName}`,
        text: `Your appointment at ${p.clinicName} on ${h.when()} has been cancelled.`,
      }),
      hi: (p, h) => ({
        subject: `${p.clinicName} में अपॉइंटमेंट रद्द`,
        text: `${p.clinicName} में ${h.when()} की आपकी अपॉइंटमेंट रद्द कर दी गई है।`,
      }),
    },
  },
  // An unpaid booking released when the clinic's payment hold ran out (workflows/payment.ts).
  'appointment-hold-expired': {
    params: VISIT,
    texts: {
      en: (p, h) => ({
        subject: `Booking released at ${p.clinicName}`,
        text: `Your booking at ${p.clinicName} on ${h.when()} was released because it was not paid in time. You are welcome to book again.`,
      }),
    },
  },
  // Sent when the practitioner's leave covers the visit; `offeredStartsAt` (optional) is the nearest free time.
  'appointment-practitioner-unavailable': {
    params: VISIT,
    texts: {
      en: (p, h) => {
        const offered = p.offeredStartsAt ? DateTime.fromISO(p.offeredStartsAt, { zone: p.timezone }) : null;
        if (offered && !offered.isValid) throw new TemplateError('appointment-practitioner-unavailable: offeredStartsAt must be an ISO instant');
        return {
          subject: `Your appointment at ${p.clinicName} needs a new time`,
          text: `Your practitioner is unavailable for your appointment at ${p.clinicName} on ${h.when()}. ` + (offered
            ? `The nearest free time is ${offered.setLocale('en-IN').toLocaleString(DateTime.DATETIME_MED_WITH_WEEKDAY)}: reschedule to it, or choose another time.`
            : 'Please choose another time.'),
        };
      },
    },
  },
  // Preparation before and after-care after a visit, worded by the service kind's plugin (shared/service-kinds).
  'service-instruction': {
    params: ['kind', 'key', ...VISIT],
    texts: { en: serviceInstruction('en'), hi: serviceInstruction('hi') },
    languages: (p) => {
      const i = instructionOf(p);
      return LANGUAGES.filter((l) => i.text[l] !== undefined);
    },
  },
  'follow-up-due': {
    params: ['clinicName', 'dueDate'],
    texts: {
      en: (p, h) => ({
        subject: `Time for your follow-up at ${p.clinicName}`,
        text: `Your follow-up visit at ${p.clinicName} is due on ${h.dueDate()}. Please book a time that suits you.`,
      }),
    },
  },
  // Panchakarma course (workflows/therapy.ts): phase changes, daily regimen, pause, resume, cancel. The regimen
  // text comes from the course template (generic care instructions, no PHI).
  'therapy-phase-started': {
    params: ['clinicName', 'phase', 'startsAt', 'timezone'],
    texts: {
      en: (p, h) => ({
        subject: `${p.phase} begins at ${p.clinicName}`,
        text: `Your course at ${p.clinicName} enters ${p.phase}; its first session is on ${h.when()}.`,
      }),
    },
  },
  'therapy-regimen': {
    params: ['clinicName', 'phase', 'day', 'regimen'],
    texts: {
      en: (p) => ({ subject: `Today's regimen (${p.phase}, day ${p.day})`, text: `${p.regimen} — ${p.clinicName}` }),
    },
  },
  'therapy-paused': {
    params: ['clinicName'],
    texts: {
      en: (p) => ({ subject: `Your course at ${p.clinicName} is paused`, text: `Your course at ${p.clinicName} is paused and your coming sessions are released. We will book them again when you resume.` }),
    },
  },
  'therapy-resumed': {
    params: ['clinicName', 'startsAt', 'timezone'],
    texts: {
      en: (p, h) => ({ subject: `Your course at ${p.clinicName} resumes`, text: `Your course at ${p.clinicName} resumes; your next session is on ${h.when()}.` }),
    },
  },
  'therapy-cancelled': {
    params: ['clinicName'],
    texts: {
      en: (p) => ({ subject: `Your course at ${p.clinicName} is cancelled`, text: `Your course at ${p.clinicName} has been cancelled and its coming sessions released.` }),
    },
  },
  // To the staff member who created a recurring series: one occurrence could not be booked (no patient data).
  'series-occurrence-skipped': {
    params: ['clinicName', 'startsAt', 'timezone', 'reason'],
    texts: {
      en: (p, h) => ({
        subject: `A series occurrence was skipped at ${p.clinicName}`,
        text: `The occurrence of ${h.when()} of a recurring series at ${p.clinicName} was skipped (${p.reason}); the series goes on. See GET /api/v1/appointment-series.`,
      }),
    },
  },
  // To the clinic's compliance officers when a clinician breaks glass (api/commands/break-glass.ts). Staff name and
  // the record's MRN only: the stated reason may describe the patient, so it stays in the API (GET /break-glass-grants).
  'break-glass-report': {
    params: ['clinicName', 'staffName', 'mrn', 'grantedAt', 'expiresAt', 'timezone', 'grantId'],
    texts: {
      en: (p) => {
        const at = (iso: string) => {
          const t = DateTime.fromISO(iso, { zone: p.timezone });
          if (!t.isValid) throw new TemplateError('break-glass-report: grantedAt and expiresAt must be ISO instants and timezone an IANA zone');
          return t.setLocale('en-IN').toLocaleString(DateTime.DATETIME_MED_WITH_WEEKDAY);
        };
        return {
          subject: `Break-glass access at ${p.clinicName}`,
          text: `${p.staffName} used emergency (break-glass) access to patient record ${p.mrn} at ${p.clinicName} on ${at(p.grantedAt)}; `
            + `the access ends ${at(p.expiresAt)}. Review the stated reason and the reads made under it in the break-glass log `
            + `(GET /api/v1/break-glass-grants) and the audit log. Reference: ${p.grantId}.`,
        };
      },
    },
  },
};

export const TEMPLATE_NAMES: readonly string[] = Object.keys(TEMPLATES);

/** 'hi-IN' → 'hi'; anything without texts → 'en'. */
export function resolveLanguage(requested: string | null | undefined): Language {
  const primary = (requested ?? '').trim().toLowerCase().split(/[-_]/)[0];
  return (LANGUAGES as readonly string[]).includes(primary) ? (primary as Language) : 'en';
}

const LOCALES: Record<Language, string> = { en: 'en-IN', hi: 'hi-IN' };

function helpers(template: string, params: Params, language: Language): Helpers {
  const locale = LOCALES[language];
  return {
    when() {
      const t = DateTime.fromISO(params.startsAt, { zone: params.timezone });
      if (!t.isValid) throw new TemplateError(`${template}: startsAt must be an ISO instant and timezone an IANA zone`);
      return t.setLocale(locale).toLocaleString(DateTime.DATETIME_MED_WITH_WEEKDAY);
    },
    dueDate() {
      const d = DateTime.fromISO(params.dueDate, { zone: 'UTC' });
      if (!d.isValid || !/^\d{4}-\d{2}-\d{2}$/.test(params.dueDate)) throw new TemplateError(`${template}: dueDate must be YYYY-MM-DD`);
      return d.setLocale(locale).toLocaleString(DateTime.DATE_MED_WITH_WEEKDAY);
    },
  };
}

/** Throws TemplateError naming the template and the missing parameter names (never their values). */
/** The params of `template` that must never travel in a workflow payload (none for an unknown template). */
export const secretParamsOf = (template: string): readonly string[] => (Object.hasOwn(TEMPLATES, template) ? TEMPLATES[template].secretParams ?? [] : []);

export function assertRenderable(template: string, params: Params): void {
  const def = TEMPLATES[template];
  if (!def) throw new TemplateError(`Unknown template ${JSON.stringify(template)}`);
  const missing = def.params.filter((name) => typeof params[name] !== 'string' || params[name].trim() === '');
  if (missing.length) throw new TemplateError(`${template}: missing params ${missing.join(', ')}`);
}

export function render(template: string, language: string | null | undefined, params: Params): Rendered {
  assertRenderable(template, params);
  const def = TEMPLATES[template];
  const wanted = resolveLanguage(language);
  const available = def.languages ? def.languages(params) : (Object.keys(def.texts) as Language[]);
  const used: Language = def.texts[wanted] && available.includes(wanted) ? wanted : 'en';
  const text = def.texts[used] ?? def.texts.en;
  return { ...text(params, helpers(template, params, used)), language: used };
}
