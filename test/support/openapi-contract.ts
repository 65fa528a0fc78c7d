import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { OpenAPIBackend, type Operation } from 'openapi-backend';
import { openApiDocument } from '../../api/app';

/**
 * Checks every response the integration tests receive against the API's own /openapi.json with
 * an OpenAPI validator (openapi-backend over Ajv's JSON Schema 2020-12, the dialect of OpenAPI 3.1):
 * the status must be documented for the operation, the content type must be one it declares, and
 * the body must match that schema. The first undocumented field fails the test that received it.
 */
const ajvFor = () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv;
};

interface Checker { check(method: string, url: URL, status: number, contentType: string | null, body: unknown): string | null }

let checker: Promise<Checker> | undefined;

/**
 * The checker of the document every API of the run serves at /openapi.json. It is built from the
 * same function the route serves (no request of its own, so rate limits and counters in tests
 * see only the test's requests); test/integration/bad-input.test.ts checks the two are equal.
 */
export function contract(): Promise<Checker> {
  checker ??= build();
  return checker;
}

async function build(): Promise<Checker> {
  const definition = JSON.parse(JSON.stringify(openApiDocument())) as { components: { schemas: { Problem: object } } };
  // quick: skips the library's check of the document itself, which knows OpenAPI 3.0's meta-schema only (ours is 3.1).
  const api = new OpenAPIBackend({ definition: definition as never, validate: true, quick: true, customizeAjv: () => ajvFor() });
  await api.init();
  const ajv = ajvFor();
  const problem = ajv.compile(definition.components.schemas.Problem);
  const validators = new Map<object, ReturnType<Ajv2020['compile']>>();
  const compiled = (schema: object) => {
    let v = validators.get(schema);
    if (!v) validators.set(schema, (v = ajv.compile(schema)));
    return v;
  };
  const describe = (errors: unknown) => JSON.stringify(errors);

  return {
    check(method, url, status, contentType, body) {
      const media = contentType?.split(';')[0].trim().toLowerCase() ?? null;
      const where = `${method} ${url.pathname} → ${status}`;
      // CORS preflights are answered by the CORS layer for any path; they are not operations.
      if (method === 'OPTIONS') return null;
      const op = api.matchOperation({ method, path: url.pathname, headers: {}, query: url.search.slice(1) }) as Operation | undefined;
      if (!op) {
        // Outside the document (/health, /metrics, /codec, /docs): only problems are checked there.
        if (media === 'application/problem+json' && !problem(body)) return `${where}: not a problem document: ${describe(problem.errors)}`;
        if (url.pathname.startsWith('/api/') && media !== 'application/problem+json') return `${where}: undocumented route answered ${media}`;
        return null;
      }
      const responses = op.responses as Record<string, { content?: Record<string, { schema?: object }> }>;
      const spec = responses[String(status)] ?? responses[`${Math.floor(status / 100)}XX`] ?? responses.default;
      if (!spec) return `${where}: status not documented for ${op.operationId}`;
      if (!spec.content) {
        return body === undefined || body === '' ? null : `${where}: ${op.operationId} documents no body for this status, got ${media}`;
      }
      if (!media || !spec.content[media]) return `${where}: content type ${media} not documented (${Object.keys(spec.content).join(', ')})`;
      const schema = spec.content[media].schema;
      if (!schema) return null;
      if (media === 'application/json') {
        const result = api.validateResponse(body, op.operationId!, status);
        return result.valid ? null : `${where}: body does not match ${op.operationId}'s schema: ${describe(result.errors)}`;
      }
      const validate = compiled(schema);
      return validate(body) ? null : `${where}: body does not match ${op.operationId}'s ${media} schema: ${describe(validate.errors)}`;
    },
  };
}
