import { AbilityBuilder, createMongoAbility, subject } from '@casl/ability';
import type { ForcedSubject, MongoAbility } from '@casl/ability';
import type { Role } from './roles';

export type Action =
  | 'manage'
  | 'create'
  | 'read'
  | 'update'
  | 'delete'
  | 'book'
  | 'reschedule'
  | 'cancel'
  | 'checkIn'
  | 'complete'
  | 'noShow'
  | 'export'
  | 'refund'
  | 'breakGlass';

export const ACTIONS: readonly Action[] = [
  'manage', 'create', 'read', 'update', 'delete', 'book', 'reschedule', 'cancel',
  'checkIn', 'complete', 'noShow', 'export', 'refund', 'breakGlass',
];

export type SubjectName =
  | 'Clinic'
  | 'Location'
  | 'Room'
  | 'User'
  | 'Membership'
  | 'Patient'
  | 'Practitioner'
  | 'Schedule'
  | 'Service'
  | 'Appointment'
  | 'AuditLog'
  | 'Payment'
  | 'TherapySeries'
  | 'AppointmentSeries'
  | 'FollowUp'
  | 'WaitlistEntry'
  | 'QueueTicket'
  | 'Notification'
  | 'Analytics'
  | 'Health'
  | 'Metrics'
  | 'all';

export const SUBJECTS: readonly SubjectName[] = [
  'Clinic', 'Location', 'Room', 'User', 'Membership', 'Patient', 'Practitioner', 'Schedule',
  'Service', 'Appointment', 'AuditLog', 'Payment', 'TherapySeries', 'AppointmentSeries',
  'FollowUp', 'WaitlistEntry', 'QueueTicket', 'Notification', 'Analytics', 'Health', 'Metrics',
  'all',
];

/** The record fields that rule conditions look at; records may carry any others. */
export interface ScopedRecord {
  id?: string;
  clinicId?: string | null;
  userId?: string | null;
  patientId?: string | null;
  practitionerId?: string | null;
}

/** A record tagged with `subject('Appointment', {...})`, one member per name as CASL's typing expects. */
export type SubjectObject = {
  [S in Exclude<SubjectName, 'all'>]: ForcedSubject<S> & ScopedRecord;
}[Exclude<SubjectName, 'all'>];

export type AppAbility = MongoAbility<[Action, SubjectName | SubjectObject]>;

export interface Actor {
  userId: string;
  /** Clinic of the request; null when there is no clinic context. */
  clinicId: string | null;
  /** Roles held in that clinic, plus platform roles (SUPER_ADMIN / SYSTEM_ADMIN) held globally. */
  roles: Role[];
  /** Practitioner records of this user in this clinic. */
  practitionerIds: string[];
  /** Patient records linked to this user in this clinic. */
  patientIds: string[];
}

export const PATIENT_CLINICAL_FIELDS = ['clinicalNotes'] as const;

export const PATIENT_DEMOGRAPHIC_FIELDS = [
  'id', 'clinicId', 'mrn', 'firstName', 'lastName', 'dateOfBirth', 'sex', 'phone', 'email',
  'address', 'preferences', 'userId', 'createdAt', 'updatedAt',
] as const;

/** Identity and bookkeeping columns are set by the server, so demographics-only writers never get them. */
const SERVER_MANAGED_PATIENT_FIELDS: readonly string[] = ['id', 'clinicId', 'mrn', 'createdAt', 'updatedAt'];
export const PATIENT_WRITABLE_DEMOGRAPHIC_FIELDS: readonly string[] = PATIENT_DEMOGRAPHIC_FIELDS.filter(
  (f) => !SERVER_MANAGED_PATIENT_FIELDS.includes(f),
);

/** What staff need to see to work the desk and the calendar. */
const CLINIC_SETUP: SubjectName[] = ['Clinic', 'Location', 'Room', 'Service', 'Practitioner', 'Schedule'];
/** Booking needs no rooms: those are picked by the service, not by the patient. */
const PATIENT_BOOKING_SETUP: SubjectName[] = ['Clinic', 'Location', 'Service', 'Practitioner', 'Schedule'];
/** Platform-wide records SYSTEM_ADMIN runs in every clinic; nothing holding patient data. */
const PLATFORM_SETUP: SubjectName[] = ['Clinic', 'Location', 'Room', 'User', 'Membership'];
/**
 * Everything a clinic owns. Not AuditLog (append-only; export is the compliance officer's),
 * not Health or Metrics (platform-wide), and not 'all', which would bring those back.
 */
