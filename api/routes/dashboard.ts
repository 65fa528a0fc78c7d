import { z } from 'zod';
import { APPOINTMENT_STATUSES } from '../../entities';
import { route, uuidParam } from '../http/route';
import { getDashboard } from '../commands/dashboard';

const dashboardSchema = z.object({
  clinicId: z.uuid(), timezone: z.string(), date: z.string(),
  appointments: z.object({ total: z.number(), byStatus: z.record(z.enum(APPOINTMENT_STATUSES), z.number()) }),
  queueLength: z.number(),
  noShowRate: z.object({ windowDays: z.number(), from: z.string(), to: z.string(), noShows: z.number(), completed: z.number(), rate: z.number().nullable() }),
  generatedAt: z.string(),
});

export const dashboardRoutes = [
  route({
    method: 'get', path: '/api/v1/clinics/:id/dashboard', summary: "Today's appointments by status, queue length and no-show rate (clinic time zone)", tags: ['clinics'],
    access: 'clinic-param', permission: ['read', 'Appointment'], params: uuidParam,
    responses: {
      200: { description: 'Figures for the clinic\'s current local day; no-show rate over the last 30 local days (no-shows / (no-shows + completed))', schema: dashboardSchema },
      403: { description: 'Not staff who read all of the clinic\'s appointments' },
    },
    handler: async ({ params, deps, ability }) => ({ body: await getDashboard(deps, params.id, ability) }),
  }),
];
