/** Appointment statuses and the sets every part of the booking core reasons with (SPEC §5). */
export const APPOINTMENT_STATUSES = ['PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN', 'COMPLETED', 'CANCELLED', 'NO_SHOW'] as const;
export type AppointmentStatus = (typeof APPOINTMENT_STATUSES)[number];

/** Occupy their resources: only these have rows in appointment_resources (its trigger names the same list). */
export const ACTIVE_STATUSES: readonly AppointmentStatus[] = ['PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN'];
/** Not yet checked in and not ended: the visit can still move, and still be missed. */
export const MOVABLE_STATUSES: readonly AppointmentStatus[] = ['PENDING_PAYMENT', 'CONFIRMED'];
/** The journey is over. */
export const TERMINAL_STATUSES: readonly AppointmentStatus[] = ['CANCELLED', 'COMPLETED', 'NO_SHOW'];

export const isActive = (status: string) => (ACTIVE_STATUSES as readonly string[]).includes(status);
export const isMovable = (status: string) => (MOVABLE_STATUSES as readonly string[]).includes(status);
