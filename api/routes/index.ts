import type { RouteDef } from '../http/route';
import { appointmentRoutes } from './appointments';
import { authRoutes } from './auth';
import { clinicRoutes } from './clinics';
import { locationRoutes } from './locations';
import { patientRoutes } from './patients';
import { practitionerRoutes } from './practitioners';
import { serviceRoutes } from './services';
import { userRoutes } from './users';

/** Every /api/v1 route; the OpenAPI document is generated from this list. */
export const apiRoutes: RouteDef[] = [
  ...authRoutes, ...clinicRoutes, ...locationRoutes, ...userRoutes, ...practitionerRoutes, ...serviceRoutes,
  ...patientRoutes, ...appointmentRoutes,
] as RouteDef[];
