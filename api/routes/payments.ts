import { z } from 'zod';
import { createPayment, listPayments, refund, stripeWebhook } from '../commands/payments';
import { route, uuidParam } from '../http/route';
import { listOf } from './schemas';

const paymentSchema = z.object({
  id: z.uuid(), clinicId: z.uuid(), appointmentId: z.uuid(), locationId: z.uuid(), patientId: z.uuid(),
  method: z.enum(['CASH', 'UPI', 'CARD_DESK', 'CARD_ONLINE']).nullable(),
  status: z.enum(['REQUIRES_PAYMENT', 'SUCCEEDED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'CANCELLED']),
  amountMinor: z.number().int(), currency: z.string(), refundedMinor: z.number().int(), providerPaymentId: z.string().nullable(),
  workflowId: z.string(), paidAt: z.string().nullable(), createdAt: z.string(), updatedAt: z.string(),
});
const refundSchema = z.object({
  id: z.uuid(), paymentId: z.uuid(), amountMinor: z.number().int(), reason: z.string(), kind: z.enum(['MANUAL', 'CANCELLATION', 'LATE_PAYMENT']),
  status: z.enum(['PENDING', 'SUCCEEDED', 'FAILED']), providerRefundId: z.string().nullable(), createdAt: z.string(),
});

export const paymentRoutes = [
  route({
    method: 'post', path: '/api/v1/payments', tags: ['payments'],
    summary: 'Take a payment for an appointment: desk methods (staff) are recorded and confirm a booking waiting for payment; CARD_ONLINE answers a Stripe client secret',
    access: 'clinic', permission: ['create', 'Payment'],
    body: z.object({
      appointmentId: z.uuid().optional(), therapySeriesId: z.uuid().optional(), method: z.enum(['CASH', 'UPI', 'CARD_DESK', 'CARD_ONLINE']),
    }).strict().refine((b) => (b.appointmentId === undefined) !== (b.therapySeriesId === undefined), { message: 'give exactly one of appointmentId and therapySeriesId', path: ['appointmentId'] }),
    responses: {
      201: { description: 'Desk: SUCCEEDED. Online: REQUIRES_PAYMENT with clientSecret', schema: paymentSchema.extend({ clientSecret: z.string().nullable().optional() }) },
      403: { description: 'Not allowed; a patient cannot record a desk payment' },
      409: { description: 'Already paid, or the appointment can no longer be paid (cancelled, no-show)' },
      422: { description: 'Therapy-course payments are not available yet; the card provider refused' },
    },
    handler: async ({ body, deps, ctx, actor, ability }) => ({ status: 201, body: await createPayment(deps, ctx, actor, ability, body) }),
  }),
  route({
    method: 'get', path: '/api/v1/payments', summary: "An appointment's payments with their refunds", tags: ['payments'],
    access: 'clinic', permission: ['read', 'Payment'],
    query: z.object({ appointmentId: z.uuid() }),
    responses: { 200: { description: 'Payments', schema: listOf(paymentSchema.extend({ refunds: z.array(refundSchema.omit({ paymentId: true, providerRefundId: true })) })) } },
    handler: async ({ query, deps, actor, ability }) => ({ body: await listPayments(deps, actor, ability, query) }),
  }),
  route({
    method: 'post', path: '/api/v1/payments/:id/refund', tags: ['payments'],
    summary: 'Refund part or all of a payment (never more than was paid, even under concurrent requests); Idempotency-Key makes a retry the same refund',
    access: 'clinic', permission: ['refund', 'Payment'], params: uuidParam,
    body: z.object({ amountMinor: z.number().int().positive().max(2_000_000_000).optional(), reason: z.string().trim().min(1).max(500) }).strict(),
    responses: {
      201: { description: 'Refunded', schema: refundSchema },
      409: { description: 'The payment is not refundable (not paid)' },
      422: { description: 'More than what is left to refund (type …/over-refund), or the card provider refused' },
    },
    handler: async ({ params, body, deps, ctx, actor, ability }) => ({
      status: 201, body: await refund(deps, actor, ability, params.id, body, ctx.get('idempotency-key') || undefined),
    }),
  }),
  route({
    method: 'post', path: '/api/v1/payments/webhooks/stripe', tags: ['payments'],
    summary: 'Stripe webhook (payment_intent.succeeded / payment_failed): verified over the raw body with the signing secret and a tolerance',
    access: 'public', permission: null,
    responses: {
      200: { description: 'Received (acted: whether it settled a payment)', schema: z.object({ received: z.literal(true), acted: z.boolean() }) },
      400: { description: 'Missing, forged or stale signature: nothing is done' },
    },
    handler: async ({ deps, ctx }) => ({ body: await stripeWebhook(deps, ctx) }),
  }),
];
