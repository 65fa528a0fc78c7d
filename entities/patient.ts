import { Column, Entity, Index } from 'typeorm';
import { ClinicScoped } from './base';

export type Channel = 'whatsapp' | 'sms' | 'email';
export interface PatientPreferences {
  channels?: Channel[];
  language?: string;
  quietHours?: { start: string; end: string };
}

/**
 * A patient row as stored. The PHI columns (names, date of birth, phone, email, address, clinical
 * notes) hold AES-256-GCM ciphertext ("<keyId>:<base64>", see shared/crypto/patient-phi.ts), all
 * under the key named by `phiKeyId`; read and write them only through encryptPatient/decryptPatient.
 * The MRN is an identifier, not PHI, and stays in clear for exact lookup.
 */
@Entity('patients')
@Index(['clinicId', 'mrn'], { unique: true })
@Index(['clinicId', 'id'])
export class Patient extends ClinicScoped {
  @Column({ type: 'uuid' }) clinicId: string;
  @Column({ type: 'text' }) mrn: string;
  @Column({ type: 'text' }) firstName: string;
  @Column({ type: 'text' }) lastName: string;
  @Column({ type: 'text' }) dateOfBirth: string;
  @Column({ type: 'text' }) sex: 'female' | 'male' | 'other' | 'unknown';
  @Column({ type: 'text', nullable: true }) phone: string | null;
  @Column({ type: 'text', nullable: true }) email: string | null;
  @Column({ type: 'text', nullable: true }) address: string | null;
  @Column({ type: 'text', nullable: true }) clinicalNotes: string | null;
  @Column({ type: 'text' }) phiKeyId: string;
  @Column({ type: 'jsonb', default: {} }) preferences: PatientPreferences;
  @Column({ type: 'uuid', nullable: true }) userId: string | null;
}
