import { Column, Entity, Index, VersionColumn } from 'typeorm';
import { ClinicScoped } from './base';

import type { AppointmentStatus } from '../shared/booking/statuses';

export { APPOINTMENT_STATUSES, type AppointmentStatus } from '../shared/booking/statuses';
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
  @Column({ type: 'uuid', array: true, default: () => "'{}'" }) therapistIds: string[];
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
