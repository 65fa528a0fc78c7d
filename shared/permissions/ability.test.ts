import { subject } from '@casl/ability';
import { permittedFieldsOf } from '@casl/ability/extra';
import {
  ACTIONS,
  Action,
  Actor,
  AppAbility,
  PATIENT_DEMOGRAPHIC_FIELDS,
  ROLES,
  Role,
  SUBJECTS,
  SubjectName,
  canReadClinicalNotes,
  clinicSubject,
  defineAbilityFor,
  redactPatient,
} from './index';

const CLINIC = 'clinic-a';
const FOREIGN = 'clinic-b';
const USER = 'user-1';
const OWN_PRACTITIONER = 'pr-own';
const OWN_PATIENT = 'pa-own';

function actor(roles: Role[], overrides: Partial<Actor> = {}): Actor {
  return {
    userId: USER,
    clinicId: CLINIC,
    roles,
    practitionerIds: [OWN_PRACTITIONER],
    patientIds: [OWN_PATIENT],
    ...overrides,
  };
}

// ---------------------------------------------------------------------------------------------
// Expected matrix, written from SPEC §4 (and the decisions recorded where it is silent).
// 'manage' means every action on that subject; subject 'all' means every subject.
// ---------------------------------------------------------------------------------------------
type Grant = [Action | 'manage', SubjectName];
const each = (actions: Action[], ...subjects: SubjectName[]): Grant[] =>
  subjects.flatMap((s) => actions.map((a): Grant => [a, s]));
const SETUP: SubjectName[] = ['Clinic', 'Location', 'Room', 'Service', 'Practitioner', 'Schedule'];

const ANCILLARY: Grant[] = [...each(['read'], ...SETUP), ...each(['read', 'breakGlass'], 'Patient'), ['read', 'Appointment']];

const EXPECTED: Record<Role, Grant[]> = {
  SUPER_ADMIN: [['manage', 'all']],
  SYSTEM_ADMIN: [
    ...each(['manage'], 'Clinic', 'Location', 'Room', 'User', 'Membership'),
    ...each(['read'], 'Health', 'Metrics'),
  ],
  CLINIC_ADMIN: [
    ...each(
      ['manage'],
      'Clinic', 'Location', 'Room', 'User', 'Membership', 'Patient', 'Practitioner', 'Schedule',
      'Service', 'Appointment', 'Payment', 'TherapySeries', 'AppointmentSeries', 'FollowUp',
      'WaitlistEntry', 'QueueTicket', 'Notification', 'Analytics',
    ),
    ['read', 'AuditLog'],
  ],
  SUPPORT: each(['read'], ...SETUP, 'User', 'Membership', 'Appointment', 'Patient'),
  DOCTOR: [
    ...each(['read'], ...SETUP),
    ...each(['read', 'update', 'breakGlass'], 'Patient'),
    ...each(['read', 'checkIn', 'complete', 'noShow', 'reschedule'], 'Appointment'),
    ...each(['create', 'read'], 'TherapySeries', 'AppointmentSeries', 'FollowUp'),
    ['update', 'Schedule'],
  ],
  NURSE: [
    ...each(['read'], ...SETUP),
    ...each(['read', 'update', 'breakGlass'], 'Patient'),
    ...each(['read', 'checkIn'], 'Appointment'),
  ],
  PHARMACIST: ANCILLARY,
  LAB_TECHNICIAN: ANCILLARY,
  RADIOLOGIST: ANCILLARY,
  RECEPTIONIST: [
    ...each(['read'], ...SETUP),
    ...each(['create', 'read', 'update'], 'Patient'),
    ...each(['create', 'book', 'read', 'reschedule', 'cancel', 'checkIn'], 'Appointment'),
    ...each(['manage'], 'QueueTicket', 'WaitlistEntry'),
    ...each(['create', 'read'], 'Payment'),
    // Issue 10: the desk creates, moves, pauses and cancels courses and series.
    ...each(['create', 'read', 'update', 'cancel'], 'TherapySeries', 'AppointmentSeries'),
  ],
  MEDICAL_ASSISTANT: [
    ...each(['read'], ...SETUP),
    ...each(['read', 'breakGlass'], 'Patient'),
    ...each(['read', 'checkIn'], 'Appointment'),
    ['manage', 'QueueTicket'],
  ],
  BILLING_SPECIALIST: [
    ...each(['read'], ...SETUP),
    ['read', 'Patient'],
    ['read', 'Appointment'],
    ['manage', 'Payment'],
  ],
  AUDITOR: each(['read'], 'AuditLog', 'Clinic'),
  COMPLIANCE_OFFICER: [...each(['read', 'export'], 'AuditLog'), ['read', 'Clinic']],
  DATA_ANALYST: each(['read'], 'Analytics', 'Clinic'),
  PATIENT: [
    ...each(['read'], 'Clinic', 'Location', 'Service', 'Practitioner', 'Schedule', 'Patient'),
    ...each(['read', 'create', 'book', 'reschedule', 'cancel'], 'Appointment'),
    ...each(['read', 'create'], 'Payment'),
    ...each(['read'], 'TherapySeries', 'AppointmentSeries'),
  ],
};

