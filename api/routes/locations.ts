import { z } from 'zod';
import { Clinic, Location, Room } from '../../entities';
import { ClinicScope } from '../../shared/db/clinic-scope';
import { problems } from '../http/problem';
import { route } from '../http/route';
import { ianaTimezone, listOf, name, timestamps } from './schemas';

const locationSchema = z.object({ id: z.uuid(), clinicId: z.uuid(), name: z.string(), address: z.string().nullable(), timezone: z.string(), ...timestamps });
const roomSchema = z.object({ id: z.uuid(), clinicId: z.uuid(), locationId: z.uuid(), name: z.string(), kind: z.string().nullable(), ...timestamps });

export const locationRoutes = [
  route({
    method: 'post', path: '/api/v1/locations', summary: 'Add a location to the clinic', tags: ['setup'],
    access: 'clinic', permission: ['create', 'Location'],
    body: z.object({ name, timezone: ianaTimezone.optional(), address: z.string().max(500).optional() }).strict(),
    responses: { 201: { description: 'The location', schema: locationSchema } },
    async handler({ body, deps, actor }) {
      const scope = new ClinicScope(deps.dataSource, actor.clinicId!);
      const clinic = await deps.dataSource.getRepository(Clinic).findOneByOrFail({ id: scope.clinicId });
      const location = await scope.insert(Location, { name: body.name, address: body.address ?? null, timezone: body.timezone ?? clinic.timezone });
      return { status: 201, body: location };
    },
  }),
  route({
    method: 'get', path: '/api/v1/locations', summary: 'Locations of the clinic', tags: ['setup'],
    access: 'clinic', permission: ['read', 'Location'],
    responses: { 200: { description: 'Locations', schema: listOf(locationSchema) } },
    async handler({ deps, actor }) {
      const items = await new ClinicScope(deps.dataSource, actor.clinicId!).find(Location, {}, { name: 'ASC' }, 100);
      return { body: { items, nextCursor: null } };
    },
  }),
  route({
    method: 'post', path: '/api/v1/rooms', summary: 'Add a room (e.g. a therapy room) to a location', tags: ['setup'],
    access: 'clinic', permission: ['create', 'Room'],
    body: z.object({ locationId: z.uuid(), name, kind: z.string().trim().min(1).max(50).optional() }).strict(),
    responses: { 201: { description: 'The room', schema: roomSchema } },
    async handler({ body, deps, actor }) {
      const scope = new ClinicScope(deps.dataSource, actor.clinicId!);
      if (!(await scope.findOne(Location, { id: body.locationId }))) {
        throw problems.unprocessable('unknown-location', 'locationId is not a location of this clinic', [{ field: 'body.locationId', message: 'unknown location' }]);
      }
      return { status: 201, body: await scope.insert(Room, { locationId: body.locationId, name: body.name, kind: body.kind ?? null }) };
    },
  }),
  route({
    method: 'get', path: '/api/v1/rooms', summary: 'Rooms of the clinic', tags: ['setup'],
    access: 'clinic', permission: ['read', 'Room'],
    query: z.object({ locationId: z.uuid().optional() }),
    responses: { 200: { description: 'Rooms', schema: listOf(roomSchema) } },
    async handler({ query, deps, actor }) {
      const items = await new ClinicScope(deps.dataSource, actor.clinicId!).find(Room, query.locationId ? { locationId: query.locationId } : {}, { name: 'ASC' }, 100);
      return { body: { items, nextCursor: null } };
    },
  }),
];
