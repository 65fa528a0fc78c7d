import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A signed-in session: the access token's `sid`. Ends on revocation, after idling, or at expiresAt. */
@Entity('sessions')
export class Session {
  @PrimaryColumn({ type: 'uuid' }) id: string;
  @Column({ type: 'uuid' }) userId: string;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
  @Column({ type: 'timestamptz' }) lastSeenAt: Date;
  @Column({ type: 'timestamptz' }) expiresAt: Date;
  @Column({ type: 'timestamptz', nullable: true }) revokedAt: Date | null;
  @Column({ type: 'text', nullable: true }) revokedReason: string | null;
  @Column({ type: 'boolean', default: false }) mfaSatisfied: boolean;
  @Column({ type: 'text', nullable: true }) ip: string | null;
}
