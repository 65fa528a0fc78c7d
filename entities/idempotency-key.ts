import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** Idempotency-Key of a journey-creating POST, scoped to the caller. */
@Entity('idempotency_keys')
export class IdempotencyKey {
  @PrimaryColumn({ type: 'uuid' }) userId: string;
  @PrimaryColumn({ type: 'text' }) key: string;
  @Column({ type: 'text' }) requestHash: string;
  @Column({ type: 'integer', nullable: true }) responseStatus: number | null;
  @Column({ type: 'jsonb', nullable: true }) responseBody: unknown;
  @CreateDateColumn({ type: 'timestamptz' }) createdAt: Date;
  /** Process that holds (or last held) the claim, `host:pid`; null for claims older than the column. */
  @Column({ type: 'text', nullable: true }) holder: string | null;
  /** This claim's token: its liveness sign in Redis is keyed by it, and a take-over compares it. */
  @Column({ type: 'uuid', nullable: true }) claimToken: string | null;
  /** Renewed by the holder while its request runs; the sign read when Redis cannot answer. */
  @Column({ type: 'timestamptz', default: () => 'now()' }) heartbeatAt: Date;
}