/** Roles whose rules carry no clinic condition. */
const UNSCOPED: Role[] = ['SUPER_ADMIN', 'SYSTEM_ADMIN'];
const CLINICAL_NOTES_READERS: Role[] = ['SUPER_ADMIN', 'CLINIC_ADMIN', 'DOCTOR', 'NURSE'];

function expected(role: Role, action: Action, subjectName: SubjectName): boolean {
  return EXPECTED[role].some(
    ([a, s]) => (a === 'manage' || a === action) && (s === 'all' || s === subjectName),
  );
}

/** A record of the actor's own: own clinic unless told otherwise, own patient, own practitioner. */
function ownRecord(subjectName: Exclude<SubjectName, 'all'>, clinicId = CLINIC) {
  return subject(subjectName, {
    id: OWN_PATIENT,
    clinicId,
    userId: USER,
    patientId: OWN_PATIENT,
    practitionerId: OWN_PRACTITIONER,
  });
}

describe('role matrix (SPEC §4)', () => {
  describe.each(ROLES.map((r) => [r]))('%s', (role) => {
    const ability = defineAbilityFor(actor([role]));
    const cases = SUBJECTS.flatMap((s) => ACTIONS.map((a) => [a, s] as [Action, SubjectName]));

    test.each(cases)('%s %s: type level, own clinic, foreign clinic', (action, subjectName) => {
      const allowed = expected(role, action, subjectName);
      const actual =
        subjectName === 'all'
          ? { typeLevel: ability.can(action, 'all') }
          : {
              typeLevel: ability.can(action, subjectName),
              ownClinic: ability.can(action, ownRecord(subjectName)),
              foreignClinic: ability.can(action, ownRecord(subjectName, FOREIGN)),
            };
      const want =
        subjectName === 'all'
          ? { typeLevel: allowed }
          : { typeLevel: allowed, ownClinic: allowed, foreignClinic: allowed && UNSCOPED.includes(role) };
      expect(actual).toEqual(want);
    });
  });
});

describe('tenant check', () => {
  test.each(ROLES.filter((r) => !UNSCOPED.includes(r)).map((r) => [r]))(
    '%s: every rule is conditioned on the clinic of the request',
    (role) => {
      const ability = defineAbilityFor(actor([role]));
      expect(ability.rules.length).toBeGreaterThan(0);
      for (const rule of ability.rules) {
        expect(rule.conditions).toMatchObject({ clinicId: CLINIC });
      }
    },
  );

  test('a record without clinicId is denied to clinic roles', () => {
    const ability = defineAbilityFor(actor(['CLINIC_ADMIN']));
    expect(ability.can('read', subject('Patient', { id: 'p1' }))).toBe(false);
  });

  test('clinicSubject checks a Clinic row against its own id', () => {
    const ability = defineAbilityFor(actor(['CLINIC_ADMIN']));
    expect(ability.can('update', clinicSubject({ id: CLINIC, name: 'A' }))).toBe(true);
    expect(ability.can('update', clinicSubject({ id: FOREIGN, name: 'B' }))).toBe(false);
  });
});

