import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { chromium as playwright, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, ensureChromium } from '../support/chromium';
import { ensureNginx } from '../support/nginx';
import { adminToken, ClinicFixture, createClinic, nextSlot } from '../support/fixtures';
import { Api, client } from '../support/http';
import { Stack, startStack } from '../support/stack';
import { freePort, SEARCH_ATTRIBUTES, SINGLE_PARTITION } from '../support/temporal-server';

/**
 * Issue 8.11, in a real browser: the Temporal Web UI (the CLI dev server's, as `npm start` runs
 * it) decodes a booking journey for a signed-in staff member through the API's /codec, and leaves
 * another clinic's journey encoded. The staff member signs in at /codec/sign-in (the codec session
 * cookie), and the UI sends that cookie because of its "include cross-origin credentials" codec
 * setting (a browser setting in the dev server's UI; TEMPORAL_CODEC_INCLUDE_CREDENTIALS on the
 * production UI server, docker-compose.yml).
 *
 * Then the production path (issue 8.7): the compose file's own gateway configuration, run by a real
 * nginx in front of the same UI server and API, lets nobody reach the UI before signing in, and
 * serves /codec on the UI's origin so the UI decodes with no browser setting at all.
 */
const chromiumCheck = ensureChromium();
const describeInBrowser = 'path' in chromiumCheck ? describe : describe.skip;
if ('missing' in chromiumCheck) console.warn(`Skipping the Web UI browser test: ${chromiumCheck.missing}`);
const nginxCheck = 'path' in chromiumCheck ? ensureNginx() : { missing: 'no browser' };
const describeGateway = 'path' in nginxCheck ? describe : describe.skip;
if ('missing' in nginxCheck) console.warn(`Skipping the Web UI gateway test: ${nginxCheck.missing}`);

const REASON = 'Fake patient Zubeida Hakimuddin phoned: fever';
const SECOND = 1000;

let devServer: ChildProcess | undefined;
let gateway: ChildProcess | undefined;
let gatewayUrl: string;
let codecProxy: net.Server | undefined;
let stack: Stack;
let api: Api;
let browser: Browser;
let uiUrl: string;
let codecUrl: string;
let a: ClinicFixture;
let b: ClinicFixture;
let journeyA: { id: string; workflowId: string };
let journeyB: { id: string; workflowId: string };

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * A port for the codec endpoint known before the API listens (the dev server takes the endpoint
 * at start, the API is started after it): connections are forwarded once the API is up.
 */
async function deferredProxy(): Promise<{ port: number; target: (port: number) => void }> {
  let targetPort = 0;
  const server = net.createServer((socket) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
    socket.pipe(upstream).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  codecProxy = server;
  return { port: (server.address() as net.AddressInfo).port, target: (p) => { targetPort = p; } };
}

const credentials = (f: ClinicFixture, role: string) => ({ email: `${role.toLowerCase()}-${f.slug}@test.local`, password: `pw-${f.slug}-${role}-long` });

/**
 * The UI's "Codec Server" browser settings as its settings panel stores them (localStorage, JSON):
 * this endpoint, "use my browser setting", "include cross-origin credentials".
 */
const codecSetting = () => `if (location.origin === ${JSON.stringify(new URL(uiUrl).origin)}) {
  localStorage.setItem('endpoint', ${JSON.stringify(JSON.stringify(codecUrl))});
  localStorage.setItem('includeCredentials', 'true');
  localStorage.setItem('overrideRemoteCodecConfiguration', 'true');
}`;

/** A browser profile of one staff member: the UI's codec setting stored, signed in through /codec/sign-in. */
async function signedInAs(f: ClinicFixture, role: string, returnTo: string): Promise<{ context: BrowserContext; page: Page; decodes: number[] }> {
  const context = await browser.newContext();
  await context.addInitScript({ content: codecSetting() });
  const page = await context.newPage();
  const decodes: number[] = [];
  page.on('response', (res) => { if (res.url().endsWith('/codec/decode') && res.request().method() === 'POST') decodes.push(res.status()); });
  await page.goto(`${codecUrl}/sign-in?return=${encodeURIComponent(returnTo)}`);
  const { email, password } = credentials(f, role);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL((u) => u.toString().startsWith(uiUrl), { timeout: 30 * SECOND }), page.click('#submit')]);
  return { context, page, decodes };
}

const workflowPage = (workflowId: string) => `${uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`;

/** The UI shows a payload it could not decode as its proto3 JSON: metadata values in base64. */
const SEALED = /YmluYXJ5L2VuY3J5cHRlZA/; // base64 of "binary/encrypted"
const DECODED = (id: string) => (text: string) => text.includes('"appointmentId"') && text.includes(id);

