import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A one-time login code (purpose login, code kept as a keyed hash) or a pending second factor (purpose mfa). */
@Entity('otp_challenges')
export class OtpChallenge {
  @PrimaryColumn({ type: 'uuid' }) id: string;
  @Column({ type: 'uuid' }) userId: string;
  @Column({ type: 'text' }) purpose: 'login' | 'mfa';
  @Column({ type: 'text', nullable: true }) channel: 'email' | 'sms' | 'whatsapp' | null;
  @Column({ type: 'bytea', nullable: true, select: false }) codeHash: Buffer | null;
  /** The code sealed for its delivery, wiped once sent (shared/notify/message-secrets.ts). */
  @Column({ type: 'text', nullable: true, select: false }) codeSealed: string | null;
  @Column({ type: 'integer', default: 0 }) attempts: number;
  @Column({ type: 'integer', default: 5 }) maxAttempts: number;
  @Column({ type: 'timestamptz' }) expiresAt: Date;
  @Column({ type: 'timestamptz', nullable: true }) consumedAt: Date | null;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
  @Column({ type: 'text', nullable: true }) ip: string | null;
}