describe('DOCTOR own appointments and schedule', () => {
  const ability = defineAbilityFor(actor(['DOCTOR']));
  const appointment = (practitionerId: string, clinicId = CLINIC) =>
    subject('Appointment', { id: 'ap1', clinicId, practitionerId, patientId: 'pa-x' });

  test.each(['reschedule', 'checkIn', 'complete', 'noShow'] as Action[])('%s own, not another practitioner\'s', (action) => {
    expect(ability.can(action, appointment(OWN_PRACTITIONER))).toBe(true);
    expect(ability.can(action, appointment('pr-other'))).toBe(false);
    expect(ability.can(action, appointment(OWN_PRACTITIONER, FOREIGN))).toBe(false);
  });

  test('reads every appointment of the clinic but cancels none', () => {
    expect(ability.can('read', appointment('pr-other'))).toBe(true);
    expect(ability.can('cancel', appointment(OWN_PRACTITIONER))).toBe(false);
  });

  test('updates own schedule only, reads all', () => {
    const schedule = (practitionerId: string) => subject('Schedule', { id: 's1', clinicId: CLINIC, practitionerId });
    expect(ability.can('update', schedule(OWN_PRACTITIONER))).toBe(true);
    expect(ability.can('update', schedule('pr-other'))).toBe(false);
    expect(ability.can('read', schedule('pr-other'))).toBe(true);
  });

  test('a doctor with no practitioner record reschedules nothing', () => {
    const none = defineAbilityFor(actor(['DOCTOR'], { practitionerIds: [] }));
    expect(none.can('reschedule', appointment(OWN_PRACTITIONER))).toBe(false);
  });
});

describe('PATIENT own records', () => {
  const ability = defineAbilityFor(actor(['PATIENT']));
  const patient = (userId: string | null, clinicId = CLINIC) =>
    subject('Patient', { id: 'pa-1', clinicId, userId, firstName: 'A', clinicalNotes: 'x' });
  const appointment = (patientId: string, clinicId = CLINIC) =>
    subject('Appointment', { id: 'ap1', clinicId, patientId, practitionerId: 'pr-1' });
  const payment = (patientId: string) => subject('Payment', { id: 'pm1', clinicId: CLINIC, patientId });

  test('reads own patient record, not another patient\'s nor an unlinked one', () => {
    expect(ability.can('read', patient(USER))).toBe(true);
    expect(ability.can('read', patient('user-2'))).toBe(false);
    expect(ability.can('read', patient(null))).toBe(false);
    expect(ability.can('read', patient(USER, FOREIGN))).toBe(false);
  });

  test('cannot change the patient record', () => {
    expect(ability.can('update', patient(USER))).toBe(false);
  });

  test.each(['read', 'create', 'book', 'reschedule', 'cancel'] as Action[])('%s own appointment only', (action) => {
    expect(ability.can(action, appointment(OWN_PATIENT))).toBe(true);
    expect(ability.can(action, appointment('pa-other'))).toBe(false);
    expect(ability.can(action, appointment(OWN_PATIENT, FOREIGN))).toBe(false);
  });

  test.each(['checkIn', 'complete', 'noShow'] as Action[])('cannot %s even own appointment', (action) => {
    expect(ability.can(action, appointment(OWN_PATIENT))).toBe(false);
  });

  test('pays own payments only, refunds none', () => {
    expect(ability.can('create', payment(OWN_PATIENT))).toBe(true);
    expect(ability.can('read', payment('pa-other'))).toBe(false);
    expect(ability.can('refund', payment(OWN_PATIENT))).toBe(false);
  });
});

