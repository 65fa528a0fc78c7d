/** Every workflow type the workers register (the bundle's entry point). */
export { booking } from './booking';
export { deliverMessage } from './notification';
export { followUp } from './follow-up';
export { payment } from './payment';
export { purgeExpired } from './maintenance';
export { therapySeries } from './therapy';
export { recurringSeries } from './series';
