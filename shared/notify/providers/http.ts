import type { Channel } from '../../../workflows/notification-api';
import { classifyFetchError, classifyHttpFailure } from './classify';
import { ProviderError } from './types';

export interface HttpAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- provider JSON, read defensively
  json: any;
}

/** One provider request with a deadline; a missing answer becomes a transient ProviderError. */
export async function request(channel: Channel, url: string, init: RequestInit, timeoutMs: number): Promise<HttpAnswer> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    text = await res.text();
  } catch (err) {
    const c = classifyFetchError(err);
    throw new ProviderError(channel, c.kind, c.code);
  }
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // Proxies answer HTML on 502/504: the status alone decides.
  }
  return { status: res.status, json };
}

export function fail(channel: Channel, status: number, providerCode: unknown, transientCodes?: ReadonlySet<string>): never {
  const c = classifyHttpFailure(status, providerCode, transientCodes);
  throw new ProviderError(channel, c.kind, c.code);
}

export const trimSlash = (url: string) => url.replace(/\/+$/, '');
