/* The /chat web client in a real browser (Debian's chromium via playwright-core): two browser
 * contexts are two users chatting. Every wait is on DOM state with a bounded timeout.
 *
 * The live checks that need the event stream, read state or typing (API.md "(ext)" sections
 * being built on other branches) are skipped, with the reason, when the server under test
 * does not offer them; everything else runs on the plain API. */
'use strict';

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const { Server, launch, openPage, openChat, shot, messageTexts, newUser, until, T } = require('./harness');

let server;
let browser;
let features;

before(async () => {
  server = await new Server('chat').start();
  browser = await launch();
  features = await server.features();
  console.log(`# server features: ${JSON.stringify(features)}`);
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

const live = () => features.events;
const skipUnless = (t, what, ok) => {
  if (!ok) t.skip(`the server has no ${what} (API.md ext; not on this branch yet)`);
  return !ok;
};

async function openPeer(page, peer) {
  await page.fill('#new-chat-user', String(peer));
  await page.click('#new-chat button');
  await page.waitForSelector('#composer:not([hidden])');
  await page.waitForFunction((p) => document.getElementById('peer').textContent === `User ${p}`, peer);
}

async function type(page, text) {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

/* Runs fn(page, context) in a fresh browser context logged in as `user`, closed afterwards. */
async function asUser(user, query, fn) {
  const { context, page } = await openChat(browser, server, user, { query });
  try {
    await fn(page, context);
  } finally {
    await context.close();
  }
}

/* Runs fn(alicePage, bobPage) with two browser contexts, one per user, closed afterwards. */
async function asTwoUsers([alice, queryA], [bob, queryB], fn) {
  const a = await openChat(browser, server, alice, { query: queryA });
  const b = await openChat(browser, server, bob, { query: queryB });
  try {
    await fn(a.page, b.page);
  } finally {
    await a.context.close();
    await b.context.close();
  }
}

/* How many messages the server holds in the one conversation of `user` (REST, not the page). */
async function storedMessages(user) {
  const conv = await server.call('GET', `/api/conversations/user/${user}`);
  assert.equal(conv.body.total, 1);
  const msgs = await server.call('GET', `/api/messages/conversation/${conv.body.data[0].id}`);
  return msgs.body.total;
}

const waitForMessage = (page, text) =>
  page.waitForFunction(
    (t) => [...document.querySelectorAll('#messages li[data-message-id] .content')].some((e) => e.textContent === t),
    text,
  );

describe('chat', { timeout: T(180000) }, () => {
  test('login with the user picker, start a conversation, send', async () => {
    const { context, page } = await openPage(browser, `${server.url}/chat`);
    await page.waitForSelector('#user-form:not([hidden])');
    assert.equal(await page.isHidden('#token-form'), true, 'auth is off: no token box');
    const me = newUser();
    const peer = newUser();
    await page.fill('#user-id', String(me));
    await page.click('#login-btn');
    await page.waitForSelector('#app:not([hidden])');
    assert.equal(await page.textContent('#me'), `User ${me}`);
    await openPeer(page, peer);
    await type(page, 'hello from the browser');
    await waitForMessage(page, 'hello from the browser');
    const li = await page.waitForSelector(`#conversations li[data-peer="${peer}"]`);
    assert.match(await li.textContent(), /hello from the browser/);
    const list = await server.call('GET', `/api/conversations/user/${me}`);
    assert.equal(list.body.total, 1);
    assert.equal(list.body.data[0].last_message_content, 'hello from the browser');
    await shot(page, 'chat-first-message');
    await context.close();
  });

  test('two users: the receiver sees the message without reload, with an unread badge, and Seen', async () => {
    const alice = newUser();
    const bob = newUser();
    await asTwoUsers([alice, ''], [bob, ''], async (pa, pb) => {
      if (live()) await pb.waitForSelector('#status[data-state="live"]', { timeout: T(15000) });
      await openPeer(pa, bob);
      await type(pa, 'hi Bob');
      await waitForMessage(pa, 'hi Bob');
      /* Bob's list shows the new conversation without a reload (live, or by polling) */
      const row = await pb.waitForSelector(`#conversations li[data-peer="${alice}"]`, { timeout: T(15000) });
      assert.match(await row.textContent(), /hi Bob/);
      if (features.unread) {
        await pb.waitForSelector(`#conversations li[data-peer="${alice}"] .badge`, { timeout: T(15000) });
        assert.equal(await pb.textContent(`#conversations li[data-peer="${alice}"] .badge`), '1');
      }
      await shot(pb, 'chat-receiver-unread');
      await row.click();
      await waitForMessage(pb, 'hi Bob');
      if (features.unread)
        await pb.waitForSelector(`#conversations li[data-peer="${alice}"]:not(:has(.badge))`);
      /* Bob replies; Alice sees it live, in order, newest at the bottom */
      await type(pb, 'hello Alice');
      await waitForMessage(pa, 'hello Alice');
      assert.deepEqual(await messageTexts(pa), ['hi Bob', 'hello Alice']);
      if (features.read && live()) {
        /* Alice has the conversation open: she read Bob's reply, and Bob sees "Seen" */
        await pb.waitForSelector('#messages li.mine .seen', { timeout: T(15000) });
      }
      await shot(pa, 'chat-conversation');
      assert.deepEqual(pa.errors, []);
      assert.deepEqual(pb.errors, []);
    });
  });

  test('live: the typing indicator', async (t) => {
    if (skipUnless(t, 'event stream + typing endpoint', live() && features.typing)) return;
    const alice = newUser();
    const bob = newUser();
    await server.send(alice, bob, 'hi');
    await asTwoUsers([alice, `&peer=${bob}`], [bob, `&peer=${alice}`], async (pa, pb) => {
      await pa.waitForSelector('#status[data-state="live"]');
      await pb.waitForSelector('#status[data-state="live"]');
      await waitForMessage(pb, 'hi');
      assert.equal(await pb.textContent('#typing'), '');
      await pa.type('#text', 'typing some', { delay: 20 });
      await pb.waitForFunction((u) => document.getElementById('typing').textContent === `User ${u} is typing…`, alice);
      await shot(pb, 'chat-typing');
      await pa.press('#text', 'Enter');
      await waitForMessage(pb, 'typing some');
      assert.equal(await pb.textContent('#typing'), '', 'the indicator goes when the message arrives');
    });
  });

  test('live: "Seen" after the receiver opens the conversation', async (t) => {
    if (skipUnless(t, 'event stream + read endpoint', live() && features.read)) return;
    const alice = newUser();
    const bob = newUser();
    await asTwoUsers([alice, `&peer=${bob}`], [bob, ''], async (pa, pb) => {
      await pa.waitForSelector('#status[data-state="live"]');
      await pb.waitForSelector('#status[data-state="live"]');
      await type(pa, 'did you see this?');
      await waitForMessage(pa, 'did you see this?');
      await pb.waitForSelector(`#conversations li[data-peer="${alice}"] .badge`);
      assert.equal(await pa.$('#messages li.mine .seen'), null, 'not seen before Bob opens it');
      await pb.click(`#conversations li[data-peer="${alice}"]`);
      await pa.waitForSelector('#messages li.mine .seen');
      assert.equal(await pa.textContent('#messages li.mine .seen'), 'Seen');
      await shot(pa, 'chat-seen');
      await pa.reload(); /* the mark came from an event: the tab keeps it */
      await pa.waitForSelector('#app:not([hidden])');
      await pa.click(`#conversations li[data-peer="${bob}"]`);
      await waitForMessage(pa, 'did you see this?');
      await pa.waitForSelector('#messages li.mine .seen');
    });
  });

  test('reload keeps the history, newest at the bottom', async () => {
    const alice = newUser();
    const bob = newUser();
    for (let i = 1; i <= 5; i++) await server.send(i % 2 ? alice : bob, i % 2 ? bob : alice, `message ${i}`);
    await asUser(alice, `&peer=${bob}`, async (page) => {
      await waitForMessage(page, 'message 5');
      const want = ['message 1', 'message 2', 'message 3', 'message 4', 'message 5'];
      assert.deepEqual(await messageTexts(page), want);
      await type(page, 'message 6');
      await waitForMessage(page, 'message 6');
      await page.reload();
      await page.waitForSelector('#app:not([hidden])');
      await page.click(`#conversations li[data-peer="${bob}"]`);
      await waitForMessage(page, 'message 6');
      assert.deepEqual(await messageTexts(page), [...want, 'message 6']);
      assert.equal(await page.textContent('#me'), `User ${alice}`, 'the tab stays logged in');
      const mine = await page.$$eval('#messages li', (els) => els.map((e) => e.classList.contains('mine')));
      assert.deepEqual(mine, [true, false, true, false, true, true]);
    });
  });

  test('older messages load by cursor when scrolling up', async () => {
    const alice = newUser();
    const bob = newUser();
    const total = 75;
    for (let i = 1; i <= total; i++) await server.send(alice, bob, `m${i}`);
    await asUser(bob, `&peer=${alice}`, async (page) => {
      const cursorRequests = [];
      page.on('request', (r) => {
        if (/\/api\/messages\/conversation\/\d+\?.*cursor=/.test(r.url())) cursorRequests.push(r.url());
      });
      await waitForMessage(page, `m${total}`);
      const first = await messageTexts(page);
      assert.ok(first.length < total, 'the first page is not everything');
      assert.equal(first[first.length - 1], `m${total}`, 'newest at the bottom');
      const atBottom = await page.$eval('#scroller', (s) => s.scrollHeight - s.scrollTop - s.clientHeight < 5);
      assert.ok(atBottom, 'opens scrolled to the newest message');
      /* the user keeps scrolling up until the beginning (each scroll to the top loads a page) */
      await page.waitForFunction(
        (want) => {
          const s = document.getElementById('scroller');
          if (s.scrollTop > 0) s.scrollTop = 0;
          const n = document.querySelectorAll('#messages li[data-message-id]').length;
          return n >= want && /Beginning/.test(document.getElementById('history-status').textContent);
        },
        total,
        { polling: 250, timeout: T(30000) },
      );
      assert.ok(cursorRequests.length >= 2, `older pages came by cursor (${cursorRequests.length} requests)`);
      const all = await messageTexts(page);
      assert.deepEqual(all, Array.from({ length: total }, (_, i) => `m${i + 1}`), 'every message once, in order');
      await shot(page, 'chat-history');
    });
  });

  test('a retried send never duplicates (Idempotency-Key)', async () => {
    const alice = newUser();
    const bob = newUser();
    await asUser(alice, `&peer=${bob}`, async (page) => {
      const keys = [];
      let dropped = false;
      await page.route('**/api/messages/', async (route) => {
        keys.push(route.request().headers()['idempotency-key']);
        if (!dropped) {
          /* the server stores it, but the answer is lost on the way back */
          dropped = true;
          await route.fetch();
          await route.abort('connectionreset');
          return;
        }
        await route.continue();
      });
      let answered = 0;
      page.on('response', (r) => {
        if (r.url().endsWith('/api/messages/') && r.status() === 201) answered++;
      });
      await type(page, 'exactly once');
      await waitForMessage(page, 'exactly once');
      /* (with the event stream the message shows before the retry: wait for the retry's answer) */
      await until(() => answered === 1, 15000, 'the retry to be answered');
      await page.waitForSelector('#messages li[data-pending-key]', { state: 'detached' });
      assert.ok(keys.length >= 2, 'the client retried');
      assert.ok(keys[0] && keys.every((k) => k === keys[0]), `same key on every attempt: ${keys}`);
      assert.equal(await storedMessages(alice), 1, 'stored once');
      assert.deepEqual(await messageTexts(page), ['exactly once']);
    });
  });

  test('server unreachable: a clear error, and the send goes through once it is back', async () => {
    const alice = newUser();
    const bob = newUser();
    await asUser(alice, `&peer=${bob}`, async (page, context) => {
      await page.waitForSelector('#composer:not([hidden])');
      await context.setOffline(true);
      await type(page, 'sent while offline');
      await page.waitForSelector('#error:not([hidden])');
      assert.match(await page.textContent('#error'), /Cannot reach the server/);
      assert.equal(await page.textContent('#messages li.pending .meta'), 'Sending…');
      await shot(page, 'chat-offline');
      await context.setOffline(false);
      await waitForMessage(page, 'sent while offline');
      await page.waitForSelector('#error', { state: 'hidden' });
      assert.deepEqual(await messageTexts(page), ['sent while offline']);
      assert.equal(await storedMessages(alice), 1, 'stored once');
    });
  });

  test('a network drop and reconnect loses nothing', async () => {
    const alice = newUser();
    const bob = newUser();
    const first = await server.send(alice, bob, 'before the drop');
    await asUser(bob, `&peer=${alice}`, async (page, context) => {
      await waitForMessage(page, 'before the drop');
      if (live()) await page.waitForSelector('#status[data-state="live"]');
      const streams = [];
      page.on('request', (r) => {
        if (r.url().includes('/api/events')) streams.push(r.url());
      });
      await context.setOffline(true);
      await page.waitForSelector('#status[data-state="offline"]');
      const sent = ['during the drop 1', 'during the drop 2', 'during the drop 3'];
      for (const text of sent) await server.send(alice, bob, text);
      await context.setOffline(false);
      for (const text of sent) await waitForMessage(page, text);
      await server.send(alice, bob, 'after the drop');
      await waitForMessage(page, 'after the drop');
      if (live()) {
        await page.waitForSelector('#status[data-state="live"]');
        assert.ok(streams.some((u) => /[?&]last_event_id=/.test(u)), `the stream resumed from its last id: ${streams}`);
      }
      assert.deepEqual(await messageTexts(page), ['before the drop', ...sent, 'after the drop'], 'each once, in order');
      assert.ok(first.id > 0);
    });
  });

  test('a server restart (its event log starts over): the client reconnects, re-reads, loses nothing', async () => {
    const alice = newUser();
    const bob = newUser();
    await server.send(alice, bob, 'before the restart');
    await asUser(bob, `&peer=${alice}`, async (page) => {
      await waitForMessage(page, 'before the restart');
      if (live()) await page.waitForSelector('#status[data-state="live"]');
      let rereads = 0;
      page.on('request', (r) => {
        if (/\/api\/messages\/conversation\/\d+\?limit=/.test(r.url()) && !r.url().includes('cursor=')) rereads++;
      });
      await server.restart(); /* the in-process event log starts over: the old event ids are unknown */
      await server.send(alice, bob, 'after the restart');
      await waitForMessage(page, 'after the restart');
      await page.waitForSelector('#error', { state: 'hidden' });
      if (live()) await page.waitForSelector('#status[data-state="live"]');
      await server.send(alice, bob, 'live again');
      await waitForMessage(page, 'live again');
      assert.deepEqual(await messageTexts(page), ['before the restart', 'after the restart', 'live again']);
      if (live()) assert.ok(rereads >= 1, 'the client re-read over REST (on reset, or while polling)');
    });
  });

  test('a page on another origin uses the API through CORS', async () => {
    /* the page comes from 127.0.0.1, the API is called on localhost: another origin */
    const alice = newUser();
    const bob = newUser();
    await server.send(bob, alice, 'across origins');
    const apiOrigin = `http://localhost:${server.port}`;
    await asUser(alice, `&peer=${bob}&api=${encodeURIComponent(apiOrigin)}`, async (page) => {
      const hosts = new Set();
      page.on('request', (r) => {
        if (r.url().includes('/api/')) hosts.add(new URL(r.url()).host);
      });
      await waitForMessage(page, 'across origins');
      await type(page, 'reply across origins');
      await waitForMessage(page, 'reply across origins');
      assert.deepEqual([...hosts], [`localhost:${server.port}`], 'every API call went to the other origin');
      assert.deepEqual(page.errors, []);
    });
  });
});