const CLINIC_OWNED: SubjectName[] = [
  'Clinic', 'Location', 'Room', 'User', 'Membership', 'Patient', 'Practitioner', 'Schedule',
  'Service', 'Appointment', 'Payment', 'TherapySeries', 'AppointmentSeries', 'FollowUp',
  'WaitlistEntry', 'QueueTicket', 'Notification', 'Analytics',
];

/** Equality or `$in` on the fields above: all these rules need, and a misspelt key fails to compile. */
type RuleConditions = { [K in keyof ScopedRecord]?: ScopedRecord[K] | { $in: string[] } };

/** Rule helpers that always add the tenant condition. */
interface TenantRules {
  allow(actions: Action | Action[], subjects: SubjectName | SubjectName[], conditions?: RuleConditions): void;
  allowFields(actions: Action | Action[], subject: SubjectName, fields: readonly string[], conditions?: RuleConditions): void;
}

type ClinicRole = Exclude<Role, 'SUPER_ADMIN' | 'SYSTEM_ADMIN'>;

// A Record over every clinic role, so adding a role to ROLES fails to compile until it is granted here.
// breakGlass (emergency access to one patient, time-limited, audited and reported: api/commands/break-glass.ts)
// is for clinical staff who treat patients: DOCTOR, NURSE, PHARMACIST, LAB_TECHNICIAN, RADIOLOGIST,
// MEDICAL_ASSISTANT. Not the desk, billing, oversight or analytics roles, and not patients.
const CLINIC_GRANTS: Record<ClinicRole, (r: TenantRules, actor: Actor) => void> = {
  CLINIC_ADMIN: (r) => {
    r.allow('manage', CLINIC_OWNED);
    r.allow('read', 'AuditLog');
  },
  SUPPORT: (r) => {
    r.allow('read', [...CLINIC_SETUP, 'User', 'Membership', 'Appointment']);
    r.allowFields('read', 'Patient', PATIENT_DEMOGRAPHIC_FIELDS);
  },
  DOCTOR: (r, actor) => {
    const own = { practitionerId: { $in: actor.practitionerIds } };
    r.allow('read', CLINIC_SETUP);
    r.allow(['read', 'update', 'breakGlass'], 'Patient');
    r.allow('read', 'Appointment');
    r.allow(['checkIn', 'complete', 'noShow', 'reschedule'], 'Appointment', own);
    r.allow(['create', 'read'], ['TherapySeries', 'AppointmentSeries', 'FollowUp']);
    r.allow('update', 'Schedule', own);
  },
  NURSE: (r) => {
    r.allow('read', CLINIC_SETUP);
    r.allow(['read', 'update', 'breakGlass'], 'Patient');
    r.allow(['read', 'checkIn'], 'Appointment');
  },
  PHARMACIST: (r) => grantAncillary(r),
  LAB_TECHNICIAN: (r) => grantAncillary(r),
  RADIOLOGIST: (r) => grantAncillary(r),
  RECEPTIONIST: (r) => {
    r.allow('read', CLINIC_SETUP);
    r.allowFields('read', 'Patient', PATIENT_DEMOGRAPHIC_FIELDS);
    r.allowFields(['create', 'update'], 'Patient', PATIENT_WRITABLE_DEMOGRAPHIC_FIELDS);
    r.allow(['create', 'book', 'read', 'reschedule', 'cancel', 'checkIn'], 'Appointment');
    // Courses and series: the desk books, moves, pauses and cancels them (their sessions are its appointments).
    r.allow(['create', 'read', 'update', 'cancel'], ['TherapySeries', 'AppointmentSeries']);
    r.allow('manage', ['QueueTicket', 'WaitlistEntry']);
    r.allow(['create', 'read'], 'Payment');
  },
  MEDICAL_ASSISTANT: (r) => {
    r.allow('read', CLINIC_SETUP);
    r.allowFields('read', 'Patient', PATIENT_DEMOGRAPHIC_FIELDS);
    r.allow('breakGlass', 'Patient');
    r.allow(['read', 'checkIn'], 'Appointment');
    r.allow('manage', 'QueueTicket');
  },
  BILLING_SPECIALIST: (r) => {
    r.allow('read', CLINIC_SETUP);
    r.allowFields('read', 'Patient', PATIENT_DEMOGRAPHIC_FIELDS);
    r.allow('read', 'Appointment');
    r.allow('manage', 'Payment');
  },
  AUDITOR: (r) => {
    r.allow('read', ['AuditLog', 'Clinic']);
  },
  COMPLIANCE_OFFICER: (r) => {
    r.allow(['read', 'export'], 'AuditLog');
    r.allow('read', 'Clinic');
  },
  DATA_ANALYST: (r) => {
    r.allow('read', ['Analytics', 'Clinic']);
  },
  PATIENT: (r, actor) => {
    const ownRecords = { patientId: { $in: actor.patientIds } };
    r.allow('read', PATIENT_BOOKING_SETUP);
    r.allowFields('read', 'Patient', PATIENT_DEMOGRAPHIC_FIELDS, { userId: actor.userId });
    r.allow(['read', 'create', 'book', 'reschedule', 'cancel'], 'Appointment', ownRecords);
    r.allow(['read', 'create'], 'Payment', ownRecords);
    r.allow('read', ['TherapySeries', 'AppointmentSeries'], ownRecords);
  },
};

