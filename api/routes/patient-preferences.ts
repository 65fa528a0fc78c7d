import { z } from 'zod';
import { route, uuidParam } from '../http/route';
import { replacePatientPreferences } from '../commands/patient-preferences';

const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:mm from 00:00 to 23:59');

const preferencesSchema = z.object({
  channels: z.array(z.enum(['whatsapp', 'sms', 'email'])).max(3)
    .refine((c) => new Set(c).size === c.length, 'must not repeat a channel')
    .describe('Channels to try, in order; [] opts out of messages. Absent: whatsapp, sms, email.')
    .optional(),
  language: z.string().regex(/^[a-zA-Z]{2,3}([-_][a-zA-Z0-9]{2,8})*$/, 'must be a language tag such as hi or en-IN').optional()
    .describe('Messages use it where a text exists, English otherwise'),
  quietHours: z.object({ start: clock, end: clock }).strict()
    .refine((q) => q.start !== q.end, { message: 'must differ from start', path: ['end'] })
    .describe("No reminders between start and end (the clinic's time zone; end before start spans midnight)")
    .optional(),
}).strict();

export const patientPreferenceRoutes = [
  route({
    method: 'put', path: '/api/v1/patients/:id/preferences', tags: ['patients'],
    summary: "Replace a patient's message preferences: channel order, language, quiet hours (a patient may set their own)",
    // Patients may not update their record, only these preferences of their own: the command checks
    // update-Patient for staff and ownership for the patient, so the route asks only to see the patient.
    access: 'clinic', permission: ['read', 'Patient'], params: uuidParam,
    body: preferencesSchema,
    responses: { 200: { description: 'The preferences now stored', schema: preferencesSchema }, 403: { description: 'Not allowed to change them' } },
    handler: async ({ params, body, deps, ctx, actor, ability }) => ({ body: await replacePatientPreferences(deps, ctx, actor, ability, params.id, body) }),
  }),
];
