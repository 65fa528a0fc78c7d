import { Column, Entity, Index } from 'typeorm';
import { ClinicScoped } from './base';

@Entity('locations')
@Index(['clinicId', 'name'])
export class Location extends ClinicScoped {
  @Column({ type: 'uuid' }) clinicId: string;
  @Column({ type: 'text' }) name: string;
  @Column({ type: 'text', nullable: true }) address: string | null;
  @Column({ type: 'text' }) timezone: string;
}
