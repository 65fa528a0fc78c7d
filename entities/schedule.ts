import { Column, Entity, Index } from 'typeorm';
import type { ScheduleException, WeeklyRule } from '../shared/scheduling';
import { ClinicScoped } from './base';

/** One per practitioner: weekly rules in each location's time zone, plus exceptions. */
@Entity('schedules')
@Index(['clinicId', 'practitionerId'], { unique: true })
export class Schedule extends ClinicScoped {
  @Column({ type: 'uuid' }) clinicId: string;
  @Column({ type: 'uuid' }) practitionerId: string;
  @Column({ type: 'jsonb', default: [] }) rules: WeeklyRule[];
  @Column({ type: 'jsonb', default: [] }) exceptions: ScheduleException[];
}
