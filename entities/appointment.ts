import { Column, Entity, Index, VersionColumn } from 'typeorm';
import { ClinicScoped } from './base';

export const APPOINTMENT_STATUSES = ['PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN', 'COMPLETED', 'CANCELLED', 'NO_SHOW'] as const;
export type AppointmentStatus = (typeof APPOINTMENT_STATUSES)[number];
/** Statuses that occupy resources; the exclusion constraints apply only to these. */
export const ACTIVE_STATUSES: readonly AppointmentStatus[] = ['PENDING_PAYMENT', 'CONFIRMED', 'CHECKED_IN'];
export type AppointmentMode = 'IN_PERSON' | 'VIDEO' | 'HOME_VISIT';

@Entity('appointments')
@Index(['clinicId', 'startsAt'])
@Index(['clinicId', 'practitionerId', 'startsAt'])
@Index(['clinicId', 'patientId', 'startsAt'])
export class Appointment extends ClinicScoped {
  @Column({ type: 'uuid' }) clinicId: string;
  @Column({ type: 'uuid' }) locationId: string;
  @Column({ type: 'uuid' }) patientId: string;
  @Column({ type: 'uuid' }) practitionerId: string;
  @Column({ type: 'uuid', nullable: true }) roomId: string | null;
  @Column({ type: 'uuid' }) serviceId: string;
  @Column({ type: 'timestamptz' }) startsAt: Date;
  @Column({ type: 'timestamptz' }) endsAt: Date;
  @Column({ type: 'text', default: 'IN_PERSON' }) mode: AppointmentMode;
  @Column({ type: 'text' }) status: AppointmentStatus;
  @Column({ type: 'uuid', nullable: true }) seriesId: string | null;
  @Column({ type: 'text' }) workflowId: string;
  @Column({ type: 'uuid', nullable: true }) createdBy: string | null;
  @Column({ type: 'text', nullable: true }) cancelReason: string | null;
  @VersionColumn() version: number;
}
