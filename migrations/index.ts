import { InitialSchema1764144000000 } from './1764144000000-initial-schema';
import { NotificationsOutbox1764200000000 } from './1764200000000-notifications-outbox';
import { SessionsAndMfa1764210000000 } from './1764210000000-sessions-and-mfa';
import { EncryptPatientPhi1764220000000 } from './1764220000000-encrypt-patient-phi';
import { AuditChainAppRoleRls1764230000000 } from './1764230000000-audit-chain-app-role-rls';
import { FollowUps1764240000000 } from './1764240000000-follow-ups';
import { BreakGlassGrants1764250000000 } from './1764250000000-break-glass-grants';
import { AuditAnchors1764262000000 } from './1764262000000-audit-anchors';

/** In order; the migration runner applies those not yet in schema_migrations. */
export const MIGRATIONS = [InitialSchema1764144000000, NotificationsOutbox1764200000000, SessionsAndMfa1764210000000, EncryptPatientPhi1764220000000, AuditChainAppRoleRls1764230000000, FollowUps1764240000000, BreakGlassGrants1764250000000, AuditAnchors1764262000000];
