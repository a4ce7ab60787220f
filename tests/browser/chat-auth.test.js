/* The /chat client with authentication on (API.md "Authentication"): its own server with
 * MESSENGER_JWT_SECRET; the client shows the token box, acts as the token's `sub`, streams
 * with ?access_token, and sends a refused token back to the token box. HS256 tokens are made
 * here with node:crypto. Skipped, with the reason, when the server has no authentication. */
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { after, before, describe, test } = require('node:test');
const { Server, launch, openPage, shot, messageTexts, newUser, T } = require('./harness');

const SECRET = 'browser-test-secret-0123456789abcdef-0123456789';
let server;
let browser;
let authOn = false;
let streamTakesToken = false; /* GET /api/events?access_token= streams (auth + events together) */

const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
function token(sub, ttlS = 3600) {
  const head = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: String(sub), exp: Math.floor(Date.now() / 1000) + ttlS })}`;
  return `${head}.${crypto.createHmac('sha256', SECRET).update(head).digest('base64url')}`;
}

before(async () => {
  server = await new Server('chat-auth', { MESSENGER_JWT_SECRET: SECRET }).start();
  authOn = (await server.call('GET', '/api/conversations/user/1')).status === 401;
  if (authOn) browser = await launch();
  if (authOn) {
    const ctl = new AbortController();
    try {
      const r = await fetch(`${server.url}/api/events?access_token=${token(newUser())}`, {
        headers: { Accept: 'text/event-stream' },
        signal: ctl.signal,
      });
      streamTakesToken = r.status === 200;
    } finally {
      ctl.abort();
    }
    console.log(`# event stream with ?access_token: ${streamTakesToken ? 'yes' : 'no (the client polls)'}`);
  }
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

async function loginWithToken(user, tok = token(user)) {
  const { context, page } = await openPage(browser, `${server.url}/chat`);
  await page.waitForSelector('#token-form:not([hidden])');
  assert.equal(await page.isHidden('#user-form'), true, 'auth is on: no user picker');
  await page.fill('#token', tok);
  await page.click('#token-btn');
  return { context, page };
}

describe('chat with auth on', { timeout: T(120000) }, () => {
  test('token box, live chat between two tokens', async (t) => {
    if (!authOn) return t.skip('the server has no authentication (MESSENGER_JWT_SECRET; not on this branch yet)');
    const alice = newUser();
    const bob = newUser();
    const a = await loginWithToken(alice);
    const b = await loginWithToken(bob);
    try {
      await a.page.waitForSelector('#app:not([hidden])');
      assert.equal(await a.page.textContent('#me'), `User ${alice}`, 'the user is the token\'s sub');
      /* live when the stream takes the token; otherwise the client polls, and still gets it */
      await b.page.waitForSelector(`#status[data-state="${streamTakesToken ? 'live' : 'polling'}"]`);
      await a.page.fill('#new-chat-user', String(bob));
      await a.page.click('#new-chat button');
      await a.page.fill('#text', 'hello with a token');
      await a.page.press('#text', 'Enter');
      await b.page.click(`#conversations li[data-peer="${alice}"]`);
      await b.page.waitForFunction(() => document.querySelectorAll('#messages li[data-message-id]').length === 1);
      assert.deepEqual(await messageTexts(b.page), ['hello with a token']);
      await shot(b.page, 'chat-auth');
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });

  test('a refused token goes back to the token box with an error', async (t) => {
    if (!authOn) return t.skip('the server has no authentication (MESSENGER_JWT_SECRET; not on this branch yet)');
    const a = await loginWithToken(newUser(), token(newUser(), -3600)); /* expired an hour ago */
    try {
      await a.page.waitForSelector('#error:not([hidden])');
      assert.match(await a.page.textContent('#error'), /refused the token/);
      await a.page.waitForSelector('#token-form:not([hidden])');
    } finally {
      await a.context.close();
    }
  });
});
