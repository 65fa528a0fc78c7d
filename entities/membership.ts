import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { Role } from '../shared/permissions/roles';

/** (user, clinic, role). Platform roles (SUPER_ADMIN, SYSTEM_ADMIN) have no clinic. */
@Entity('memberships')
@Index(['clinicId', 'role'])
export class Membership {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ type: 'uuid' }) userId: string;
  @Column({ type: 'uuid', nullable: true }) clinicId: string | null;
  @Column({ type: 'text' }) role: Role;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
}
