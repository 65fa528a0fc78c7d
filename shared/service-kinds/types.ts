/**
 * A service kind is a plugin (SPEC §5): it declares what a booking of it needs and what the
 * patient is told before and after it. The booking core reads only this interface, so a new kind,
 * or a non-medical domain, is one new file registered with the registry.
 */
export type Language = 'en' | 'hi';

/** Patient-facing text, English required; other languages fall back to English. */
export type LocalisedText = { en: string } & Partial<Record<Language, string>>;

export interface Instruction {
  /** Stable within the kind: a journey sends each instruction of a given visit time once. */
  key: string;
  /** Preparation: minutes before the start. After-care: minutes after the end. */
  offsetMinutes: number;
  subject: LocalisedText;
  text: LocalisedText;
}

export interface ResourceNeeds {
  /** A room of this kind at the visit's location is taken for the visit; null: no room. */
  roomKind: string | null;
  /** How many free therapists (practitioners with `therapist: true`) are taken besides the practitioner. */
  therapists: number;
}

export interface ServiceKindPlugin {
  /** The value of `kind` on a service: upper-case letters, digits and underscores. */
  kind: string;
  label: string;
  /** Defaults for a service of this kind; `roomKind` and `therapistsRequired` on the service override them. */
  resources: ResourceNeeds;
  /** Sent before the visit (fasting, oil, forms). */
  preparation: readonly Instruction[];
  /** Sent after a completed visit. */
  afterCare: readonly Instruction[];
  /** The follow-up a completed visit gets when staff name none; null: none. */
  defaultFollowUpInDays: number | null;
}
