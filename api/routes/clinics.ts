import { subject } from '@casl/ability';
import { z } from 'zod';
import { Clinic } from '../../entities';
import { PG, pgCode } from '../../shared/db/pg-errors';
import { problems } from '../http/problem';
import { route, uuidParam } from '../http/route';
import { ianaTimezone, listOf, name, slug, timestamps } from './schemas';

const settingsSchema = z.object({
  minNoticeMinutes: z.number().int().min(0).max(43200).optional(),
  paymentHoldMinutes: z.number().min(1 / 60, 'must be at least one second (1/60)').max(1440).optional()
    .describe('An unpaid booking of a service that requires payment is released after this many minutes (default 15); fractions allowed'),
  refundFullBeforeHours: z.number().min(0).max(8760).optional().describe('A paid visit cancelled at least this many hours before its start is refunded in full (default 24)'),
  refundLatePercent: z.number().int().min(0).max(100).optional().describe('Cancelled later, before the start: this percentage back (default 50; 0 = none); after the start nothing'),
  // Fractions of a minute are allowed (0.5 = 30 s, rounded to whole seconds): short journeys for tests and demos.
  reminderOffsetsMinutes: z.array(z.number().min(1 / 60, 'must be at least one second (1/60)').max(43200)).max(5).optional()
    .describe('Reminders before the visit, in minutes (default [1440, 120]); fractions allowed'),
  noShowGraceMinutes: z.number().min(0).max(1440).optional().describe('Minutes past the start before the journey marks NO_SHOW (default 15); fractions allowed'),
  autoBookFollowUp: z.boolean().optional().describe('The follow-up journey books the nearest free slot itself (default false)'),
  courseDayMinutes: z.number().int().min(5).max(1440).optional().describe('Compresses a Panchakarma course day to this many minutes (demos and tests; unset: calendar days)'),
  seriesHorizonDays: z.number().int().min(1).max(800).optional().describe('Recurring series book occurrences this many days ahead (default 14); later ones are PLANNED'),
  autoRescheduleOnLeave: z.boolean().optional().describe('Visits under a new practitioner leave move to the nearest free slot instead of being offered it (default false)'),
}).strict();

const clinicSchema = z.object({ id: z.uuid(), name: z.string(), slug: z.string(), timezone: z.string(), settings: settingsSchema, ...timestamps });
const view = ({ mrnSeq: _internal, ...c }: Clinic) => c;

export const clinicRoutes = [
  route({
    method: 'post', path: '/api/v1/clinics', summary: 'Create a clinic (tenant)', tags: ['clinics'],
    access: 'user', permission: ['create', 'Clinic'],
    body: z.object({ name, slug, timezone: ianaTimezone, settings: settingsSchema.optional() }).strict(),
    responses: { 201: { description: 'The clinic', schema: clinicSchema }, 409: { description: 'Slug taken' } },
    async handler({ body, deps }) {
      try {
        const repo = deps.dataSource.getRepository(Clinic);
        const clinic = await repo.save(repo.create({ ...body, settings: body.settings ?? {} }));
        await deps.cache.invalidate(`clinic:slug:${clinic.slug}`);
        return { status: 201, body: view(clinic) };
      } catch (err) {
        if (pgCode(err) === PG.UNIQUE_VIOLATION) throw problems.conflict('slug-taken', 'Another clinic uses this slug');
        throw err;
      }
    },
  }),

  route({
    method: 'get', path: '/api/v1/clinics', summary: 'Clinics the caller belongs to (all, for platform admins)', tags: ['clinics'],
    access: 'user', permission: null,
    responses: { 200: { description: 'Clinics', schema: listOf(clinicSchema) } },
    async handler({ deps, auth, ability }) {
      const all = ability.can('read', 'Clinic');
      const clinics: Clinic[] = all
        ? await deps.dataSource.getRepository(Clinic).find({ order: { name: 'ASC' }, take: 100 })
        : await deps.dataSource.getRepository(Clinic).createQueryBuilder('c')
          .where(`c.id IN (SELECT clinic_id FROM user_memberships(:u) WHERE status = 'ACTIVE')`, { u: auth.userId })
          .orderBy('c.name').getMany();
      return { body: { items: clinics.map(view), nextCursor: null } };
    },
  }),

  route({
    method: 'get', path: '/api/v1/clinics/:id', summary: 'One clinic', tags: ['clinics'],
    access: 'clinic-param', permission: ['read', 'Clinic'], params: uuidParam,
    responses: { 200: { description: 'The clinic', schema: clinicSchema } },
    async handler({ params, deps }) {
      const clinic = await deps.dataSource.getRepository(Clinic).findOneBy({ id: params.id });
      if (!clinic) throw problems.notFound('Clinic');
      return { body: view(clinic) };
    },
  }),

  route({
    method: 'patch', path: '/api/v1/clinics/:id', summary: 'Rename a clinic or change its policies', tags: ['clinics'],
    access: 'clinic-param', permission: ['update', 'Clinic'], params: uuidParam,
    body: z.object({ name: name.optional(), timezone: ianaTimezone.optional(), settings: settingsSchema.optional() }).strict(),
    responses: { 200: { description: 'The clinic', schema: clinicSchema } },
    async handler({ params, body, deps, ability }) {
      if (!ability.can('update', subject('Clinic', { id: params.id, clinicId: params.id }))) throw problems.forbidden();
      const repo = deps.dataSource.getRepository(Clinic);
      const clinic = await repo.findOneBy({ id: params.id });
      if (!clinic) throw problems.notFound('Clinic');
      Object.assign(clinic, { ...body, settings: body.settings ? { ...clinic.settings, ...body.settings } : clinic.settings });
      return { body: view(await repo.save(clinic)) };
    },
  }),
];
