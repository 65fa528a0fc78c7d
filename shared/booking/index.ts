/** The booking core's one home: status sets, the facts loader and the pure slot decision. */
export * from './statuses';
export * from './decide';
export { loadSlotFacts, type FactsQuery, type Queryable } from './facts';
export { AppointmentStore, type AppointmentChange, type AppointmentRow, type NewAppointment } from './appointments';
