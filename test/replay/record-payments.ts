import { bookingWorkflowId } from '../../workflows/booking-api';
import { payAtDeskUpdate, paymentIdFor, paymentWorkflowId } from '../../workflows/payment-api';
import { adminToken, createClinic, nextSlot } from '../support/fixtures';
import { client, type Res } from '../support/http';
import { startStack } from '../support/stack';

/**
 * Payment journeys of each shape, run to their end on the real stack, by history file name:
 * a hold released and a late payment refunded (with the booking journey that started it), a desk
 * payment, and a paid visit cancelled and refunded by policy (the journey's second run).
 */
export async function runPaymentsToRecord(): Promise<{ ids: Record<string, string>; stop: () => Promise<void> }> {
  const stack = await startStack({ queues: ['booking', 'payments'] });
  const api = client(stack.baseUrl);
  const temporal = stack.deps.temporal;
  const expectStatus = (res: Res, status: number) => {
    if (res.status !== status) throw new Error(`expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`);
    return res;
  };
  const c = await createClinic(api, await adminToken(api), ['CLINIC_ADMIN', 'RECEPTIONIST', 'DOCTOR']);
  expectStatus(await api.patch(`/api/v1/clinics/${c.clinicId}`, { settings: { paymentHoldMinutes: 0.05 } }, c.tokens.CLINIC_ADMIN, c.h), 200);
  const service = expectStatus(await api.post('/api/v1/services', { code: 'PAID', name: 'Paid', kind: 'CONSULTATION', durationMinutes: 30, priceMinor: 5000, requiresPayment: true }, c.tokens.CLINIC_ADMIN, c.h), 201).body.id;
  const book = async () => expectStatus(await api.post('/api/v1/appointments', { patientId: c.patientId, practitionerId: c.practitionerId, serviceId: service, locationId: c.locationId, startsAt: nextSlot(5) }, c.tokens.RECEPTIONIST, c.h), 201).body;
  const ids: Record<string, string> = {};

  const released = await book();
  const releasedPayment = temporal.workflow.getHandle(paymentWorkflowId(paymentIdFor(released.id)));
  for (let i = 0; i < 600; i++) {
    const [row] = await stack.deps.dataSource.query('SELECT status FROM appointments WHERE id = $1', [released.id]);
    if (row.status === 'CANCELLED') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await releasedPayment.executeUpdate(payAtDeskUpdate, { args: [{ actorUserId: c.userIds.RECEPTIONIST, method: 'CASH' }] });
  ids['payment-encrypted-hold-released-late-refunded'] = releasedPayment.workflowId;
  ids['booking-journey-encrypted-payment-hold-released'] = bookingWorkflowId(released.id);

  const paid = await book();
  expectStatus(await api.post('/api/v1/payments', { appointmentId: paid.id, method: 'UPI' }, c.tokens.RECEPTIONIST, c.h), 201);
  await temporal.workflow.getHandle(paymentWorkflowId(paymentIdFor(paid.id))).result();
  ids['payment-encrypted-desk-paid'] = paymentWorkflowId(paymentIdFor(paid.id));

  const cancelled = await book();
  expectStatus(await api.post('/api/v1/payments', { appointmentId: cancelled.id, method: 'CASH' }, c.tokens.RECEPTIONIST, c.h), 201);
  await temporal.workflow.getHandle(paymentWorkflowId(paymentIdFor(cancelled.id))).result();
  expectStatus(await api.post(`/api/v1/appointments/${cancelled.id}/cancel`, { reason: 'replay' }, c.tokens.RECEPTIONIST, c.h), 200);
  ids['payment-encrypted-cancelled-refunded-by-policy'] = paymentWorkflowId(paymentIdFor(cancelled.id));

  for (const workflowId of Object.values(ids)) await temporal.workflow.getHandle(workflowId).result();
  return { ids, stop: () => stack.stop() };
}
