import type { ZodType } from 'zod';
import { FieldError, problems } from './problem';

/** Parses `input` with `schema`; a failure is a 400 naming each bad field (prefixed by where it was). */
export function validate<T>(schema: ZodType<T> | undefined, input: unknown, where: 'body' | 'query' | 'params'): T {
  if (!schema) return undefined as T;
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const errors: FieldError[] = result.error.issues.map((issue) => ({
    field: [where, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  throw problems.validation(errors);
}
