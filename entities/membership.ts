import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';
import type { Role } from '../shared/permissions/roles';

/**
 * (user, clinic, role). Platform roles (SUPER_ADMIN, SYSTEM_ADMIN) have no clinic. The status is the
 * clinic's say over the member (the same on every role row of one user and clinic); the account's
 * own status is on users, changed by platform admins only.
 */
@Entity('memberships')
@Index(['clinicId', 'role'])
export class Membership {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ type: 'uuid' }) userId: string;
  @Column({ type: 'uuid', nullable: true }) clinicId: string | null;
  @Column({ type: 'text' }) role: Role;
  @Column({ type: 'text', default: 'ACTIVE' }) status: 'ACTIVE' | 'DISABLED';
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ type: 'timestamptz' }) updatedAt: Date;
}