describe('clinicalNotes field', () => {
  const record = { id: OWN_PATIENT, clinicId: CLINIC, userId: USER };

  test.each(ROLES.map((r) => [r, CLINICAL_NOTES_READERS.includes(r)] as const))(
    '%s reads clinicalNotes: %s',
    (role, readable) => {
      const ability = defineAbilityFor(actor([role]));
      expect(canReadClinicalNotes(ability, record)).toBe(readable);
      expect(ability.can('update', subject('Patient', { ...record }), 'clinicalNotes')).toBe(readable);
    },
  );

  test.each(CLINICAL_NOTES_READERS.filter((r) => !UNSCOPED.includes(r)).map((r) => [r]))(
    '%s cannot read clinicalNotes of another clinic',
    (role) => {
      expect(canReadClinicalNotes(defineAbilityFor(actor([role])), { ...record, clinicId: FOREIGN })).toBe(false);
    },
  );

  test.each([['SUPPORT'], ['PHARMACIST'], ['RECEPTIONIST'], ['MEDICAL_ASSISTANT'], ['BILLING_SPECIALIST'], ['PATIENT']] as [Role][])(
    '%s reads every demographic field',
    (role) => {
      const ability = defineAbilityFor(actor([role]));
      for (const field of PATIENT_DEMOGRAPHIC_FIELDS) {
        expect([field, ability.can('read', subject('Patient', { ...record }), field)]).toEqual([field, true]);
      }
    },
  );

  const ALL_PATIENT_FIELDS = [...PATIENT_DEMOGRAPHIC_FIELDS, 'clinicalNotes'];
  const fieldsFrom = (rule: { fields?: string[] }) => rule.fields ?? ALL_PATIENT_FIELDS;

  test('RECEPTIONIST writes demographics but neither clinicalNotes nor server-managed columns', () => {
    const ability = defineAbilityFor(actor(['RECEPTIONIST']));
    const writable = permittedFieldsOf(ability, 'update', subject('Patient', { ...record }), { fieldsFrom });
    expect(writable.sort()).toEqual(
      ['firstName', 'lastName', 'dateOfBirth', 'sex', 'phone', 'email', 'address', 'preferences', 'userId'].sort(),
    );
    expect(ability.can('create', subject('Patient', { clinicId: CLINIC }), 'clinicalNotes')).toBe(false);
    expect(ability.can('create', subject('Patient', { clinicId: CLINIC }), 'firstName')).toBe(true);
  });

  test('DOCTOR writes every field', () => {
    const ability = defineAbilityFor(actor(['DOCTOR']));
    const writable = permittedFieldsOf(ability, 'update', subject('Patient', { ...record }), { fieldsFrom });
    expect(writable.sort()).toEqual([...ALL_PATIENT_FIELDS].sort());
  });
});

describe('redactPatient', () => {
  const patient = { id: 'pa-1', clinicId: CLINIC, userId: null, firstName: 'Asha', clinicalNotes: 'vata imbalance' };

  test('removes clinicalNotes for a demographics-only role without touching the input', () => {
    const redacted = redactPatient(defineAbilityFor(actor(['RECEPTIONIST'])), patient);
    expect(redacted).toEqual({ id: 'pa-1', clinicId: CLINIC, userId: null, firstName: 'Asha' });
    expect('clinicalNotes' in redacted).toBe(false);
    expect(patient.clinicalNotes).toBe('vata imbalance');
  });

  test('keeps clinicalNotes for a clinician', () => {
    expect(redactPatient(defineAbilityFor(actor(['NURSE'])), patient)).toEqual(patient);
  });

  test('removes clinicalNotes for a clinician of another clinic', () => {
    const redacted = redactPatient(defineAbilityFor(actor(['DOCTOR'], { clinicId: FOREIGN })), patient);
    expect(redacted).not.toHaveProperty('clinicalNotes');
  });
});

