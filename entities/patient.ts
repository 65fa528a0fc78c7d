import { Column, Entity, Index } from 'typeorm';
import { ClinicScoped } from './base';

export type Channel = 'whatsapp' | 'sms' | 'email';
export interface PatientPreferences {
  channels?: Channel[];
  language?: string;
  quietHours?: { start: string; end: string };
}

@Entity('patients')
@Index(['clinicId', 'mrn'], { unique: true })
@Index(['clinicId', 'id'])
export class Patient extends ClinicScoped {
  @Column({ type: 'uuid' }) clinicId: string;
  @Column({ type: 'text' }) mrn: string;
  @Column({ type: 'text' }) firstName: string;
  @Column({ type: 'text' }) lastName: string;
  @Column({ type: 'date' }) dateOfBirth: string;
  @Column({ type: 'text' }) sex: 'female' | 'male' | 'other' | 'unknown';
  @Column({ type: 'text', nullable: true }) phone: string | null;
  @Column({ type: 'text', nullable: true }) email: string | null;
  @Column({ type: 'text', nullable: true }) address: string | null;
  @Column({ type: 'text', nullable: true }) clinicalNotes: string | null;
  @Column({ type: 'jsonb', default: {} }) preferences: PatientPreferences;
  @Column({ type: 'uuid', nullable: true }) userId: string | null;
}
