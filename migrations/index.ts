import { InitialSchema1764144000000 } from './1764144000000-initial-schema';
import { NotificationsOutbox1764200000000 } from './1764200000000-notifications-outbox';
import { SessionsAndMfa1764210000000 } from './1764210000000-sessions-and-mfa';
import { EncryptPatientPhi1764220000000 } from './1764220000000-encrypt-patient-phi';
import { AuditChainAppRoleRls1764230000000 } from './1764230000000-audit-chain-app-role-rls';
import { FollowUps1764240000000 } from './1764240000000-follow-ups';
import { BreakGlassGrants1764250000000 } from './1764250000000-break-glass-grants';
import { AppointmentResources1764260000000 } from './1764260000000-appointment-resources';
import { AuditAnchors1764262000000 } from './1764262000000-audit-anchors';
import { MembershipStatus1764263000000 } from './1764263000000-membership-status';
import { OtpCodeForDelivery1764263100000 } from './1764263100000-otp-code-for-delivery';
import { MembershipsRls1764263200000 } from './1764263200000-memberships-rls';
import { EncryptUserPii1764263300000 } from './1764263300000-encrypt-user-pii';
import { IdempotencyClaimHolder1764265000000 } from './1764265000000-idempotency-claim-holder';
import { LongJourneys1764270000000 } from './1764270000000-long-journeys';
import { Payments1764280000000 } from './1764280000000-payments';

/** In order, one a line; the migration runner applies those not yet in schema_migrations. */
export const MIGRATIONS = [
  InitialSchema1764144000000,
  NotificationsOutbox1764200000000,
  SessionsAndMfa1764210000000,
  EncryptPatientPhi1764220000000,
  AuditChainAppRoleRls1764230000000,
  FollowUps1764240000000,
  BreakGlassGrants1764250000000,
  AppointmentResources1764260000000,
  AuditAnchors1764262000000,
  MembershipStatus1764263000000,
  OtpCodeForDelivery1764263100000,
  MembershipsRls1764263200000,
  EncryptUserPii1764263300000,
  IdempotencyClaimHolder1764265000000,
  LongJourneys1764270000000,
  Payments1764280000000,
];
