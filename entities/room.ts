import { Column, Entity, Index } from 'typeorm';
import { ClinicScoped } from './base';

@Entity('rooms')
@Index(['clinicId', 'locationId'])
export class Room extends ClinicScoped {
  @Column({ type: 'uuid' }) clinicId: string;
  @Column({ type: 'uuid' }) locationId: string;
  @Column({ type: 'text' }) name: string;
  @Column({ type: 'text', nullable: true }) kind: string | null;
}
