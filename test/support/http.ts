import { contract as openApiContract } from './openapi-contract';

/** A tiny JSON client for tests: real HTTP against the in-process API. */
export interface Res<T = any> { status: number; body: T; headers: Headers }

/**
 * Every response is checked against the API's /openapi.json (openapi-contract.ts); a response the
 * document does not describe throws, failing the test that received it. `contract: false` skips
 * that for a client that deliberately talks to something else.
 */
export function client(baseUrl: string, opts: { contract?: boolean } = {}) {
  const contract = opts.contract === false ? null : openApiContract();
  async function call<T = any>(method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {}): Promise<Res<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if ((opts.body !== undefined || opts.raw !== undefined) && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)) });
    const text = await res.text();
    let body: any = text;
    try { body = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
    if (contract) {
      const broken = (await contract).check(method, new URL(`${baseUrl}${path}`), res.status, res.headers.get('content-type'), text ? body : undefined);
      if (broken) throw new Error(`response outside the OpenAPI document: ${broken}`);
    }
    return { status: res.status, body, headers: res.headers };
  }
  return {
    call,
    get: <T = any>(path: string, token?: string, headers?: Record<string, string>) => call<T>('GET', path, { token, headers }),
    post: <T = any>(path: string, body: unknown, token?: string, headers?: Record<string, string>) => call<T>('POST', path, { token, body, headers }),
    put: <T = any>(path: string, body: unknown, token?: string, headers?: Record<string, string>) => call<T>('PUT', path, { token, body, headers }),
    patch: <T = any>(path: string, body: unknown, token?: string, headers?: Record<string, string>) => call<T>('PATCH', path, { token, body, headers }),
  };
}
export type Api = ReturnType<typeof client>;