function grantAncillary(r: TenantRules): void {
  r.allow('read', CLINIC_SETUP);
  r.allowFields('read', 'Patient', PATIENT_DEMOGRAPHIC_FIELDS);
  r.allow('breakGlass', 'Patient');
  r.allow('read', 'Appointment');
}

/**
 * Builds the ability of one actor in the clinic of the request. Records are checked as
 * `subject('Appointment', {clinicId, ...})`; a Clinic is checked with its own id as clinicId
 * (see `clinicSubject`).
 */
export function defineAbilityFor(actor: Actor): AppAbility {
  const { can, build } = new AbilityBuilder<AppAbility>(createMongoAbility);
  const { clinicId } = actor;
  const tenant: TenantRules = {
    // Tenant condition spread last so no role-specific condition can override it.
    allow: (actions, subjects, conditions = {}) => can(actions, subjects, { ...conditions, clinicId }),
    allowFields: (actions, subject, fields, conditions = {}) =>
      can(actions, subject, [...fields], { ...conditions, clinicId }),
  };

  for (const role of new Set(actor.roles)) {
    if (role === 'SUPER_ADMIN') {
      can('manage', 'all');
    } else if (role === 'SYSTEM_ADMIN') {
      can('manage', PLATFORM_SETUP);
      can('read', ['Health', 'Metrics']);
    } else if (clinicId !== null) {
      // Without a clinic context a clinic role has no tenant to act in: it grants nothing.
      CLINIC_GRANTS[role](tenant, actor);
    }
  }
  return build();
}

/** Clinic rows have no clinicId column: the clinic is its own tenant. */
export function clinicSubject<T extends { id: string }>(clinic: T) {
  return subject('Clinic', { ...clinic, clinicId: clinic.id });
}

export interface PatientRef {
  id: string;
  clinicId: string;
  userId?: string | null;
}

export function canReadClinicalNotes(ability: AppAbility, patient: PatientRef): boolean {
  // A fresh object: subject() tags its argument, and callers' entities should stay untouched.
  const ref = subject('Patient', { id: patient.id, clinicId: patient.clinicId, userId: patient.userId ?? null });
  return ability.can('read', ref, 'clinicalNotes');
}

/** The patient itself when its notes are readable, otherwise a shallow copy without them. */
export function redactPatient<T extends { clinicalNotes?: unknown }>(ability: AppAbility, patient: T & PatientRef): T {
  if (canReadClinicalNotes(ability, patient)) return patient;
  const copy: T = { ...patient };
  delete copy.clinicalNotes;
  return copy;
}
