import type { RouteDef } from '../http/route';
import { appointmentRoutes } from './appointments';
import { appointmentSeriesRoutes } from './appointment-series';
import { auditLogRoutes } from './audit-logs';
import { authRoutes } from './auth';
import { availabilityRoutes } from './availability';
import { breakGlassRoutes } from './break-glass';
import { clinicRoutes } from './clinics';
import { dashboardRoutes } from './dashboard';
import { locationRoutes } from './locations';
import { notificationRoutes } from './notifications';
import { patientPreferenceRoutes } from './patient-preferences';
import { patientRoutes } from './patients';
import { paymentRoutes } from './payments';
import { practitionerRoutes } from './practitioners';
import { serviceRoutes } from './services';
import { therapyRoutes } from './therapy';
import { userRoutes } from './users';

/** Every /api/v1 route; the OpenAPI document is generated from this list. */
export const apiRoutes: RouteDef[] = [
  ...authRoutes, ...clinicRoutes, ...locationRoutes, ...userRoutes, ...practitionerRoutes, ...serviceRoutes,
  ...patientRoutes, ...appointmentRoutes, ...notificationRoutes, ...auditLogRoutes,
  ...availabilityRoutes, ...dashboardRoutes, ...patientPreferenceRoutes, ...breakGlassRoutes, ...therapyRoutes, ...appointmentSeriesRoutes, ...paymentRoutes,
] as RouteDef[];
