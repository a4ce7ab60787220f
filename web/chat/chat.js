/* messenger web chat: a small client written against the public API only (API.md), so it
 * also shows how to use it.
 *
 *   REST    GET  /api/conversations/user/{me}           conversation list (recent first, unread_count)
 *           GET  /api/messages/conversation/{id}?cursor  a conversation, newest first, older by cursor
 *           POST /api/messages/  + Idempotency-Key       send; a retry with the same key never duplicates
 *           POST /api/conversations/{id}/read | /typing  read receipts, typing indicator
 *   Live    EventSource GET /api/events                  message / read / typing / reset events; the
 *           browser resumes with Last-Event-ID, and after a hard failure we reconnect with
 *           ?last_event_id; `reset` re-reads everything over REST. Without an event stream the
 *           client polls.
 *
 * Query parameters: ?user=N logs in as N (auth off), ?peer=M opens the conversation with M,
 * ?api=ORIGIN talks to an API on another origin (CORS). Auth is detected: a 401 without a token
 * shows the token box. */
'use strict';

(() => {
  const params = new URLSearchParams(location.search);
  const API = (params.get('api') || '').replace(/\/+$/, '');
  const PAGE = 30; /* messages per request */
  const LIST_PAGE = 50; /* conversations per request */
  const POLL_MS = 3000; /* refresh interval when there is no event stream */
  const TYPING_SEND_MS = 2500; /* at most one typing POST per this interval */
  const TYPING_SHOW_MS = 4000; /* how long "is typing" stays after the last typing event */
  const SEND_GIVE_UP_MS = 60000; /* a send retries this long while the server is unreachable */

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  const state = {
    me: null,
    token: null,
    authOn: false,
    conversations: new Map(), /* id -> Conversation (API shape) */
    listCursor: null,
    listLoading: false,
    open: null, /* {id, peer, byId: Map, cursor, loadingOlder} ; id null = draft (no message yet) */
    pending: new Map(), /* Idempotency-Key -> {key, peer, content, status, error} */
    peerRead: new Map(), /* conversation id -> the other participant's last_read_message_id */
    myRead: new Map(), /* conversation id -> my last_read_message_id */
    counted: new Set(), /* ids of messages already added to a local unread_count */
    es: null,
    lastEventId: null,
    liveSeen: false,
    reconnectTimer: null,
    reconnectDelay: 1000,
    pollTimer: null,
    listRefreshTimer: null,
    typingTimer: null,
    typingSentAt: 0,
    readSupported: true,
    typingSupported: true,
  };

  /* ---- talking to the API ------------------------------------------------------------- */

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }
  class NetworkError extends Error {}

  function describe(data, status) {
    const d = data && data.detail;
    if (typeof d === 'string') return d;
    if (Array.isArray(d)) return d.map((e) => `${(e.loc || []).join('.')}: ${e.msg}`).join('; ');
    return `HTTP ${status}`;
  }

  async function api(method, path, { body, headers, timeoutMs = 15000, token = state.token } = {}) {
    const h = Object.assign({}, headers);
    if (body !== undefined) h['Content-Type'] = 'application/json';
    if (token) h.Authorization = `Bearer ${token}`;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeoutMs);
    let r;
    let text;
    try {
      r = await fetch(API + path, {
        method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: ctl.signal,
      });
      text = await r.text();
    } catch (e) {
      showUnreachable();
      throw new NetworkError(`cannot reach the server (${e.name === 'AbortError' ? 'timeout' : e.message})`);
    } finally {
      clearTimeout(timer);
    }
    clearUnreachable();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if (!r.ok) {
      const err = new ApiError(r.status, describe(data, r.status));
      if (r.status === 401 && state.me !== null && state.token) {
        err.handled = true; /* back to the token box, with its own message */
        tokenRefused();
      }
      throw err;
    }
    return data;
  }

  /* ---- errors ------------------------------------------------------------------------- */

  let errorKind = null;
  let errorTimer = null;
  function showError(text, kind = 'api') {
    const b = $('error');
    b.textContent = text;
    b.dataset.kind = kind;
    b.hidden = false;
    errorKind = kind;
    clearTimeout(errorTimer);
    if (kind === 'api') errorTimer = setTimeout(hideError, 8000);
  }
  function hideError() {
    $('error').hidden = true;
    errorKind = null;
  }
  function showUnreachable() {
    showError(`Cannot reach the server${API ? ` at ${API}` : ''}. Retrying…`, 'network');
  }
  function clearUnreachable() {
    if (errorKind === 'network') hideError();
  }
  function reportError(e, what) {
    if (e instanceof NetworkError || e.handled) return; /* the banner already says so */
    showError(`${what}: ${e.message}`);
  }

  /* ---- login -------------------------------------------------------------------------- */

  function validUserId(v) {
    const n = Number(v);
    return Number.isSafeInteger(n) && n >= 1 ? n : null;
  }

  function tokenSubject(token) {
    try {
      const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const claims = JSON.parse(atob(part + '='.repeat((4 - (part.length % 4)) % 4)));
      return validUserId(claims.sub);
    } catch (e) {
      return null;
    }
  }

  async function detectAuth() {
    const status = $('login-status');
    for (let attempt = 0; ; attempt++) {
      try {
        await api('GET', '/api/conversations/user/1?limit=1', { token: null });
        return false;
      } catch (e) {
        if (e instanceof ApiError) return e.status === 401;
        status.textContent = 'Cannot reach the server. Retrying…';
        await sleep(Math.min(1000 * (attempt + 1), 5000));
      }
    }
  }

  function showLogin() {
    $('app').hidden = true;
    $('login').hidden = false;
    $('user-form').hidden = state.authOn;
    $('token-form').hidden = !state.authOn;
    $('login-status').textContent = '';
    const quick = $('quick-users');
    quick.replaceChildren();
    for (let i = 1; i <= 10; i++) {
      const b = el('button', '', `User ${i}`);
      b.type = 'button';
      b.dataset.user = String(i);
      b.addEventListener('click', () => login(i, null));
      quick.append(b);
    }
  }

  /* The other participants' read marks come only from `read` events (the REST API tells a user
   * their own mark only): the tab keeps them, so "Seen" survives a reload. */
  const PEER_READ_KEPT = 500;
  const peerReadKey = () => `messenger.peerRead.${state.me}`;

  function restorePeerRead() {
    state.peerRead.clear();
    try {
      const saved = JSON.parse(sessionStorage.getItem(peerReadKey()) || '[]');
      if (Array.isArray(saved))
        for (const [conv, mark] of saved)
          if (Number.isSafeInteger(conv) && Number.isSafeInteger(mark)) state.peerRead.set(conv, mark);
    } catch (e) {
      sessionStorage.removeItem(peerReadKey());
    }
  }

  function savePeerRead() {
    const entries = [...state.peerRead.entries()].slice(-PEER_READ_KEPT);
    try {
      sessionStorage.setItem(peerReadKey(), JSON.stringify(entries));
    } catch (e) {
      /* storage full or disabled: "Seen" then lasts until the reload */
    }
  }

  function login(me, token) {
    state.me = me;
    state.token = token;
    restorePeerRead();
    sessionStorage.setItem('messenger.me', String(me));
    if (token) sessionStorage.setItem('messenger.token', token);
    else sessionStorage.removeItem('messenger.token');
    $('login').hidden = true;
    $('app').hidden = false;
    $('me').textContent = `User ${me}`;
    document.title = `User ${me} · messenger chat`;
    loadConversations(true);
    connectEvents();
  }

  function logout() {
    sessionStorage.removeItem('messenger.me');
    sessionStorage.removeItem('messenger.token');
    closeEvents();
    stopPolling();
    state.me = null;
    state.token = null;
    state.conversations.clear();
    state.open = null;
    state.pending.clear();
    state.lastEventId = null;
    $('conversations').replaceChildren();
    $('messages').replaceChildren();
    $('composer').hidden = true;
    $('peer').textContent = 'Pick a conversation';
    showLogin();
  }

  function tokenRefused() {
    logout();
    showError('The server refused the token (expired or not valid). Paste a new one.');
  }

  /* ---- conversation list -------------------------------------------------------------- */

  const peerOf = (c) => (c.user1_id === state.me ? c.user2_id : c.user1_id);

  function timeLabel(iso) {
    const d = new Date(iso);
    const now = new Date();
    if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
  }

  async function loadConversations(first) {
    if (state.listLoading || state.me === null) return;
    if (!first && !state.listCursor) return;
    state.listLoading = true;
    const me = state.me;
    try {
      const q = `limit=${LIST_PAGE}${first ? '' : `&cursor=${encodeURIComponent(state.listCursor)}`}`;
      const page = await api('GET', `/api/conversations/user/${me}?${q}`);
      if (state.me !== me) return;
      for (const c of page.data) {
        state.conversations.set(c.id, c);
        if (c.last_read_message_id !== undefined && c.last_read_message_id !== null)
          state.myRead.set(c.id, Math.max(state.myRead.get(c.id) || 0, c.last_read_message_id));
      }
      state.listCursor = page.next_cursor;
      renderConversations();
      openRequestedPeer();
    } catch (e) {
      reportError(e, 'Loading conversations failed');
    } finally {
      state.listLoading = false;
    }
  }

  /* ?peer=M: open the conversation with M once the list is known (a draft if there is none). */
  let requestedPeer = validUserId(params.get('peer'));
  function openRequestedPeer() {
    if (requestedPeer === null || requestedPeer === state.me) return;
    const peer = requestedPeer;
    requestedPeer = null;
    const existing = [...state.conversations.values()].find((c) => peerOf(c) === peer);
    openConversation(existing ? existing.id : null, peer);
  }

  function scheduleListRefresh(ms = 400) {
    clearTimeout(state.listRefreshTimer);
    state.listRefreshTimer = setTimeout(() => loadConversations(true), ms);
  }

  function renderConversations() {
    const list = $('conversations');
    const items = [...state.conversations.values()].sort((a, b) =>
      a.last_message_at === b.last_message_at ? b.id - a.id : a.last_message_at < b.last_message_at ? 1 : -1,
    );
    list.replaceChildren(
      ...items.map((c) => {
        const li = el('li');
        const peer = peerOf(c);
        li.dataset.conversationId = String(c.id);
        li.dataset.peer = String(peer);
        const unread = state.open && state.open.id === c.id && document.visibilityState === 'visible' ? 0 : c.unread_count || 0;
        if (state.open && state.open.id === c.id) li.classList.add('active');
        if (unread > 0) li.classList.add('unread');
        li.append(el('span', 'name', `User ${peer}`), el('span', 'when', timeLabel(c.last_message_at)));
        li.append(el('span', 'preview', c.last_message_content));
        if (unread > 0) li.append(el('span', 'badge', String(unread)));
        li.addEventListener('click', () => openConversation(c.id, peer));
        return li;
      }),
    );
    $('no-conversations').hidden = items.length > 0;
  }

  /* ---- one conversation --------------------------------------------------------------- */

  const scroller = () => $('scroller');
  const nearBottom = () => {
    const s = scroller();
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  };
  const scrollToBottom = () => {
    const s = scroller();
    s.scrollTop = s.scrollHeight;
  };

  async function openConversation(id, peer) {
    state.open = { id, peer, byId: new Map(), cursor: null, loadingOlder: false, done: id === null };
    $('peer').textContent = `User ${peer}`;
    $('composer').hidden = false;
    $('typing').textContent = '';
    $('history-status').textContent = id === null ? 'No messages yet: say hello.' : 'Loading…';
    renderMessages();
    renderConversations();
    $('text').focus();
    if (id !== null) await loadPage(state.open, true);
  }

  /* Newest page (first) or the page before the oldest loaded message (older). */
  async function loadPage(conv, first) {
    if (!first && (conv.done || conv.loadingOlder)) return;
    conv.loadingOlder = true;
    const q = `limit=${PAGE}${first ? '' : `&cursor=${encodeURIComponent(conv.cursor)}`}`;
    try {
      const page = await api('GET', `/api/messages/conversation/${conv.id}?${q}`);
      if (state.open !== conv) return;
      const before = scroller().scrollHeight - scroller().scrollTop;
      for (const m of page.data) conv.byId.set(m.id, m);
      conv.cursor = page.next_cursor;
      conv.done = !page.next_cursor;
      renderMessages();
      if (first) scrollToBottom();
      else scroller().scrollTop = scroller().scrollHeight - before;
      $('history-status').textContent = conv.done ? (conv.byId.size ? 'Beginning of the conversation' : '') : '';
      if (first) markRead();
    } catch (e) {
      if (state.open === conv) $('history-status').textContent = 'Could not load messages.';
      reportError(e, 'Loading messages failed');
    } finally {
      conv.loadingOlder = false;
    }
    /* Fill the view: without a scrollbar there is no scroll event to load older messages. */
    if (state.open === conv && !conv.done && scroller().scrollHeight <= scroller().clientHeight + 10)
      loadPage(conv, false);
  }

  function renderMessages() {
    const list = $('messages');
    const conv = state.open;
    if (!conv) {
      list.replaceChildren();
      return;
    }
    const msgs = [...conv.byId.values()].sort((a, b) => a.id - b.id);
    const seenMark = conv.id !== null ? state.peerRead.get(conv.id) : undefined;
    let seenId = null;
    if (seenMark !== undefined)
      for (const m of msgs) if (m.sender_id === state.me && m.id <= seenMark) seenId = m.id;
    const items = msgs.map((m) => {
      const li = el('li', m.sender_id === state.me ? 'mine' : 'theirs');
      li.dataset.messageId = String(m.id);
      li.append(el('span', 'content', m.content));
      li.append(el('span', 'meta', timeLabel(m.created_at)));
      if (m.id === seenId) li.append(el('span', 'seen', 'Seen'));
      return li;
    });
    for (const p of state.pending.values()) {
      if (p.peer !== conv.peer || (p.echo && p.status !== 'failed')) continue;
      const li = el('li', `mine ${p.status}`);
      li.dataset.pendingKey = p.key;
      li.append(el('span', 'content', p.content));
      const meta = el('span', 'meta', p.status === 'failed' ? `Not sent: ${p.error} ` : 'Sending…');
      if (p.status === 'failed') {
        const retry = el('button', 'link retry', 'Retry');
        retry.type = 'button';
        retry.addEventListener('click', () => deliver(p));
        meta.append(retry);
      }
      li.append(meta);
      items.push(li);
    }
    list.replaceChildren(...items);
  }

  /* A message from the API or an event; returns true when it was new here. */
  function addMessage(m) {
    const conv = state.open;
    if (m.sender_id === state.me) {
      /* Our own message came back on the event stream before the POST's answer (which may
       * have been lost: the retry will get the same message). Hide its pending copy. */
      for (const p of state.pending.values())
        if (!p.echo && p.peer === m.receiver_id && p.content === m.content) {
          p.echo = m.id;
          break;
        }
    }
    let shown = false;
    if (conv && conv.id === null && (m.sender_id === conv.peer || m.receiver_id === conv.peer)) {
      conv.id = m.conversation_id; /* the draft's first message created the conversation */
      conv.done = true;
      $('history-status').textContent = '';
    }
    if (conv && conv.id === m.conversation_id && !conv.byId.has(m.id)) {
      const stick = nearBottom() || m.sender_id === state.me;
      conv.byId.set(m.id, m);
      renderMessages();
      if (stick) scrollToBottom();
      shown = true;
      if (m.sender_id !== state.me) {
        clearTyping();
        markRead();
      }
    }
    const c = state.conversations.get(m.conversation_id);
    if (!c) {
      scheduleListRefresh(0); /* a new conversation: its details come from the server */
      return shown;
    }
    if (m.created_at >= c.last_message_at) {
      c.last_message_at = m.created_at;
      c.last_message_content = m.content;
    }
    /* Count it at once; the list refresh below brings the server's exact count. */
    const isOpen = conv && conv.id === m.conversation_id;
    if (m.receiver_id === state.me && !isOpen && c.unread_count !== undefined && !state.counted.has(m.id)) {
      state.counted.add(m.id);
      c.unread_count += 1;
    }
    renderConversations();
    scheduleListRefresh();
    return shown;
  }

  async function markRead() {
    const conv = state.open;
    if (!conv || conv.id === null || !state.readSupported || document.visibilityState !== 'visible') return;
    let newest = 0;
    let newestTheirs = 0;
    for (const m of conv.byId.values()) {
      newest = Math.max(newest, m.id);
      if (m.sender_id !== state.me) newestTheirs = Math.max(newestTheirs, m.id);
    }
    if (!newestTheirs || newestTheirs <= (state.myRead.get(conv.id) || 0)) return;
    state.myRead.set(conv.id, newest);
    try {
      const r = await api('POST', `/api/conversations/${conv.id}/read`, {
        body: { user_id: state.me, message_id: newest },
      });
      state.myRead.set(conv.id, Math.max(state.myRead.get(conv.id) || 0, r.last_read_message_id));
      const c = state.conversations.get(conv.id);
      if (c && c.unread_count !== undefined) c.unread_count = 0;
      renderConversations();
      scheduleListRefresh();
    } catch (e) {
      state.myRead.delete(conv.id);
      if (e instanceof ApiError && e.status === 404 && e.message === 'Not Found') state.readSupported = false;
      else reportError(e, 'Marking as read failed');
    }
  }

  /* ---- sending ------------------------------------------------------------------------ */

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  }

  function send(content) {
    const conv = state.open;
    if (!conv || !content.trim()) return;
    const p = { key: newKey(), peer: conv.peer, content, status: 'pending', error: '', echo: null };
    state.pending.set(p.key, p);
    renderMessages();
    scrollToBottom();
    deliver(p);
  }

  /* Sends p with its Idempotency-Key until the server answers: network failures and 503s
   * are retried with the same key (the server stores the message once); other errors are
   * shown with a Retry button, which again uses the same key. */
  async function deliver(p) {
    p.status = 'pending';
    renderMessages();
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const m = await api('POST', '/api/messages/', {
          body: { sender_id: state.me, receiver_id: p.peer, content: p.content },
          headers: { 'Idempotency-Key': p.key },
        });
        state.pending.delete(p.key);
        if (!addMessage(m)) renderMessages();
        return;
      } catch (e) {
        const retryable = e instanceof NetworkError || (e instanceof ApiError && (e.status === 503 || e.status === 429));
        if (!retryable || Date.now() - started > SEND_GIVE_UP_MS) {
          p.status = 'failed';
          p.error = e.message;
          renderMessages();
          return;
        }
        await sleep(Math.min(500 * 2 ** attempt, 4000));
      }
    }
  }

  function typed() {
    const conv = state.open;
    if (!conv || conv.id === null || !state.typingSupported) return;
    const now = Date.now();
    if (now - state.typingSentAt < TYPING_SEND_MS) return;
    state.typingSentAt = now;
    api('POST', `/api/conversations/${conv.id}/typing`, { body: { user_id: state.me } }).catch((e) => {
      if (e instanceof ApiError && e.status === 404 && e.message === 'Not Found') state.typingSupported = false;
    });
  }

  function clearTyping() {
    clearTimeout(state.typingTimer);
    $('typing').textContent = '';
  }

  /* ---- live events -------------------------------------------------------------------- */

  function setStatus(s) {
    const b = $('status');
    b.dataset.state = s;
    b.textContent = s;
  }

  function closeEvents() {
    clearTimeout(state.reconnectTimer);
    if (state.es) state.es.close();
    state.es = null;
  }

  function connectEvents() {
    closeEvents();
    if (state.me === null) return;
    const q = new URLSearchParams();
    if (state.token) q.set('access_token', state.token);
    else q.set('user_id', String(state.me));
    if (state.lastEventId) q.set('last_event_id', state.lastEventId);
    const es = new EventSource(`${API}/api/events?${q}`);
    state.es = es;
    if (!state.liveSeen && !state.pollTimer) setStatus('connecting');
    es.onopen = () => {
      state.liveSeen = true;
      state.reconnectDelay = 1000;
      setStatus('live');
      stopPolling();
    };
    es.onerror = () => {
      if (state.es !== es) return;
      if (es.readyState === EventSource.CLOSED) {
        /* refused (no event stream, 401, ...) or failed: poll, and try again later with the
         * last event id so that nothing is missed */
        startPolling();
        setStatus(state.liveSeen ? 'offline' : 'polling');
        state.reconnectTimer = setTimeout(connectEvents, state.reconnectDelay);
        state.reconnectDelay = Math.min(state.reconnectDelay * 2, 15000);
      } else {
        setStatus('connecting'); /* the browser reconnects by itself, with Last-Event-ID */
        api('GET', '/health').catch(() => {}); /* shows the banner when the server is gone */
      }
    };
    const handle = (fn) => (e) => {
      if (state.es !== es) return;
      let ev;
      try {
        ev = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      if (e.lastEventId) state.lastEventId = e.lastEventId;
      else if (ev.id) state.lastEventId = String(ev.id);
      fn(ev);
    };
    es.addEventListener('message', handle((ev) => ev.message && addMessage(ev.message)));
    es.addEventListener('read', handle(onRead));
    es.addEventListener('typing', handle(onTyping));
    es.addEventListener('reset', handle(resync));
  }

  function onRead(ev) {
    if (ev.user_id === state.me) {
      state.myRead.set(ev.conversation_id, Math.max(state.myRead.get(ev.conversation_id) || 0, ev.last_read_message_id));
      const c = state.conversations.get(ev.conversation_id);
      if (c && c.unread_count !== undefined) scheduleListRefresh(0); /* read on another device */
      return;
    }
    const prev = state.peerRead.get(ev.conversation_id) || 0;
    state.peerRead.delete(ev.conversation_id); /* re-inserted: the newest marks are the ones kept */
    state.peerRead.set(ev.conversation_id, Math.max(prev, ev.last_read_message_id));
    savePeerRead();
    if (state.open && state.open.id === ev.conversation_id) renderMessages();
  }

  function onTyping(ev) {
    if (ev.user_id === state.me || !state.open || state.open.id !== ev.conversation_id) return;
    $('typing').textContent = `User ${ev.user_id} is typing…`;
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(clearTyping, TYPING_SHOW_MS);
  }

  /* `reset` (our last event id is too old for the server) or a gap: re-read over REST. */
  function resync() {
    loadConversations(true);
    if (state.open && state.open.id !== null) openConversation(state.open.id, state.open.peer);
  }

  /* ---- polling, when there is no event stream ----------------------------------------- */

  function startPolling() {
    if (state.pollTimer) return;
    state.pollTimer = setInterval(poll, POLL_MS);
  }
  function stopPolling() {
    clearInterval(state.pollTimer);
    state.pollTimer = null;
  }
  async function poll() {
    loadConversations(true);
    const conv = state.open;
    if (!conv || conv.id === null || conv.loadingOlder) return; /* a page load is merging already */
    try {
      const page = await api('GET', `/api/messages/conversation/${conv.id}?limit=${PAGE}`);
      if (state.open !== conv) return;
      const fresh = page.data.filter((m) => !conv.byId.has(m.id));
      if (fresh.length === page.data.length && page.next_cursor && conv.byId.size) {
        openConversation(conv.id, conv.peer); /* more than a page arrived: start over */
        return;
      }
      for (const m of fresh.reverse()) addMessage(m);
    } catch (e) {
      /* the banner says why */
    }
  }

  /* ---- wiring ------------------------------------------------------------------------- */

  $('user-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const me = validUserId($('user-id').value);
    if (me === null) showError('A user id is an integer from 1 to 2^53-1.');
    else login(me, null);
  });
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('token').value.trim();
    const me = tokenSubject(token);
    if (me === null) showError('That does not look like a token with a user id in "sub".');
    else login(me, token);
  });
  $('logout').addEventListener('click', logout);
  $('new-chat').addEventListener('submit', (e) => {
    e.preventDefault();
    const peer = validUserId($('new-chat-user').value);
    if (peer === null || peer === state.me) {
      showError(peer === state.me ? 'That is you: pick another user.' : 'A user id is an integer from 1 to 2^53-1.');
      return;
    }
    $('new-chat-user').value = '';
    requestedPeer = peer;
    openRequestedPeer();
  });
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const t = $('text');
    const content = t.value;
    t.value = '';
    send(content);
  });
  $('text').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('text').addEventListener('input', typed);
  scroller().addEventListener('scroll', () => {
    if (state.open && state.open.id !== null && scroller().scrollTop < 60) loadPage(state.open, false);
  });
  $('conversations').addEventListener('scroll', () => {
    const l = $('conversations');
    if (l.scrollHeight - l.scrollTop - l.clientHeight < 60) loadConversations(false);
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') markRead();
  });
  /* A dropped network: close the stream at once, resume from the last event id when back. */
  window.addEventListener('offline', () => {
    if (state.me === null) return;
    closeEvents();
    setStatus('offline');
    showUnreachable();
  });
  window.addEventListener('online', () => {
    if (state.me === null) return;
    clearUnreachable();
    connectEvents();
    loadConversations(true);
  });

  (async () => {
    state.authOn = await detectAuth();
    const storedToken = sessionStorage.getItem('messenger.token');
    const fromUrl = validUserId(params.get('user'));
    const stored = validUserId(sessionStorage.getItem('messenger.me'));
    if (state.authOn && storedToken && tokenSubject(storedToken) !== null) login(tokenSubject(storedToken), storedToken);
    else if (!state.authOn && (fromUrl || stored)) login(fromUrl || stored, null);
    else showLogin();
  })();
})();
