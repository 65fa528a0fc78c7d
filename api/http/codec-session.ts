import { createSecretKey, KeyObject } from 'node:crypto';
import type { Context } from 'koa';
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import { checkSession } from '../commands/sessions';
import { authenticate, tokenSettings } from './authenticate';
import { problems } from './problem';
import type { ApiDeps, AuthState } from './state';

/**
 * A browser session for the payload codec (issue 8.11). The Temporal Web UI calls /codec with
 * `fetch`, sending no bearer token: with "include cross-origin credentials" (UI setting
 * `codec.includeCredentials`, env TEMPORAL_CODEC_INCLUDE_CREDENTIALS) it sends the cookies of the
 * codec's origin, and behind the compose gateway the codec is on the UI's own origin anyway. So a
 * staff member signs in once at /codec/sign-in; the API turns the resulting access token into
 * this cookie: HttpOnly, SameSite=Strict (the UI and the API are one site), Secure over https.
 *
 * The cookie holds a JWT of its own kind (`typ: codec`, audience `<aud>:codec`, so no bearer check
 * accepts it, nor this check a bearer token) naming the sign-in session: it dies with that session
 * (sign-out, revocation, idle and absolute limits, checked on every call like a bearer token's).
 */
export const CODEC_COOKIE = 'clinic_codec_session';
const TYP = 'codec';
const audience = (deps: Pick<ApiDeps, 'config'>) => `${deps.config.JWT_AUDIENCE}:codec`;

const keys = new Map<string, KeyObject>();
function key(secret: string): KeyObject {
  let k = keys.get(secret);
  if (!k) keys.set(secret, (k = createSecretKey(Buffer.from(secret, 'utf8'))));
  return k;
}

const isUuid = (v: unknown): v is string => typeof v === 'string' && z.uuid().safeParse(v).success;

/** Sets the cookie for the session the bearer token belongs to. */
export function startCodecSession(deps: Pick<ApiDeps, 'config'>, ctx: Context, auth: AuthState): { expiresAt: string } {
  const ttlSeconds = deps.config.SESSION_MAX_HOURS * 3600;
  const settings = tokenSettings(deps);
  const token = jwt.sign({ typ: TYP, sid: auth.sessionId }, key(settings.secret), {
    algorithm: 'HS256', expiresIn: ttlSeconds, issuer: settings.issuer, audience: audience(deps), subject: auth.userId,
  });
  // Secure whenever the Web UI is served over https, also behind a TLS-terminating proxy the API
  // does not trust for X-Forwarded-Proto (the cookies library would refuse it on a plain request).
  const secure = ctx.secure || new URL(deps.config.TEMPORAL_UI_URL).protocol === 'https:';
  if (secure) ctx.cookies.secure = true;
  ctx.cookies.set(CODEC_COOKIE, token, { httpOnly: true, sameSite: 'strict', path: '/', maxAge: ttlSeconds * 1000, overwrite: true, secure });
  return { expiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString() };
}

export function endCodecSession(ctx: Context): void {
  ctx.cookies.set(CODEC_COOKIE, '', { httpOnly: true, sameSite: 'strict', path: '/', maxAge: 0, overwrite: true });
}

/**
 * The caller of /codec: a bearer token (CLI, scripts) or the codec cookie (the Web UI). A cookie
 * rides along on any request the browser makes, so a cookie-authenticated call must come from the
 * Web UI's origin or the API's own pages (a browser names the page's origin on every cross-origin
 * POST); CORS already keeps other origins from reading the answers.
 */
export async function authenticateCodecCaller(deps: ApiDeps, ctx: Context): Promise<AuthState> {
  if (ctx.get('authorization')) return authenticate(deps, ctx);
  const cookie = ctx.cookies.get(CODEC_COOKIE);
  if (!cookie) throw problems.unauthorized('Sign in at /codec/sign-in (Web UI), or send a bearer token');
  const origin = ctx.get('origin');
  // The API's own origin spelled out: Koa's ctx.origin echoes the Origin header when there is one.
  if (origin && origin !== new URL(deps.config.TEMPORAL_UI_URL).origin && origin !== `${ctx.protocol}://${ctx.host}`) {
    throw problems.forbidden('The codec session answers the Temporal Web UI only');
  }
  let claims: jwt.JwtPayload;
  try {
    const settings = tokenSettings(deps);
    const payload = jwt.verify(cookie, key(settings.secret), { algorithms: ['HS256'], issuer: settings.issuer, audience: audience(deps) });
    if (typeof payload !== 'object' || payload.typ !== TYP) throw new Error('not a codec session');
    claims = payload;
  } catch {
    throw problems.unauthorized('The codec session is invalid or expired; sign in again at /codec/sign-in');
  }
  if (!isUuid(claims.sid) || !isUuid(claims.sub) || (await checkSession(deps, claims.sid, claims.sub)) !== 'active') {
    throw problems.unauthorized('The session has ended; sign in again at /codec/sign-in');
  }
  return { userId: claims.sub, sessionId: claims.sid, defaultClinicId: null, mfaEnrollmentOnly: false };
}
