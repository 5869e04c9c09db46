// End-to-end test of the demo page (`wsgate --demo true`) in headless Chromium: Debian's
// /usr/bin/chromium driven by playwright-core (no browser download). Starts its own
// redis-server and gateways on free loopback ports, opens the page at the URL with the access
// key that the gateway logs, drives it, and kills everything it started by PID. Every wait is bounded; the whole run is capped at 60 s. Exit 0 = passed.
//
// Environment: WSGATE_BINARY, WSGATE_PUBLISH_BINARY (default: build/), CHROMIUM
// (/usr/bin/chromium), E2E_ARTIFACTS (default: $WSGATE_BUILD_DIR/e2e-artifacts, else
// build/e2e-artifacts): demo.png is written there, demo-failure.png on a failure.
import { execFile, spawn } from 'node:child_process';
import { Buffer } from 'node:buffer';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const wsgateBinary = process.env.WSGATE_BINARY || path.join(root, 'build/wsgate');
const publishBinary = process.env.WSGATE_PUBLISH_BINARY || path.join(root, 'build/wsgate-publish');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = process.env.E2E_ARTIFACTS ||
  path.join(process.env.WSGATE_BUILD_DIR || path.join(root, 'build'), 'e2e-artifacts');
const overallMs = 60_000;
const stepMs = 10_000;
const secret = 'e2e-secret-0123456789abcdef0123456789abcd'; // 40 bytes

const children = [];
const scratch = mkdtempSync(path.join(os.tmpdir(), 'wsgate-e2e-'));
const started = Date.now();
let browser = null;
let page = null;

function log(msg) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

async function stopAll() {
  if (browser) await withTimeout(browser.close(), 5_000, 'closing the browser').catch(() => {});
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
  const deadline = Date.now() + 5_000;
  for (const child of children) {
    while (child.exitCode === null && child.signalCode === null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  rmSync(scratch, { recursive: true, force: true });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function start(binary, args, name) {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.output = '';
  child.stdout.on('data', (d) => (child.output += d));
  child.stderr.on('data', (d) => (child.output += d));
  child.on('error', (e) => (child.output += `\n${name}: ${e.message}\n`));
  child.name = name;
  children.push(child);
  return child;
}

async function until(what, ms, probe) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function redisPing(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

async function startRedis() {
  const port = await freePort();
  const redis = start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--dir', scratch], 'redis-server');
  await until('redis-server to answer PING', 5_000, () => redisPing(port));
  return { redis, url: `redis://127.0.0.1:${port}` };
}

// Starts wsgate and waits for its `listening` line (for the port) and /readyz 200. With
// --demo, `key` is the access key from the page URL of its `demo_mode` line.
async function startGateway(redisUrl, extra, name) {
  const gw = start(wsgateBinary, ['--listen', '127.0.0.1:0', '--redis-url', redisUrl,
    '--jwt-secret', secret, '--threads', '2', ...extra], name);
  const port = await until(`${name} to log its port`, stepMs, () => {
    if (gw.exitCode !== null) throw new Error(`${name} exited:\n${gw.output}`);
    const m = / listening [^\n]*port=(\d+)/.exec(gw.output);
    return m && Number(m[1]);
  });
  const base = `http://127.0.0.1:${port}`;
  await until(`${name} to be ready`, stepMs, async () => {
    const res = await fetch(`${base}/readyz`).catch(() => null);
    return res && res.status === 200;
  });
  const page = / demo_mode [^\n]*page="?(http:\/\/[^"\s]+)/.exec(gw.output);
  const key = page ? new URL(page[1]).searchParams.get('key') : null;
  return { gw, base, key, pageUrl: page && page[1] };
}

function runPublish(redisUrl, user, payload) {
  return new Promise((resolve, reject) => {
    execFile(publishBinary, ['--redis-url', redisUrl, user, payload], { timeout: stepMs },
      (err, stdout, stderr) => (err ? reject(new Error(`wsgate-publish: ${err.message}\n${stderr}`))
        : resolve(stdout.trim())));
  });
}

// Waits until the text of `selector` satisfies `want` (a substring, or every one of a list).
async function waitForText(selector, want) {
  const parts = Array.isArray(want) ? want : [want];
  try {
    await page.waitForFunction(([sel, ps]) => {
      const el = document.querySelector(sel);
      return el !== null && ps.every((p) => el.textContent.includes(p));
    }, [selector, parts], { timeout: stepMs });
  } catch (e) {
    const now = await page.textContent(selector).catch(() => '(missing)');
    throw new Error(`${selector} never showed ${JSON.stringify(parts)}; it shows ${JSON.stringify(now)}`);
  }
}

// No answer of a gateway sets a cookie: a browser sends a host's cookies to every port on it,
// other users' servers on 127.0.0.1 included. (`headers`: fetch's Headers or node's object.)
function cookieProblem(headers, what) {
  const cookie = headers['set-cookie'] ?? headers.get?.('set-cookie');
  return cookie === undefined || cookie === null ? null : `${what} sets a cookie: ${cookie}`;
}

function checkNoCookie(headers, what) {
  const problem = cookieProblem(headers, what);
  check(problem === null, problem);
}

async function expectStatus(url, init, status, what) {
  const res = await fetch(url, init);
  const body = await res.text();
  check(res.status === status, `${what}: status ${res.status}, wanted ${status} (${body.trim()})`);
  checkNoCookie(res.headers, what);
  return body;
}

// A raw request, for headers fetch() will not let us set (Host, Cookie).
function rawStatus(url, method, headers) {
  return withTimeout(new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const problem = cookieProblem(res.headers, `${method} ${url}`);
      res.resume();
      res.on('end', () => (problem ? reject(new Error(`check failed: ${problem}`))
        : resolve(res.statusCode)));
    });
    req.on('error', reject);
    req.end();
  }), stepMs, `${method} ${url}`);
}

