import { Column, Entity } from 'typeorm';
import { ClinicScoped } from './base';

/** Clinic policies (SPEC §5); absent keys take the defaults in shared/clinic-settings. */
export interface ClinicSettings {
  minNoticeMinutes?: number;
  paymentHoldMinutes?: number;
  reminderOffsetsMinutes?: number[];
  noShowGraceMinutes?: number;
  autoBookFollowUp?: boolean;
  autoRescheduleOnLeave?: boolean;
}

@Entity('clinics')
export class Clinic extends ClinicScoped {
  @Column({ type: 'text' }) name: string;
  @Column({ type: 'text', unique: true }) slug: string;
  @Column({ type: 'text' }) timezone: string;
  @Column({ type: 'jsonb', default: {} }) settings: ClinicSettings;
  @Column({ type: 'integer', default: 0 }) mrnSeq: number;
}
