import type { FieldError } from './problem';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why `s` is not text PostgreSQL can store, or null when it is. NUL (U+0000) is refused by `text`
 * columns (SQLSTATE 22021), a lone UTF-16 surrogate has no UTF-8 form, and U+FFFD is what the body
 * and query decoders leave where the request's bytes were not UTF-8: none of them is ever meant.
 */
export function textProblem(s: string): string | null {
  if (s.includes('\u0000')) return 'must not contain NUL (U+0000)';
  if (LONE_SURROGATE.test(s)) return 'must be valid Unicode text (a lone UTF-16 surrogate is not)';
  if (s.includes('\uFFFD')) return 'must be valid UTF-8 text (U+FFFD marks bytes that were not)';
  return null;
}

/**
 * Every string (and object key) in a parsed request part that is not storable text, named by its
 * path (`body.settings.name`). Runs before the schema, so every field of every route is covered,
 * including free-form ones (records, unknown values). Iterative: the JSON depth limit applies first,
 * but this must not overflow the stack on its own either.
 */
export function invalidText(input: unknown, where: string): FieldError[] {
  const errors: FieldError[] = [];
  const stack: Array<[unknown, string]> = [[input, where]];
  while (stack.length && errors.length < 20) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem) errors.push({ field: path, message: problem });
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => stack.push([v, `${path}.${i}`]));
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        const keyProblem = textProblem(k);
        if (keyProblem) errors.push({ field: `${path}.${JSON.stringify(k)}`, message: `key ${keyProblem}` });
        else stack.push([v, `${path}.${k}`]);
      }
    }
  }
  return errors.reverse();
}
