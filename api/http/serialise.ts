import type { RouteDef } from './route';

/** A handler answered with something its own response schema does not describe: a bug, answered 500 and logged. */
export class ResponseSchemaError extends Error {
  constructor(readonly route: string, readonly status: number, readonly issues: { path: string; code: string }[]) {
    super(`${route} → ${status}: the response does not match its schema`);
  }
}

/**
 * The declared response schema is what serialises the body: fields it does not declare are
 * dropped, timestamps become ISO strings, and a body it rejects is a 500 rather than a response
 * the OpenAPI document (generated from the same schema) would not describe. Issues name paths
 * and codes only, never values (they may be PHI).
 */
export function serialise(def: RouteDef, status: number, body: unknown): unknown {
  const schema = def.responses[status]?.schema;
  if (!schema || body === undefined) return body;
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  throw new ResponseSchemaError(`${def.method.toUpperCase()} ${def.path}`, status, parsed.error.issues.map((i) => ({ path: i.path.join('.'), code: i.code })));
}
