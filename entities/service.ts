import { Column, Entity, Index } from 'typeorm';
import { ClinicScoped } from './base';


@Entity('services')
@Index(['clinicId', 'code'], { unique: true })
export class Service extends ClinicScoped {
  @Column({ type: 'uuid' }) clinicId: string;
  @Column({ type: 'text' }) code: string;
  @Column({ type: 'text' }) name: string;
  /** A registered service kind (shared/service-kinds). */
  @Column({ type: 'text' }) kind: string;
  @Column({ type: 'integer' }) durationMinutes: number;
  @Column({ type: 'integer', default: 0 }) priceMinor: number;
  @Column({ type: 'char', length: 3, default: 'INR' }) currency: string;
  @Column({ type: 'boolean', default: false }) requiresPayment: boolean;
  @Column({ type: 'boolean', default: false }) needsRoom: boolean;
  @Column({ type: 'text', nullable: true }) roomKind: string | null;
  @Column({ type: 'integer', default: 0 }) therapistsRequired: number;
}
