import type { SlotRefusal } from '../../shared/booking';
import { FieldError, problems } from '../http/problem';

const NOUN: Record<string, string> = {
  patientId: 'patient', practitionerId: 'practitioner', serviceId: 'service', locationId: 'location', roomId: 'room', therapistIds: 'therapist',
};

/** The HTTP problem for a refusal of the booking decision; `source` is where the fields came from. */
export function slotProblem(refusal: SlotRefusal, source: 'body' | 'query'): Error {
  const field = (name: string, message: string): FieldError => ({ field: `${source}.${name}`, message });
  switch (refusal.code) {
    case 'UNKNOWN_REFERENCE':
      return problems.unprocessable('unknown-reference', 'The request names resources this clinic does not have',
        refusal.fields.map((f) => field(f, f === 'therapistIds' ? 'unknown, repeated or not a therapist at this location' : `unknown ${NOUN[f]}`)));
    case 'NOT_AT_LOCATION':
      return refusal.field === 'roomId'
        ? problems.unprocessable('room-not-at-location', 'The room is at another location', [field('roomId', 'room is at another location')])
        : problems.unprocessable('practitioner-not-at-location', 'The practitioner does not work at this location', [field(refusal.field, 'practitioner not assigned here')]);
    case 'WRONG_ROOM_KIND':
      return problems.unprocessable('room-wrong-kind', 'The room is not of the kind this service needs', [field('roomId', 'room of another kind')]);
    case 'OUTSIDE_SCHEDULE':
      return problems.unprocessable('outside-schedule', "The time is outside the practitioner's schedule at this location", [field('startsAt', 'outside working hours')]);
    case 'SLOT_TAKEN':
      return problems.slotTaken(refusal.resource === 'practitioner' ? undefined : `No free ${refusal.resource === 'room' ? 'room' : 'therapists'} for this time`);
  }
}
