import type { ZodType } from 'zod';
import { FieldError, problems } from './problem';
import { invalidText } from './text';

/**
 * Parses `input` with `schema`; a failure is a 400 naming each bad field (prefixed by where it was).
 * Text that cannot be stored (NUL, lone surrogates, undecodable bytes) is refused first, in every
 * field of every route, so it never reaches a query or a workflow.
 */
export function validate<T>(schema: ZodType<T> | undefined, input: unknown, where: 'body' | 'query' | 'params'): T {
  if (!schema) return undefined as T;
  const badText = invalidText(input, where);
  if (badText.length) throw problems.validation(badText);
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const errors: FieldError[] = result.error.issues.map((issue) => ({
    field: [where, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
  throw problems.validation(errors);
}
