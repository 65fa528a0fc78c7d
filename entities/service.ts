import { Column, Entity, Index } from 'typeorm';
import { ClinicScoped } from './base';

export const SERVICE_KINDS = ['CONSULTATION', 'CHEQUP', 'VIDHAKARMA', 'AYURVEDA_THERAPY', 'PANCHAKARMA_SESSION', 'FOLLOW_UP'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];

@Entity('services')
@Index(['clinicId', 'code'], { unique: true })
export class Service extends ClinicScoped {
  @Column({ type: 'uuid' }) clinicId: string;
  @Column({ type: 'text' }) code: string;
  @Column({ type: 'text' }) name: string;
  @Column({ type: 'text' }) kind: ServiceKind;
  @Column({ type: 'integer' }) durationMinutes: number;
  @Column({ type: 'integer', default: 0 }) priceMinor: number;
  @Column({ type: 'char', length: 3, default: 'INR' }) currency: string;
  @Column({ type: 'boolean', default: false }) requiresPayment: boolean;
  @Column({ type: 'boolean', default: false }) needsRoom: boolean;
  @Column({ type: 'integer', default: 0 }) therapistsRequired: number;
}
