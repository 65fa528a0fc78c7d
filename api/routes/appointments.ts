import { z } from 'zod';
import { APPOINTMENT_STATUSES } from '../../entities';
import { paginationQuery } from '../http/pagination';
import { route, uuidParam } from '../http/route';
import {
  bookAppointment, cancelAppointment, checkInAppointment, completeAppointment, getAppointment, listAppointments, markNoShow, rescheduleAppointment,
} from '../commands/appointments';
import { bookingJourney } from '../commands/booking-outcome';
import { isoInstant, listOf } from './schemas';

const appointmentSchema = z.object({
  id: z.uuid(), clinicId: z.uuid(), locationId: z.uuid(), patientId: z.uuid(), practitionerId: z.uuid(), roomId: z.uuid().nullable(),
  therapistIds: z.array(z.uuid()),
  serviceId: z.uuid(), startsAt: z.string(), endsAt: z.string(), mode: z.string(), status: z.enum(APPOINTMENT_STATUSES),
  seriesId: z.uuid().nullable(), workflowId: z.string(), version: z.number(), createdAt: z.string(), updatedAt: z.string(),
});
const withWorkflow = appointmentSchema.extend({ workflow: z.object({ id: z.string(), phase: z.string(), uiUrl: z.string() }) });

export const appointmentRoutes = [
  route({
    method: 'post', path: '/api/v1/appointments', summary: 'Book an appointment (starts the booking journey)', tags: ['appointments'],
    audit: { action: 'appointment.create', resourceType: 'Appointment' },
    access: 'clinic', permission: ['create', 'Appointment'], idempotent: bookingJourney,
    body: z.object({
      patientId: z.uuid(), practitionerId: z.uuid(), serviceId: z.uuid(), locationId: z.uuid(),
      startsAt: isoInstant, roomId: z.uuid().optional(), therapistIds: z.array(z.uuid()).max(4).optional(), mode: z.enum(['IN_PERSON', 'VIDEO', 'HOME_VISIT']).default('IN_PERSON'),
    }).strict(),
    responses: {
      201: { description: 'Booked', schema: appointmentSchema },
      409: { description: 'Slot taken (type …/slot-taken): the practitioner, or no free room of the service\'s kind or not enough free therapists; or the same Idempotency-Key is still running (…/idempotency-key-in-progress, with Retry-After)' },
      422: { description: 'Outside the schedule, unknown resources, in the past, or an Idempotency-Key reused with another body' },
    },
    handler: async ({ body, deps, actor, ability, idempotencyKey }) => ({ status: 201, body: await bookAppointment(deps, actor, ability, body, idempotencyKey) }),
  }),
  route({
    method: 'get', path: '/api/v1/appointments', summary: 'Appointments by time range, practitioner, patient, status', tags: ['appointments'],
    audit: { action: 'appointment.list', resourceType: 'Appointment' },
    access: 'clinic', permission: ['read', 'Appointment'],
    query: z.object({
      from: isoInstant.optional(), to: isoInstant.optional(), practitionerId: z.uuid().optional(), patientId: z.uuid().optional(),
      status: z.enum(APPOINTMENT_STATUSES).optional(), ...paginationQuery,
    }),
    responses: { 200: { description: 'A page of appointments', schema: listOf(appointmentSchema) } },
    handler: async ({ query, deps, actor, ability }) => ({ body: await listAppointments(deps, actor, ability, query) }),
  }),
  route({
    method: 'get', path: '/api/v1/appointments/:id', summary: 'One appointment with its journey status', tags: ['appointments'],
    audit: { action: 'appointment.read', resourceType: 'Appointment' },
    access: 'clinic', permission: ['read', 'Appointment'], params: uuidParam,
    responses: { 200: { description: 'The appointment', schema: withWorkflow } },
    handler: async ({ params, deps, actor, ability }) => ({ body: await getAppointment(deps, actor, ability, params.id) }),
  }),
  route({
    method: 'post', path: '/api/v1/appointments/:id/cancel', summary: 'Cancel an appointment (frees the slot)', tags: ['appointments'],
    audit: { action: 'appointment.cancel', resourceType: 'Appointment' },
    access: 'clinic', permission: ['cancel', 'Appointment'], params: uuidParam,
    body: z.object({ reason: z.string().trim().min(1).max(500) }).strict(),
    responses: { 200: { description: 'Cancelled', schema: appointmentSchema }, 409: { description: 'Already cancelled or ended' } },
    handler: async ({ params, body, deps, actor, ability }) => ({ body: await cancelAppointment(deps, actor, ability, params.id, body.reason) }),
  }),
  route({
    method: 'post', path: '/api/v1/appointments/:id/reschedule', tags: ['appointments'],
    summary: 'Move an appointment to a new time (and practitioner): the new slot is taken and the old one freed at once; reminders are re-armed',
    audit: { action: 'appointment.reschedule', resourceType: 'Appointment' },
    access: 'clinic', permission: ['reschedule', 'Appointment'], params: uuidParam,
    body: z.object({ startsAt: isoInstant, practitionerId: z.uuid().optional() }).strict(),
    responses: {
      200: { description: 'Moved', schema: appointmentSchema },
      409: { description: 'Slot taken (type …/slot-taken), or the appointment can no longer move (checked in, ended)' },
      422: { description: "Outside the practitioner's schedule, in the past, or (a patient's own change) inside the clinic's minimum notice" },
    },
    handler: async ({ params, body, deps, actor, ability }) => ({ body: await rescheduleAppointment(deps, actor, ability, params.id, body) }),
  }),
  route({
    method: 'post', path: '/api/v1/appointments/:id/check-in', summary: 'The patient has arrived (ends reminders and the no-show timer)', tags: ['appointments'],
    audit: { action: 'appointment.check_in', resourceType: 'Appointment' },
    access: 'clinic', permission: ['checkIn', 'Appointment'], params: uuidParam, body: z.object({}).strict(),
    responses: { 200: { description: 'Checked in', schema: appointmentSchema }, 409: { description: 'Not confirmed, or ended' } },
    handler: async ({ params, deps, actor, ability }) => ({ body: await checkInAppointment(deps, actor, ability, params.id) }),
  }),
  route({
    method: 'post', path: '/api/v1/appointments/:id/complete', summary: 'Complete the visit; with followUpInDays the follow-up journey starts', tags: ['appointments'],
    audit: { action: 'appointment.complete', resourceType: 'Appointment' },
    access: 'clinic', permission: ['complete', 'Appointment'], params: uuidParam,
    body: z.object({ followUpInDays: z.number().positive().max(365).optional().describe('Days until the follow-up is due; fractions allowed') }).strict(),
    responses: {
      200: { description: 'Completed', schema: appointmentSchema.extend({ followUpWorkflowId: z.string().nullable() }) },
      409: { description: 'Cancelled or ended' },
    },
    handler: async ({ params, body, deps, actor, ability }) => ({ body: await completeAppointment(deps, actor, ability, params.id, body) }),
  }),
  route({
    method: 'post', path: '/api/v1/appointments/:id/no-show', summary: 'The patient did not come (frees the slot); the journey also marks it itself after the grace period', tags: ['appointments'],
    audit: { action: 'appointment.no_show', resourceType: 'Appointment' },
    access: 'clinic', permission: ['noShow', 'Appointment'], params: uuidParam, body: z.object({}).strict(),
    responses: { 200: { description: 'Marked', schema: appointmentSchema }, 409: { description: 'Checked in or ended' }, 422: { description: 'Not started yet' } },
    handler: async ({ params, deps, actor, ability }) => ({ body: await markNoShow(deps, actor, ability, params.id) }),
  }),
];
