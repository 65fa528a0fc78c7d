import { z } from 'zod';
import { paginationQuery } from '../http/pagination';
import { route, uuidParam } from '../http/route';
import { createPatient, getPatient, listPatients, updatePatient } from '../commands/patients';
import { listOf, localDate, name, timestamps } from './schemas';
import { parseSearchQuery } from '../../shared/crypto/blind-index';

/** What q looks like decides what it is matched against (SPEC §8: exact match through blind indexes). */
const searchQuery = z.string().trim().min(1).max(200)
  .describe('MRN (MRN0000042), phone (+919812345678), email, date of birth (YYYY-MM-DD) or full name ("first last"); exact match')
  .transform((q, ctx) => {
    const parsed = parseSearchQuery(q);
    if ('error' in parsed) {
      ctx.issues.push({ code: 'custom', message: parsed.error, input: q });
      return z.NEVER;
    }
    return parsed;
  });

const phone = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be E.164, e.g. +919812345678');
const demographics = {
  firstName: name,
  lastName: name,
  dateOfBirth: localDate.refine((d) => d >= '1900-01-01' && d <= new Date().toISOString().slice(0, 10), 'must be a past date'),
  sex: z.enum(['female', 'male', 'other', 'unknown']),
  phone: phone.nullable().optional(),
  email: z.email().max(320).nullable().optional(),
  address: z.string().trim().max(500).nullable().optional(),
  clinicalNotes: z.string().max(20000).nullable().optional(),
};

const patientSchema = z.object({
  id: z.uuid(), clinicId: z.uuid(), mrn: z.string(), firstName: z.string(), lastName: z.string(), dateOfBirth: z.string(),
  sex: z.string(), phone: z.string().nullable(), email: z.string().nullable(), address: z.string().nullable(),
  clinicalNotes: z.string().nullable().optional().describe('Only for DOCTOR, NURSE, CLINIC_ADMIN, SUPER_ADMIN'),
  preferences: z.record(z.string(), z.unknown()), userId: z.uuid().nullable(), ...timestamps,
});

export const patientRoutes = [
  route({
    method: 'post', path: '/api/v1/patients', summary: 'Register a patient (an MRN is assigned)', tags: ['patients'],
    access: 'clinic', permission: ['create', 'Patient'],
    body: z.object(demographics).strict(),
    responses: { 201: { description: 'The patient', schema: patientSchema } },
    handler: async ({ body, deps, ctx, actor, ability }) => ({ status: 201, body: await createPatient(deps, ctx, actor, ability, body) }),
  }),
  route({
    method: 'get', path: '/api/v1/patients', summary: 'List patients, or find them by exact MRN, phone, email, date of birth or full name with q', tags: ['patients'],
    access: 'clinic', permission: ['read', 'Patient'],
    query: z.object({ q: searchQuery.optional(), ...paginationQuery }),
    responses: { 200: { description: 'A page of patients', schema: listOf(patientSchema) } },
    handler: async ({ query, deps, ctx, actor, ability }) => ({ body: await listPatients(deps, ctx, actor, ability, query) }),
  }),
  route({
    method: 'get', path: '/api/v1/patients/:id', summary: 'One patient', tags: ['patients'],
    access: 'clinic', permission: ['read', 'Patient'], params: uuidParam,
    responses: { 200: { description: 'The patient', schema: patientSchema } },
    handler: async ({ params, deps, ctx, actor, ability }) => ({ body: await getPatient(deps, ctx, actor, ability, params.id) }),
  }),
  route({
    method: 'patch', path: '/api/v1/patients/:id', summary: "Update a patient's demographics (and clinical notes, for clinicians)", tags: ['patients'],
    access: 'clinic', permission: ['update', 'Patient'], params: uuidParam,
    body: z.object(demographics).partial().strict().refine((b) => Object.keys(b).length > 0, { message: 'send at least one field' }),
    responses: { 200: { description: 'The patient', schema: patientSchema } },
    handler: async ({ params, body, deps, ctx, actor, ability }) => ({ body: await updatePatient(deps, ctx, actor, ability, params.id, body) }),
  }),
];
