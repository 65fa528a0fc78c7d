/** The service kinds the product ships (SPEC §5). Import this module to have them registered. */
import { checkup } from './kinds/checkup';
import { consultation } from './kinds/consultation';
import { ayurvedaTherapy } from './kinds/ayurveda-therapy';
import { followUpVisit } from './kinds/follow-up';
import { panchakarmaSession } from './kinds/panchakarma-session';
import { vidhakarma } from './kinds/vidhakarma';
import { registerServiceKind } from './registry';

export const SHIPPED_SERVICE_KINDS = [consultation, checkup, vidhakarma, ayurvedaTherapy, panchakarmaSession, followUpVisit]
  .map(registerServiceKind);

export * from './registry';
export type * from './types';