async function main() {
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new Error(`playwright-core is missing: run scripts/install-deps.sh (npm ci in tests/e2e): ${e.message}`);
  }
  mkdirSync(artifacts, { recursive: true });

  const { url: redisUrl } = await startRedis();
  const { base, key, pageUrl } = await startGateway(redisUrl, ['--demo', 'true'],
    'wsgate --demo true');
  const { base: plainBase } = await startGateway(redisUrl, [], 'wsgate (no --demo)');
  const { base: noHs256Base, key: noHs256Key } = await startGateway(redisUrl,
    ['--demo', 'true', '--jwt-algorithms', 'HS512'], 'wsgate --demo true (no HS256)');
  log(`redis ${redisUrl}, demo gateway ${base}, plain gateway ${plainBase}`);
  check(key && key.length === 43 && pageUrl === `${base}/?key=${key}`,
    `the demo gateway logs its page URL with a 43-character key: ${pageUrl}`);
  const withKey = { 'X-Wsgate-Demo-Key': key };

  // Without --demo the demo paths answer exactly like an unknown path.
  const unknown = await expectStatus(`${plainBase}/no-such-path`, {}, 404, 'unknown path');
  for (const [p, method] of [['/', 'GET'], ['/demo/app.js', 'GET'], ['/demo/token?user=a', 'GET'],
    ['/demo/publish?user=a&payload=b', 'POST']]) {
    const body = await expectStatus(`${plainBase}${p}`, { method }, 404, `${method} ${p} without --demo`);
    check(body === unknown, `${p} without --demo answers like an unknown path`);
  }
  // With it, but without the access key: every endpoint, the page included, says why not.
  // The cookie that once carried the key opens nothing, and the API takes the key in the
  // X-Wsgate-Demo-Key header only, not as ?key= (the page and its assets do).
  const oldCookie = `wsgate_demo_key_${new URL(base).port}=${key}`;
  for (const [p, method, queryKey] of [['/', 'GET', true], ['/demo/app.js', 'GET', true],
    ['/demo/app.css', 'GET', true], ['/demo/token?user=a', 'GET', false],
    ['/demo/publish?user=a&payload=b', 'POST', false]]) {
    const body = await expectStatus(`${base}${p}`, { method }, 403, `${method} ${p} without the key`);
    check(body.includes('missing or wrong demo access key'), `${p} without the key: ${body}`);
    await expectStatus(`${base}${p}`, { method, headers: { 'X-Wsgate-Demo-Key': noHs256Key } },
      403, `${method} ${p} with another gateway's key`);
    check(await rawStatus(`${base}${p}`, method, { Cookie: oldCookie }) === 403,
      `${method} ${p} with the key in the old cookie is refused`);
    const withQuery = `${base}${p}${p.includes('?') ? '&' : '?'}key=${key}`;
    await expectStatus(withQuery, { method }, queryKey ? 200 : 403, `${method} ${p} with ?key=`);
    await expectStatus(`${base}${p}`, { method, headers: withKey }, 200,
      `${method} ${p} with the key header`);
  }
  // With the key: the endpoints' own answers.
  await expectStatus(`${base}/demo/token?user=`, { headers: withKey }, 400, 'token without a user');
  await expectStatus(`${base}/demo/publish?user=a&payload=b`, { headers: withKey }, 405,
    'GET on publish');
  await expectStatus(`${base}/demo/publish?user=a&payload=${'x'.repeat(4097)}`,
    { method: 'POST', headers: withKey }, 400, 'payload over 4 KiB');
  // Other sites open in a browser on this host: a foreign Origin, or a rebound DNS name.
  const publishUrl = `${base}/demo/publish?user=a&payload=b`;
  check(await rawStatus(publishUrl, 'POST', { ...withKey, Origin: 'http://evil.example' }) === 403,
    'a publish from a foreign Origin is refused');
  check(await rawStatus(`${base}/demo/token?user=a`, 'GET', { ...withKey, Host: 'evil.example' })
    === 403, 'a token request for a foreign Host is refused');
  const pageRes = await fetch(pageUrl);
  check(pageRes.status === 200, `the printed page URL opens the page: ${pageRes.status}`);
  check((pageRes.headers.get('content-security-policy') || '').includes("script-src 'self'"),
    'the page has a strict Content-Security-Policy');
  log('HTTP answers checked');

  browser = await withTimeout(chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    timeout: 20_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  }), 25_000, 'launching chromium');
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
  page = await context.newPage();
  page.setDefaultTimeout(stepMs);
  // Every answer the browser gets, the page's assets and fetches included.
  const answers = [];
  page.on('response', (r) => answers.push(r));
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(`console error: ${m.text()}`);
  });
  log('chromium launched');

  // The page without its key is refused; with the printed URL it opens and keeps the key in
  // the address bar, so a reload opens it again. Its assets carry the key in their URLs and
  // its script sends it as a header: no cookie anywhere.
  // (In a page of its own: the browser logs the 403, and the favicon's 404, as errors.)
  const keyless = await browser.newPage();
  const refused = await keyless.goto(`${base}/`, { timeout: stepMs });
  check(refused.status() === 403, `the page without the key: ${refused.status()}`);
  await keyless.close();
  const opened = await page.goto(pageUrl, { timeout: stepMs });
  check(opened.status() === 200, `the page with the key: ${opened.status()}`);
  const reloaded = await page.reload({ timeout: stepMs });
  check(reloaded.status() === 200, `the page reloads: ${reloaded.status()}`);
  check(page.url() === pageUrl, `the key stays in the address bar: ${page.url()}`);
  await page.waitForFunction(() => getComputedStyle(document.querySelector('main')).maxWidth
    !== 'none', null, { timeout: stepMs });  // its stylesheet applies
  const user = `e2e-user-${process.pid}`;
  await page.fill('#user', user);
  await page.fill('#token', '');
  await page.click('#connect');
  await waitForText('#state', 'open');
  log('connected with a minted demo token');

  // 1. A message published with the CLI appears, with its size in bytes.
  const fromCli = `from wsgate-publish ✓ ${Date.now()}`;
  const receivers = await runPublish(redisUrl, user, fromCli);
  log(`wsgate-publish: ${receivers}`);
  await waitForText('#messages', fromCli);
  const firstRow = await page.textContent('#messages li:first-child');
  check(firstRow.includes(`${Buffer.byteLength(fromCli)} B`),
    `the row shows the size in bytes (${Buffer.byteLength(fromCli)}): ${firstRow}`);

  // 2. One sent with the page's own form appears too, and the form reports 1 receiver.
  const fromForm = `{"from":"the page form","n":${Date.now()}}`;
  await page.fill('#payload', fromForm);
  await page.click('#publish');
  await waitForText('#publish-result', 'published: 1 receiver');
  await waitForText('#messages', fromForm);
  log('form publish shown');

  // 3. Markup in a payload is shown as text, never parsed.
  const markup = `<img src=x id=injected onerror="document.title='injected'"><b>bold</b>`;
  await runPublish(redisUrl, user, markup);
  await waitForText('#messages', markup);
  check(await page.$('#messages img, #messages b') === null, 'payload markup is not parsed');
  check(await page.title() !== 'injected', 'payload script did not run');

  // 4. Disconnect shows a normal close.
  await page.click('#disconnect');
  await waitForText('#close-info', 'closed 1000');

  // 5. A token for another user: 1008 client_id mismatch.
  const other = await (await fetch(`${base}/demo/token?user=someone-else`,
    { headers: withKey })).json();
  await page.fill('#token', other.token);
  await page.click('#connect');
  await waitForText('#close-info', ['closed 1008', 'client_id mismatch']);

  // 6. A garbage token: 1008 invalid token, shown with its reason.
  await page.fill('#token', 'not.a.jwt');
  await page.click('#connect');
  await waitForText('#close-info', ['closed 1008', 'invalid token']);
  await waitForText('#state', 'closed');
  log('bad tokens show 1008 with their reasons');

  const shot = path.join(artifacts, 'demo.png');
  await page.screenshot({ path: shot, fullPage: true });
  log(`screenshot: ${shot}`);
  check(pageErrors.length === 0, `no page or console errors: ${pageErrors.join('; ')}`);
  // The page's own requests: its assets with ?key=, its fetches with the header, none refused,
  // no cookie set by any answer, none held by the browser.
  const demoAnswers = answers.filter((r) => r.url().startsWith(`${base}/`) &&
    !r.url().startsWith(`${base}/ws/`));
  for (const want of ['/demo/app.js?key=', '/demo/app.css?key=', '/demo/token?', '/demo/publish?'])
    check(demoAnswers.some((r) => r.url().startsWith(`${base}${want}`) && r.status() === 200),
      `the page requested ${want} with success`);
  for (const r of demoAnswers) {
    check(r.status() === 200, `${r.url()}: ${r.status()}`);
    check(await r.headerValue('set-cookie') === null, `${r.url()} sets no cookie`);
    if (r.url().includes('/demo/token?') || r.url().includes('/demo/publish?')) {
      check(!r.url().includes('key='), `${r.url()} has no key in its URL`);
      check(await r.request().headerValue('x-wsgate-demo-key') === key,
        `${r.url()} carries the key in its header`);
    }
  }
  const cookies = await context.cookies();
  check(cookies.length === 0, `the browser holds no cookie: ${JSON.stringify(cookies)}`);

  // 7. Demo tokens need none of the gateway's own keys: a gateway that accepts HS512 only
  // still mints them, and the page connects with one.
  await page.goto(`${noHs256Base}/?key=${noHs256Key}`, { timeout: stepMs });
  await page.fill('#user', user);
  await page.click('#connect');
  await waitForText('#state', 'open');
  await waitForText('#notice', 'with a demo token for this user');
  const viaHs512Gateway = `to the HS512-only gateway ${Date.now()}`;
  await runPublish(redisUrl, user, viaHs512Gateway);
  await waitForText('#messages', viaHs512Gateway);
  log('a gateway without HS256 mints demo tokens too');

  // The gateways exit 0 on SIGTERM; anything else (a sanitizer report, a crash) fails.
  await withTimeout(browser.close(), 5_000, 'closing the browser');
  browser = null;
  for (const child of children.filter((c) => c.name.startsWith('wsgate'))) {
    child.kill('SIGTERM');
    await until(`${child.name} to exit on SIGTERM`, stepMs, () => child.exitCode !== null ||
      child.signalCode !== null);
    check(child.exitCode === 0, `${child.name} exited with ${child.exitCode ?? child.signalCode}`);
  }
}

const overall = setTimeout(async () => {
  console.error(`FAIL: the test did not finish within ${overallMs / 1000} s`);
  await stopAll();
  process.exit(1);
}, overallMs);

try {
  await main();
  log('PASS');
  clearTimeout(overall);
  await stopAll();
  process.exit(0);
} catch (e) {
  clearTimeout(overall);
  console.error(`FAIL: ${e.message}`);
  if (page) {
    const shot = path.join(artifacts, 'demo-failure.png');
    await withTimeout(page.screenshot({ path: shot, fullPage: true }), 5_000, 'screenshot')
      .then(() => console.error(`screenshot of the failure: ${shot}`)).catch(() => {});
  }
  for (const child of children) console.error(`--- ${child.name} output ---\n${child.output}`);
  await stopAll();
  process.exit(1);
}
