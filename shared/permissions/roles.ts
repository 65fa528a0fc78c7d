export const ROLES = [
  'SUPER_ADMIN',
  'SYSTEM_ADMIN',
  'CLINIC_ADMIN',
  'SUPPORT',
  'DOCTOR',
  'NURSE',
  'PHARMACIST',
  'LAB_TECHNICIAN',
  'RADIOLOGIST',
  'RECEPTIONIST',
  'MEDICAL_ASSISTANT',
  'BILLING_SPECIALIST',
  'AUDITOR',
  'COMPLIANCE_OFFICER',
  'DATA_ANALYST',
  'PATIENT',
] as const;

export type Role = (typeof ROLES)[number];

/** Roles that act across every clinic and need no membership in the clinic of the request. */
export const PLATFORM_ROLES: readonly Role[] = ['SUPER_ADMIN', 'SYSTEM_ADMIN'];

export const isPlatformRole = (role: Role): boolean => PLATFORM_ROLES.includes(role);
