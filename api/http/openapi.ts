import { z, ZodType } from 'zod';
import type { RouteDef } from './route';

const problemSchema = {
  type: 'object',
  required: ['type', 'title', 'status'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', required: ['field', 'message'], properties: { field: { type: 'string' }, message: { type: 'string' } } } },
  },
};

const jsonSchema = (schema: ZodType, io: 'input' | 'output') => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12', io, unrepresentable: 'any',
    // A Date leaves the API as JSON does it: an ISO 8601 string.
    override: (ctx) => {
      if (ctx.zodSchema._zod.def.type === 'date') Object.assign(ctx.jsonSchema, { type: 'string', format: 'date-time' });
    },
  }) as Record<string, unknown>;
  return rest;
};

const problemContent = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };

/** Query/path parameters from an object schema. */
function parameters(schema: ZodType | undefined, location: 'query' | 'path') {
  if (!schema) return [];
  const js = jsonSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({ name, in: location, required: location === 'path' || (js.required ?? []).includes(name), schema: s }));
}

/** OpenAPI 3.1 generated from the very schemas that validate requests: it cannot drift from the code. */
export function buildOpenApi(routes: RouteDef[], info: { title: string; version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(r.responses)) {
      // An error status listed for its description still answers with a problem document.
      responses[status] = spec.schema
        ? { description: spec.description, content: { 'application/json': { schema: jsonSchema(spec.schema, 'output') } } }
        : Number(status) >= 400 ? { description: spec.description, content: problemContent } : { description: spec.description };
    }
    responses.default = { description: 'Problem', content: problemContent };
    const headerParams = [
      ...(r.access === 'clinic' ? [{ name: 'X-Clinic-ID', in: 'header', required: false, description: 'Clinic context (id or slug); falls back to clinicId query, subdomain, token default', schema: { type: 'string' } }] : []),
      ...(r.idempotent ? [{ name: 'Idempotency-Key', in: 'header', required: false, description: 'Replays the first response for the same key and body', schema: { type: 'string', maxLength: 255 } }] : []),
    ];
    paths[path] ??= {};
    paths[path][r.method] = {
      summary: r.summary,
      tags: r.tags,
      operationId: `${r.method}${path.replace(/[{}]/g, '').split('/').map((s) => s.charAt(0).toUpperCase() + s.slice(1)).join('')}`,
      ...(r.access === 'public' ? { security: [] } : {}),
      ...(r.permission ? { 'x-permission': { action: r.permission[0], subject: r.permission[1] } } : {}),
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query'), ...headerParams],
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(r.body, 'input') } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: { Problem: problemSchema },
    },
    security: [{ bearer: [] }],
    paths,
  };
}

/** A self-contained page (no CDN: the docs must render offline) listing every operation with its schemas. */
export function renderDocsPage(doc: ReturnType<typeof buildOpenApi>): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const sections = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => {
      const o = op as { summary: string; tags: string[]; parameters: unknown[]; requestBody?: unknown; responses: unknown; 'x-permission'?: unknown };
      return `<section><h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${esc(path)}</code></h3>
<p>${esc(o.summary)}</p>${o['x-permission'] ? `<p class="perm">permission: <code>${esc(JSON.stringify(o['x-permission']))}</code></p>` : ''}
<details><summary>parameters, body and responses</summary><pre>${esc(JSON.stringify({ parameters: o.parameters, requestBody: o.requestBody, responses: o.responses }, null, 2))}</pre></details></section>`;
    }),
  );
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(doc.info.title)} — API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem}section{border-top:1px solid #ddd;padding:.5rem 0}
.m{display:inline-block;min-width:4.5em;font-size:.8em;padding:.1em .4em;border-radius:4px;color:#fff;background:#555;text-align:center}
.get{background:#2b7}.post{background:#27b}.put,.patch{background:#b82}.delete{background:#b33}pre{background:#f6f6f6;padding:.5rem;overflow:auto}.perm{color:#666}</style>
</head><body><h1>${esc(doc.info.title)} <small>v${esc(doc.info.version)}</small></h1>
<p>Generated from <a href="/openapi.json">/openapi.json</a> (OpenAPI ${doc.openapi}). Errors are <code>application/problem+json</code>.</p>
${sections.join('\n')}</body></html>`;
}
