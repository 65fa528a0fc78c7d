import { z } from 'zod';
import { route } from '../http/route';
import { AVAILABILITY_MAX_DAYS, getAvailability } from '../commands/availability';
import { isoInstant } from './schemas';

const slotSchema = z.object({ startsAt: z.string(), endsAt: z.string() });
const availabilitySchema = z.object({
  practitionerId: z.uuid(), serviceId: z.uuid(), locationId: z.uuid(), timezone: z.string(), durationMinutes: z.number(),
  from: z.string(), to: z.string(), items: z.array(slotSchema), nextCursor: z.null(),
});

const DAY_MS = 24 * 3600_000;

export const availabilityRoutes = [
  route({
    method: 'get', path: '/api/v1/availability', summary: "Free slots of a practitioner for a service's duration at a location", tags: ['scheduling'],
    // Patients read it too, to book.
    access: 'clinic', permission: ['read', 'Schedule'],
    query: z.object({
      practitionerId: z.uuid(), serviceId: z.uuid(), locationId: z.uuid(), from: isoInstant, to: isoInstant,
    }).superRefine((q, ctx) => {
      const span = Date.parse(q.to) - Date.parse(q.from);
      if (!(span > 0)) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must be after from' });
      else if (span > AVAILABILITY_MAX_DAYS * DAY_MS) ctx.addIssue({ code: 'custom', path: ['to'], message: `must be at most ${AVAILABILITY_MAX_DAYS} days after from` });
    }),
    responses: {
      200: { description: 'Free slots in [from, to), UTC instants; `timezone` is the location\'s', schema: availabilitySchema },
      422: { description: 'Unknown practitioner, service or location, or the practitioner does not work there' },
    },
    handler: async ({ query, deps, actor }) => ({ body: await getAvailability(deps, actor.clinicId!, query) }),
  }),
];
