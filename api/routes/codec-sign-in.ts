import type Router from '@koa/router';
import type { ApiDeps, ApiState } from '../http/state';

/**
 * The page staff open once to let the Temporal Web UI decode (issue 8.11): it signs in through the
 * API's own endpoints (password, then TOTP when the account has it) and exchanges the access token
 * for the codec session cookie (POST /codec/session). No inline script: the page's CSP allows
 * scripts and requests of this origin only.
 */
const CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Where to send the user back: a page of the Web UI, or of the origin this page is served on (the
 * compose gateway serves it on the UI's origin), never anywhere else (no open redirect).
 */
export function returnUrl(uiUrl: string, requested: unknown, selfOrigin: string): string {
  const ui = new URL(uiUrl);
  if (typeof requested === 'string' && requested) {
    try {
      const target = new URL(requested, selfOrigin);
      if (target.origin === ui.origin || target.origin === selfOrigin) return target.toString();
    } catch {
      // fall through to the UI's home
    }
  }
  return ui.toString();
}

const page = (back: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to decode workflow payloads</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body data-return="${escapeAttr(back)}">
<h1>Temporal Web UI: decode payloads</h1>
<p>Sign in with your clinic account. The Web UI then shows the payloads of the clinics where you may read patients.</p>
<form id="sign-in">
  <p><label>Email <input id="email" name="email" type="email" autocomplete="username" required></label></p>
  <p><label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label></p>
  <p id="code-row" hidden><label>Authenticator code <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code"></label></p>
  <p><button id="submit" type="submit">Sign in</button></p>
</form>
<p id="status" role="status"></p>
<p><a id="back" href="${escapeAttr(back)}">Back to the Temporal Web UI</a></p>
<script src="/codec/sign-in.js"></script>
</body></html>
`;

const script = `'use strict';
(function () {
  var form = document.getElementById('sign-in');
  var status = document.getElementById('status');
  var mfaToken = null;
  function post(path, body, token) {
    var headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = 'Bearer ' + token;
    return fetch(path, { method: 'POST', headers: headers, body: JSON.stringify(body || {}), credentials: 'same-origin' })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (j) { return { ok: r.ok, body: j }; }); });
  }
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    status.textContent = 'Signing in…';
    var code = document.getElementById('code').value.trim();
    var step = mfaToken
      ? post('/api/v1/auth/mfa/verify', { mfaToken: mfaToken, code: code })
      : post('/api/v1/auth/login', { email: document.getElementById('email').value, password: document.getElementById('password').value });
    step.then(function (res) {
      if (!res.ok) throw new Error(res.body.detail || res.body.title || 'Sign-in failed');
      if (res.body.mfaRequired) {
        mfaToken = res.body.mfaToken;
        document.getElementById('code-row').hidden = false;
        status.textContent = 'Enter the code from your authenticator app.';
        return null;
      }
      return post('/codec/session', {}, res.body.accessToken).then(function (session) {
        if (!session.ok) throw new Error(session.body.detail || session.body.title || 'Could not start the codec session');
        status.textContent = 'Signed in: the Web UI can decode now.';
        status.setAttribute('data-signed-in', 'true');
        var back = document.body.getAttribute('data-return');
        if (back) window.location.assign(back);
      });
    }).catch(function (err) {
      status.textContent = err.message;
    });
  });
})();
`;

export function mountCodecSignIn(router: Router<ApiState>, deps: ApiDeps): void {
  router.get('/codec/sign-in', (ctx) => {
    ctx.set('Content-Security-Policy', CSP);
    ctx.type = 'html';
    ctx.body = page(returnUrl(deps.config.TEMPORAL_UI_URL, ctx.query.return, `${ctx.protocol}://${ctx.host}`));
  });
  router.get('/codec/sign-in.js', (ctx) => {
    ctx.set('Content-Security-Policy', CSP);
    ctx.type = 'application/javascript';
    ctx.body = script;
  });
}
