import { Column, Entity, Index } from 'typeorm';
import { ClinicScoped } from './base';

@Entity('practitioners')
@Index(['clinicId', 'userId'], { unique: true })
export class Practitioner extends ClinicScoped {
  @Column({ type: 'uuid' }) clinicId: string;
  @Column({ type: 'uuid' }) userId: string;
  @Column({ type: 'text', nullable: true }) specialty: string | null;
  @Column({ type: 'uuid', array: true, default: () => "'{}'" }) locationIds: string[];
  /** May be assigned as a therapist in therapy sessions. */
  @Column({ type: 'boolean', default: false }) therapist: boolean;
}
