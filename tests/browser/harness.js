/* Browser-test harness: one real `messenger serve` per test file on a free loopback port with
 * a throwaway SQLite database and the chat client from web/chat, Debian's chromium through
 * playwright-core (never a downloaded browser), a small REST client for setting up data, and
 * screenshots under build/browser/.
 *
 * Environment: MESSENGER_BIN (default build/asan/messenger), CHROMIUM (default
 * /usr/bin/chromium), MESSENGER_TEST_TIME_FACTOR (multiplies every timeout). */
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = process.env.MESSENGER_BIN || path.join(ROOT, 'build', 'asan', 'messenger');
const CHAT_DIR = path.join(ROOT, 'web', 'chat');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'build', 'browser');
const FACTOR = Number(process.env.MESSENGER_TEST_TIME_FACTOR || 1);
const T = (ms) => Math.round(ms * FACTOR);
const SANITIZER_MARKERS = ['AddressSanitizer', 'LeakSanitizer', 'runtime error', 'UndefinedBehaviorSanitizer'];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Polls cond() (test-side state, not the DOM) until true, or throws after ms. */
async function until(cond, ms, what) {
  const deadline = Date.now() + T(ms);
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

class Server {
  constructor(name, env = {}) {
    this.name = name;
    this.env = env;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `messenger-browser-${name}-`));
    this.stderrPath = path.join(this.dir, 'stderr.log');
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /* port: reuse that one (a restart); otherwise a free one, retried if taken meanwhile. */
  async start(port = null) {
    let lastError = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      this.port = port || (await freePort());
      const err = fs.openSync(this.stderrPath, 'w');
      const env = Object.assign({}, process.env, { MESSENGER_QUIET: '1' }, this.env);
      for (const k of ['PORT', 'HOST', 'MESSENGER_DB', 'MESSENGER_STORE']) delete env[k];
      this.proc = spawn(
        BIN,
        ['serve', '--host', '127.0.0.1', '--port', String(this.port), '--db', path.join(this.dir, 'db'), '--chat-dir', CHAT_DIR],
        { env, stdio: ['ignore', 'ignore', err] },
      );
      fs.closeSync(err);
      this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
      const deadline = Date.now() + T(30000);
      let exitedEarly = false;
      this.proc.once('exit', () => {
        exitedEarly = true;
      });
      while (Date.now() < deadline && !exitedEarly) {
        try {
          const r = await fetch(`${this.url}/health`);
          if (r.status === 200) return this;
          lastError = `GET /health -> ${r.status}`;
        } catch (e) {
          lastError = String(e);
        }
        await sleep(50);
      }
      if (!exitedEarly) this.proc.kill('SIGKILL');
      await this.exited;
    }
    throw new Error(`server did not start: ${lastError}\n${this.stderr()}`);
  }

  stderr() {
    try {
      return fs.readFileSync(this.stderrPath, 'utf8');
    } catch (e) {
      return '';
    }
  }

  /* Stops (as stop) and starts again on the same port with the same database. */
  async restart() {
    await this.stop({ keepFiles: true });
    return this.start(this.port);
  }

  /* SIGTERM; it must exit 0 in time and with no sanitizer report. */
  async stop({ keepFiles = false } = {}) {
    if (!this.proc) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), T(30000));
    const { code, signal } = await this.exited;
    clearTimeout(timer);
    this.proc = null;
    const log = this.stderr();
    const found = SANITIZER_MARKERS.filter((m) => log.includes(m));
    if (!keepFiles) fs.rmSync(this.dir, { recursive: true, force: true });
    if (found.length) throw new Error(`sanitizer report (${found}) from the server:\n${log.slice(-8000)}`);
    if (code !== 0) throw new Error(`server exited with ${code ?? signal} after SIGTERM:\n${log.slice(-4000)}`);
  }

  /* REST shortcuts for setting up data (the browser is what is under test). */
  async call(method, p, body, headers = {}) {
    const h = Object.assign({}, headers);
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const r = await fetch(this.url + p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }

  async send(sender, receiver, content) {
    const r = await this.call('POST', '/api/messages/', { sender_id: sender, receiver_id: receiver, content });
    if (r.status !== 201) throw new Error(`send ${sender}->${receiver}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /* What this server offers beyond main's API: the event stream, read state, typing. */
  async features() {
    const a = newUser();
    const b = newUser();
    const m = await this.send(a, b, 'probe');
    const list = await this.call('GET', `/api/conversations/user/${b}`);
    const typing = await this.call('POST', `/api/conversations/${m.conversation_id}/typing`, { user_id: a });
    const read = await this.call('POST', `/api/conversations/${m.conversation_id}/read`, { user_id: b, message_id: m.id });
    let events = false;
    const ctl = new AbortController();
    try {
      const r = await fetch(`${this.url}/api/events?user_id=${a}`, { headers: { Accept: 'text/event-stream' }, signal: ctl.signal });
      events = r.status === 200 && (r.headers.get('content-type') || '').startsWith('text/event-stream');
    } catch (e) {
      events = false;
    } finally {
      ctl.abort();
    }
    return {
      events,
      unread: list.status === 200 && list.body.data.length === 1 && 'unread_count' in list.body.data[0],
      typing: typing.status === 202,
      read: read.status === 200,
    };
  }
}

let nextUser = 1 + Math.floor(Math.random() * 1e9) * 1000;
const newUser = () => nextUser++;

async function launch() {
  fs.mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: T(60000),
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

/* A fresh browser context on `url` (bounded waits; page.errors collects script errors). */
async function openPage(browser, url, viewport = { width: 1000, height: 640 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(T(15000));
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(url);
  return { context, page };
}

/* A browser context logged in as `user` on the chat page (?user= skips the picker). */
async function openChat(browser, server, user, { query = '' } = {}) {
  const opened = await openPage(browser, `${server.url}/chat?user=${user}${query}`);
  await opened.page.waitForSelector('#app:not([hidden])');
  return opened;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/* The texts of the messages shown, top to bottom (pending ones included). */
function messageTexts(page) {
  return page.$$eval('#messages li .content', (els) => els.map((e) => e.textContent));
}

module.exports = { Server, launch, openPage, openChat, shot, messageTexts, newUser, sleep, until, T, ROOT, SHOTS };
