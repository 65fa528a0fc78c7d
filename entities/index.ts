import { Appointment } from './appointment';
import { AuditLog } from './audit-log';
import { Clinic } from './clinic';
import { IdempotencyKey } from './idempotency-key';
import { Location } from './location';
import { Membership } from './membership';
import { Patient } from './patient';
import { Practitioner } from './practitioner';
import { Room } from './room';
import { Schedule } from './schedule';
import { Service } from './service';
import { User } from './user';
import { OtpChallenge } from './otp-challenge';
import { RefreshToken } from './refresh-token';
import { Session } from './session';
import { FollowUp } from './follow-up';

export { OtpChallenge, RefreshToken, Session };
export { FollowUp };

export { Appointment, AuditLog, Clinic, IdempotencyKey, Location, Membership, Patient, Practitioner, Room, Schedule, Service, User };
export * from './appointment';
export * from './service';
export type { ClinicSettings } from './clinic';
export type { PatientPreferences, Channel } from './patient';

export const ENTITIES = [Appointment, AuditLog, Clinic, IdempotencyKey, Location, Membership, Patient, Practitioner, Room, Schedule, Service, User, OtpChallenge, RefreshToken, Session, FollowUp];
