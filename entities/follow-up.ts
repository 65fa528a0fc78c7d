import { Column, Entity, Index } from 'typeorm';
import { ClinicScoped } from './base';

/** The same values as the workflow's FollowUpPhase (workflows/follow-up-api.ts). */
export type FollowUpStatus = 'SCHEDULED' | 'NOTIFIED' | 'BOOKED' | 'NO_SLOT' | 'CANCELLED';

/** A follow-up due after a completed visit; the followUp workflow (`followup-<appointmentId>`) keeps it current. */
@Entity('follow_ups')
@Index(['clinicId', 'appointmentId'], { unique: true })
export class FollowUp extends ClinicScoped {
  @Column({ type: 'uuid' }) clinicId: string;
  @Column({ type: 'uuid' }) appointmentId: string;
  @Column({ type: 'uuid' }) patientId: string;
  @Column({ type: 'uuid' }) practitionerId: string;
  @Column({ type: 'timestamptz' }) dueAt: Date;
  @Column({ type: 'text' }) status: FollowUpStatus;
  @Column({ type: 'uuid', nullable: true }) bookedAppointmentId: string | null;
  @Column({ type: 'text' }) workflowId: string;
  @Column({ type: 'uuid', nullable: true }) createdBy: string | null;
}
