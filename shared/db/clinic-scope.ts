import type { DataSource, EntityManager, EntityTarget, FindOptionsOrder, FindOptionsWhere, ObjectLiteral } from 'typeorm';

type Scoped = ObjectLiteral & { clinicId: string };

/**
 * Data access already bound to one clinic: every read and write it offers adds the clinic
 * filter, so a handler cannot forget it.
 */
export class ClinicScope {
  constructor(private readonly db: DataSource | EntityManager, readonly clinicId: string) {}

  private repo<T extends Scoped>(entity: EntityTarget<T>) {
    return this.db.getRepository(entity);
  }

  private where<T extends Scoped>(where: FindOptionsWhere<T> = {}): FindOptionsWhere<T> {
    return { ...where, clinicId: this.clinicId } as FindOptionsWhere<T>;
  }

  findOne<T extends Scoped>(entity: EntityTarget<T>, where: FindOptionsWhere<T>): Promise<T | null> {
    return this.repo(entity).findOne({ where: this.where(where) });
  }

  find<T extends Scoped>(entity: EntityTarget<T>, where: FindOptionsWhere<T> = {}, order?: FindOptionsOrder<T>, take?: number): Promise<T[]> {
    return this.repo(entity).find({ where: this.where(where), order, take });
  }

  count<T extends Scoped>(entity: EntityTarget<T>, where: FindOptionsWhere<T>): Promise<number> {
    return this.repo(entity).count({ where: this.where(where) });
  }

  async insert<T extends Scoped>(entity: EntityTarget<T>, values: Omit<Partial<T>, 'clinicId'>): Promise<T> {
    const repo = this.repo(entity);
    return repo.save(repo.create({ ...values, clinicId: this.clinicId } as unknown as T));
  }

  async update<T extends Scoped>(entity: EntityTarget<T>, where: FindOptionsWhere<T>, values: Partial<T>): Promise<T | null> {
    const { clinicId: _never, ...safe } = values;
    await this.repo(entity).update(this.where(where), safe as never);
    return this.findOne(entity, where);
  }

  /** Keeps the same clinic inside a transaction. */
  within(manager: EntityManager): ClinicScope {
    return new ClinicScope(manager, this.clinicId);
  }
}