/** Polls the page's text until `ready` holds (the UI renders payloads raw first, decoded when its codec call returns). */
async function pageText(page: Page, decodes: number[], ready: (text: string) => boolean, what: string): Promise<string> {
  const deadline = Date.now() + 45 * SECOND;
  for (;;) {
    const text = await page.innerText('body');
    if (decodes.length > 0 && ready(text)) return text;
    if (Date.now() > deadline) throw new Error(`${what} did not show; decode calls: ${JSON.stringify(decodes)}; page:\n${text.slice(0, 3000)}`);
    await page.waitForTimeout(500);
  }
}

/** The page's text once its codec calls are over: a sealed payload that stays sealed is really refused. */
async function settledText(page: Page): Promise<string> {
  await page.waitForLoadState('networkidle', { timeout: 10 * SECOND }).catch(() => undefined);
  await page.waitForTimeout(1500);
  return page.innerText('body');
}

/**
 * docker-compose.yml's gateway server block, verbatim but for addresses: the API and the UI server
 * on this machine's ports, listening on the gateway's port.
 */
function startGateway(nginx: string, port: number, apiPort: number, uiPort: number): ChildProcess {
  const compose = parseDocument(fs.readFileSync(path.join(__dirname, '..', '..', 'docker-compose.yml'), 'utf8'), { merge: true }).toJS() as {
    configs: Record<string, { content: string }>;
  };
  const server = compose.configs['gateway-nginx'].content.replace(/\$\$/g, '$')
    .replace(/listen 8080;/, `listen 127.0.0.1:${port};`)
    .replace(/http:\/\/api:8088/g, `http://127.0.0.1:${apiPort}`)
    .replace(/http:\/\/temporal-ui:8080/g, `http://127.0.0.1:${uiPort}`);
  const dir = fs.mkdtempSync(path.join(process.env.TEST_RUN_DIR ?? '/tmp', 'gateway-'));
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${t};`).join('\n  ');
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {}
http {
  access_log off;
  ${temp}
${server}
}
`);
  return spawn(nginx, ['-p', dir, '-e', `${dir}/error.log`, '-c', path.join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
}

describeInBrowser('Temporal Web UI decodes through the API codec (Chromium)', () => {
  beforeAll(async () => {
    const proxy = await deferredProxy();
    codecUrl = `http://127.0.0.1:${proxy.port}/codec`;
    const [grpcPort, uiPort, gatewayPort] = [await freePort(), await freePort(), await freePort()];
    uiUrl = `http://127.0.0.1:${uiPort}`;
    gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    // The UI server's codec endpoint is the gateway's /codec, as in docker-compose.yml.
    devServer = spawn(process.env.TEMPORAL_CLI_PATH!, ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(grpcPort),
      '--ui-ip', '127.0.0.1', '--ui-port', String(uiPort), '--ui-codec-endpoint', `${gatewayUrl}/codec`, '--log-level', 'error',
      ...SINGLE_PARTITION, ...SEARCH_ATTRIBUTES.flatMap((s) => ['--search-attribute', `${s}=Keyword`])], { stdio: ['ignore', 'ignore', 'inherit'] });
    await waitForHttp(uiUrl, 60 * SECOND);

    stack = await startStack({ env: { TEMPORAL_ADDRESS: `127.0.0.1:${grpcPort}`, TEMPORAL_UI_URL: uiUrl } });
    proxy.target(Number(new URL(stack.baseUrl).port));
    api = client(stack.baseUrl);
    const su = await adminToken(api);
    a = await createClinic(api, su, ['RECEPTIONIST', 'DOCTOR', 'AUDITOR']);
    b = await createClinic(api, su, ['RECEPTIONIST', 'DOCTOR']);
    const book = async (f: ClinicFixture) => {
      const res = await api.post('/api/v1/appointments', {
        patientId: f.patientId, practitionerId: f.practitionerId, serviceId: f.serviceId, locationId: f.locationId, startsAt: nextSlot(),
      }, f.tokens.RECEPTIONIST, f.h);
      expect(res.status).toBe(201);
      expect((await api.post(`/api/v1/appointments/${res.body.id}/cancel`, { reason: REASON }, f.tokens.RECEPTIONIST, f.h)).status).toBe(200);
      return res.body as { id: string; workflowId: string };
    };
    journeyA = await book(a);
    journeyB = await book(b);

    browser = await playwright.launch({ executablePath: 'path' in chromiumCheck ? chromiumCheck.path : undefined, args: CHROMIUM_ARGS });
    if ('path' in nginxCheck) {
      gateway = startGateway(nginxCheck.path, gatewayPort, Number(new URL(stack.baseUrl).port), uiPort);
      await waitForHttp(`${gatewayUrl}/codec/sign-in`, 30 * SECOND);
    }
  }, 180 * SECOND);

  afterAll(async () => {
    await browser?.close();
    gateway?.kill('SIGTERM');
    await stack?.stop();
    codecProxy?.close();
    devServer?.kill('SIGTERM');
  });

  it("shows a signed-in doctor their clinic's booking input decoded", async () => {
    const { context, page, decodes } = await signedInAs(a, 'DOCTOR', workflowPage(journeyA.workflowId));
    try {
      const text = await pageText(page, decodes, DECODED(journeyA.id), 'the decoded input');
      expect(decodes.every((s) => s === 200)).toBe(true);
      expect(text).not.toMatch(/could not connect/i);
    } finally {
      await context.close();
    }
  }, 120 * SECOND);

  it("leaves another clinic's journey encoded for the same doctor", async () => {
    const { context, page, decodes } = await signedInAs(a, 'DOCTOR', workflowPage(journeyB.workflowId));
    try {
      await pageText(page, decodes, (t) => SEALED.test(t), 'the input');
      const text = await settledText(page);
      expect(decodes.length).toBeGreaterThan(0);
      expect(decodes.every((s) => s === 200)).toBe(true); // answered, with the payloads left sealed
      expect(text).not.toContain('"appointmentId"');
      expect(text).toMatch(SEALED);
    } finally {
      await context.close();
    }
  }, 120 * SECOND);

  it('decodes nothing without a sign-in: the codec answers 401 and the input stays encoded', async () => {
    const context = await browser.newContext();
    await context.addInitScript({ content: codecSetting() });
    try {
      const page = await context.newPage();
      const decodes: number[] = [];
      page.on('response', (res) => { if (res.url().endsWith('/codec/decode') && res.request().method() === 'POST') decodes.push(res.status()); });
      await page.goto(workflowPage(journeyA.workflowId));
      await pageText(page, decodes, (t) => SEALED.test(t) && decodes.includes(401), 'the input');
      const text = await settledText(page);
      expect(text).not.toContain('"appointmentId"');
      expect(text).toMatch(SEALED);
    } finally {
      await context.close();
    }
  }, 120 * SECOND);

  describeGateway('behind the compose gateway (nginx with docker-compose.yml\'s configuration)', () => {
    it('lets nobody reach the UI or its API before signing in', async () => {
      for (const p of ['/', `/namespaces/default/workflows/${journeyA.workflowId}`, '/api/v1/namespaces', '/api/v1/settings']) {
        const res = await fetch(`${gatewayUrl}${p}`, { redirect: 'manual' });
        expect({ p, status: res.status }).toEqual({ p, status: 302 });
        expect(res.headers.get('location')).toMatch(/^\/codec\/sign-in\?return=/);
      }
      // Signed in as a role that may decode nothing: still no UI.
      const auditor = await api.post('/api/v1/auth/login', credentials(a, 'AUDITOR'));
      expect((await fetch(`${gatewayUrl}/codec/session`, { method: 'POST', headers: { authorization: `Bearer ${auditor.body.accessToken}` } })).status).toBe(403);
    });

    it("sends the browser to the sign-in page, then shows the clinic's journey decoded with no codec setting", async () => {
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        const decodes: number[] = [];
        page.on('response', (res) => { if (res.url() === `${gatewayUrl}/codec/decode` && res.request().method() === 'POST') decodes.push(res.status()); });
        await page.goto(workflowPage(journeyA.workflowId).replace(uiUrl, gatewayUrl));
        expect(page.url()).toContain(`${gatewayUrl}/codec/sign-in?return=`);
        const { email, password } = credentials(a, 'DOCTOR');
        await page.fill('#email', email);
        await page.fill('#password', password);
        await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/namespaces/'), { timeout: 30 * SECOND }), page.click('#submit')]);
        expect(page.url()).toBe(workflowPage(journeyA.workflowId).replace(uiUrl, gatewayUrl));
        await pageText(page, decodes, DECODED(journeyA.id), 'the decoded input');
        expect(decodes.filter((st) => st !== 200)).toEqual([]);

        decodes.length = 0;
        await page.goto(workflowPage(journeyB.workflowId).replace(uiUrl, gatewayUrl));
        await pageText(page, decodes, (t) => SEALED.test(t) && t.includes(journeyB.workflowId), "the other clinic's input");
        const foreign = await settledText(page);
        expect(foreign).not.toContain('"appointmentId"');
        expect(foreign).toMatch(SEALED);
      } finally {
        await context.close();
      }
    }, 120 * SECOND);
  });
});