describe('several roles: the union', () => {
  test('RECEPTIONIST + NURSE reads clinicalNotes and still books', () => {
    const ability = defineAbilityFor(actor(['RECEPTIONIST', 'NURSE']));
    expect(canReadClinicalNotes(ability, { id: 'p', clinicId: CLINIC })).toBe(true);
    expect(ability.can('book', subject('Appointment', { clinicId: CLINIC }))).toBe(true);
  });

  test.each([
    [['AUDITOR', 'DATA_ANALYST']],
    [['DOCTOR', 'PATIENT']],
    [['SYSTEM_ADMIN', 'BILLING_SPECIALIST']],
    [['RECEPTIONIST', 'MEDICAL_ASSISTANT', 'COMPLIANCE_OFFICER']],
  ] as Role[][][])('%j gets exactly the union of its roles', (roles) => {
    const ability = defineAbilityFor(actor(roles));
    for (const s of SUBJECTS.filter((x): x is Exclude<SubjectName, 'all'> => x !== 'all')) {
      for (const a of ACTIONS) {
        const want = roles.some((r) => expected(r, a, s));
        expect([a, s, ability.can(a, ownRecord(s))]).toEqual([a, s, want]);
      }
    }
  });

  test('a duplicated role changes nothing', () => {
    expect(defineAbilityFor(actor(['NURSE', 'NURSE'])).rules).toEqual(defineAbilityFor(actor(['NURSE'])).rules);
  });
});

describe('no clinic context', () => {
  test.each(ROLES.filter((r) => !UNSCOPED.includes(r)).map((r) => [r]))('%s gets nothing', (role) => {
    const ability: AppAbility = defineAbilityFor(actor([role], { clinicId: null }));
    expect(ability.rules).toEqual([]);
    expect(ability.can('read', 'Clinic')).toBe(false);
    expect(ability.can('read', subject('Patient', { clinicId: null }))).toBe(false);
  });

  test('SYSTEM_ADMIN keeps platform rights and still no patient data', () => {
    const ability = defineAbilityFor(actor(['SYSTEM_ADMIN', 'DOCTOR'], { clinicId: null }));
    expect(ability.can('update', clinicSubject({ id: FOREIGN }))).toBe(true);
    expect(ability.can('read', 'Metrics')).toBe(true);
    expect(ability.can('read', 'Patient')).toBe(false);
  });

  test('SUPER_ADMIN keeps everything', () => {
    const ability = defineAbilityFor(actor(['SUPER_ADMIN'], { clinicId: null }));
    expect(ability.can('breakGlass', subject('Patient', { clinicId: FOREIGN }))).toBe(true);
    expect(canReadClinicalNotes(ability, { id: 'p', clinicId: FOREIGN })).toBe(true);
  });
});

describe('typing', () => {
  test('entity classes and interfaces can be checked as subjects', () => {
    class PatientRow {
      id = 'pa-1';
      clinicId = CLINIC;
      userId: string | null = null;
      mrn = 'MRN-1';
      clinicalNotes: string | null = 'n';
    }
    interface AppointmentRow { id: string; clinicId: string; patientId: string; practitionerId: string; startsAt: Date }
    const row: AppointmentRow = { id: 'a', clinicId: CLINIC, patientId: 'p', practitionerId: OWN_PRACTITIONER, startsAt: new Date() };
    const ability = defineAbilityFor(actor(['DOCTOR']));
    expect(ability.can('read', subject('Patient', new PatientRow()), 'clinicalNotes')).toBe(true);
    expect(ability.can('complete', subject('Appointment', row))).toBe(true);
    const redacted: PatientRow = redactPatient(defineAbilityFor(actor(['SUPPORT'])), new PatientRow());
    expect(redacted).not.toHaveProperty('clinicalNotes');
  });
});
