import { z } from 'zod';
import { listNotifications } from '../commands/notifications';
import { paginationQuery } from '../http/pagination';
import { route } from '../http/route';
import { listOf, timestamp } from './schemas';

const notificationSchema = z.object({
  id: z.uuid(),
  clinicId: z.uuid(),
  recipient: z.object({ kind: z.enum(['patient', 'user']), id: z.uuid() }),
  template: z.string(),
  language: z.string(),
  channel: z.enum(['whatsapp', 'sms', 'email']).nullable().describe('The channel that delivered it; null until sent'),
  status: z.enum(['PENDING', 'SENT', 'FAILED']),
  attempts: z.number().int(),
  providerMessageId: z.string().nullable(),
  lastError: z.string().nullable().describe('Provider error codes per channel tried, e.g. "whatsapp:131026 sms:21211"'),
  createdAt: timestamp,
  updatedAt: timestamp,
  sentAt: timestamp.nullable(),
});

export const notificationRoutes = [
  route({
    method: 'get', path: '/api/v1/notifications', summary: "The clinic's notification outbox; status=FAILED is the dead-letter view", tags: ['notifications'],
    access: 'clinic', permission: ['read', 'Notification'],
    query: z.object({ status: z.enum(['PENDING', 'SENT', 'FAILED']).optional(), ...paginationQuery }),
    responses: { 200: { description: 'A page of outbox rows, newest first (no contact details, no message text)', schema: listOf(notificationSchema) } },
    handler: async ({ query, deps, ctx, actor }) => ({ body: await listNotifications(deps, ctx, actor, query) }),
  }),
];
