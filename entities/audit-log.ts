import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Append-only: the migration revokes UPDATE/DELETE and a trigger refuses them. */
@Entity('audit_logs')
@Index(['clinicId', 'occurredAt'])
export class AuditLog {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column({ type: 'uuid', nullable: true }) clinicId: string | null;
  @Column({ type: 'uuid', nullable: true }) actorUserId: string | null;
  @Column({ type: 'text' }) action: string;
  @Column({ type: 'text' }) resourceType: string;
  @Column({ type: 'text', nullable: true }) resourceId: string | null;
  @Column({ type: 'text', nullable: true }) requestId: string | null;
  @Column({ type: 'text', nullable: true }) ip: string | null;
  @Column({ type: 'timestamptz', default: () => 'now()' }) occurredAt: Date;
  /** Position in the clinic's chain, given by audit_seal. */
  @Column({ type: 'bigint', nullable: true }) chainSeq: string | null;
  @Column({ type: 'text', nullable: true }) prevHash: string | null;
  @Column({ type: 'text', nullable: true }) hash: string | null;
}
