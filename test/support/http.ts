/** A tiny JSON client for tests: real HTTP against the in-process API. */
export interface Res<T = any> { status: number; body: T; headers: Headers }

export function client(baseUrl: string) {
  async function call<T = any>(method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {}): Promise<Res<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined || opts.raw !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)) });
    const text = await res.text();
    let body: any = text;
    try { body = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
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
