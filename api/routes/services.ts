import { z } from 'zod';
import { Service } from '../../entities';
import { isServiceKind, resourcesForNewService, serviceKindNames } from '../../shared/service-kinds';
import { cacheKeys } from '../../shared/cache';
import { ClinicScope } from '../../shared/db/clinic-scope';
import { PG, pgCode } from '../../shared/db/pg-errors';
import { problems } from '../http/problem';
import { route } from '../http/route';
import { listOf, name, timestamps } from './schemas';

const serviceSchema = z.object({
  id: z.uuid(), clinicId: z.uuid(), code: z.string(), name: z.string(), kind: z.string(), durationMinutes: z.number(),
  priceMinor: z.number(), currency: z.string(), requiresPayment: z.boolean(), needsRoom: z.boolean(), roomKind: z.string().nullable(),
  therapistsRequired: z.number(),
  ...timestamps,
});

export const serviceRoutes = [
  route({
    method: 'post', path: '/api/v1/services', summary: 'Add a bookable service', tags: ['setup'],
    access: 'clinic', permission: ['create', 'Service'],
    body: z.object({
      code: z.string().trim().min(1).max(40).regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _'),
      name,
      // Kinds are plugins (shared/service-kinds): whatever is registered in this build.
      kind: z.string().refine(isServiceKind, { message: `one of the registered service kinds (${serviceKindNames().join(', ')}, …)` }),
      durationMinutes: z.number().int().min(5).max(1440),
      priceMinor: z.number().int().min(0).max(100_000_000).default(0),
      currency: z.string().regex(/^[A-Z]{3}$/, 'ISO 4217 code such as INR').default('INR'),
      requiresPayment: z.boolean().default(false),
      needsRoom: z.boolean().default(false),
      /** A room of this kind at the location is taken for each visit; default: the service kind's. */
      roomKind: z.string().trim().min(1).max(40).nullable().optional(),
      /** Free therapists taken for each visit besides the practitioner; default: the service kind's. */
      therapistsRequired: z.number().int().min(0).max(4).optional(),
    }).strict(),
    responses: { 201: { description: 'The service', schema: serviceSchema }, 409: { description: 'Code taken' } },
    async handler({ body, deps, actor }) {
      const scope = new ClinicScope(deps.dataSource, actor.clinicId!);
      try {
        const { roomKind, therapists } = resourcesForNewService(body.kind, body);
        const service = await scope.insert(Service, { ...body, roomKind, needsRoom: body.needsRoom || roomKind !== null, therapistsRequired: therapists });
        await deps.cache.invalidate(cacheKeys.services(scope.clinicId));
        return { status: 201, body: service };
      } catch (err) {
        if (pgCode(err) === PG.UNIQUE_VIOLATION) throw problems.conflict('code-taken', 'Another service of this clinic uses this code');
        throw err;
      }
    },
  }),
  route({
    method: 'get', path: '/api/v1/services', summary: 'Services of the clinic (cached)', tags: ['setup'],
    access: 'clinic', permission: ['read', 'Service'],
    responses: { 200: { description: 'Services', schema: listOf(serviceSchema) } },
    async handler({ deps, actor }) {
      const clinicId = actor.clinicId!;
      const items = await deps.cache.getOrLoad('services', cacheKeys.services(clinicId), 300,
        () => new ClinicScope(deps.dataSource, clinicId).find(Service, {}, { name: 'ASC' }, 100));
      return { body: { items, nextCursor: null } };
    },
  }),
];
