import { minutesToMs } from './settings';

/** True when `startsAt` is closer to `now` than the clinic's minimum notice allows. */
export function insideMinimumNotice(startsAt: number, now: number, minNoticeMinutes: number): boolean {
  return startsAt - now < minutesToMs(minNoticeMinutes);
}

/**
 * Whether the actor acts as the patient themself (self-service): every role they hold in the
 * clinic is PATIENT and the appointment is theirs. Staff who happen to be patients too act as staff.
 */
export function isPatientSelfService(actor: { roles: readonly string[]; patientIds: readonly string[] }, patientId: string): boolean {
  return actor.roles.length > 0 && actor.roles.every((r) => r === 'PATIENT') && actor.patientIds.includes(patientId);
}
