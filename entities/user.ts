import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export type UserStatus = 'ACTIVE' | 'DISABLED';

/**
 * Global identity: one login, many clinic memberships. Name, email and phone are ciphertext under the
 * PHI keyring, found through their blind indexes (shared/crypto/user-pii.ts).
 */
@Entity('users')
export class User {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ type: 'text' }) email: string;
  @Column({ type: 'text', nullable: true }) phone: string | null;
  @Column({ type: 'text' }) name: string;
  @Column({ type: 'bytea', unique: true, select: false }) emailIndex: Buffer;
  @Column({ type: 'bytea', unique: true, nullable: true, select: false }) phoneIndex: Buffer | null;
  @Column({ type: 'text', select: false }) piiKeyId: string;
  @Column({ type: 'text', nullable: true, select: false }) passwordHash: string | null;
  @Column({ type: 'text', default: 'ACTIVE' }) status: UserStatus;
  /** TOTP secrets, sealed with the PHI keyring (AAD names the user); pending until activated. */
  @Column({ type: 'text', nullable: true, select: false }) totpSecret: string | null;
  @Column({ type: 'text', nullable: true, select: false }) totpPendingSecret: string | null;
  @Column({ type: 'timestamptz', nullable: true }) totpEnabledAt: Date | null;
  /** Last TOTP time step accepted: a code is good once (RFC 6238 §5.2). */
  @Column({ type: 'bigint', nullable: true, select: false }) totpLastStep: string | null;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ type: 'timestamptz' }) updatedAt: Date;
}
