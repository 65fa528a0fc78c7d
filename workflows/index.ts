/** Every workflow type the workers register (the bundle's entry point). */
export { booking } from './booking';
