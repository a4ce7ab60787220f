#include "cql/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cql/errors.h"
#include "cql/frame.h"
#include "cql/streams.h"

typedef enum conn_state {
  CONN_CONNECTING, /* TCP connect */
  CONN_HANDSHAKE,  /* STARTUP / AUTH in flight */
  CONN_READY,      /* takes requests */
  CONN_RETIRING,   /* too many orphans: finishing what is in flight */
  CONN_CLOSED,     /* handles closing; freed when the last one is closed */
} conn_state;

struct cql_conn {
  uv_loop_t *loop;
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  uv_timer_t timer;     /* connect timeout, then request deadlines */
  uv_timer_t heartbeat; /* read-idle heartbeat (one-shot, re-armed) */
  int handles_open;
  conn_state state;
  bool owner_gone; /* on_down called or cql_conn_close: the owner no longer listens */
  cql_conn_settings settings;
  cql_conn_handlers handlers;
  void *ud;
  char address[64];

  cql_streams streams;
  cql_conn_req **pending;      /* by stream id */
  cql_conn_req *thead, *ttail; /* deadline-ordered */

  cql_frame_reader reader;
  bool framed;     /* v5 segments in both directions */
  cql_writer out;  /* envelopes queued, not yet written */
  cql_writer wbuf; /* bytes of the write in progress */
  uv_write_t write_req;
  bool writing;
  uint8_t rbuf[65536];

  uint64_t last_read; /* loop ms of the last frame received (or of becoming ready) */
  cql_conn_req handshake_req;
  cql_conn_req heartbeat_req;
  bool heartbeat_in_flight;
};

static void conn_fail(cql_conn *c, int32_t code, const char *why, const cql_error *server_err);

/* ---- handle lifecycle -------------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h) {
  cql_conn *c = h->data;
  if (--c->handles_open > 0) return;
  cql_frame_reader_free(&c->reader);
  cql_writer_free(&c->out);
  cql_writer_free(&c->wbuf);
  free(c->pending);
  free(c);
}

static void close_handles(cql_conn *c) {
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->heartbeat, on_handle_closed);
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

/* ---- deadlines -------------------------------------------------------------------------- */

static void timer_rearm(cql_conn *c);

static void deadline_remove(cql_conn *c, cql_conn_req *r) {
  if (r->deadline == 0) return;
  if (r->tprev)
    r->tprev->tnext = r->tnext;
  else
    c->thead = r->tnext;
  if (r->tnext)
    r->tnext->tprev = r->tprev;
  else
    c->ttail = r->tprev;
  r->tprev = r->tnext = NULL;
}

/* Insert sorted, scanning from the tail (deadlines mostly arrive in order). */
static void deadline_insert(cql_conn *c, cql_conn_req *r) {
  cql_conn_req *after = c->ttail;
  while (after && after->deadline > r->deadline) after = after->tprev;
  r->tprev = after;
  r->tnext = after ? after->tnext : c->thead;
  if (r->tnext)
    r->tnext->tprev = r;
  else
    c->ttail = r;
  if (after)
    after->tnext = r;
  else
    c->thead = r;
}

/* A stream stopped counting against the in-flight cap: the owner may send what it queued. */
static void notify_capacity(cql_conn *c) {
  if (c->state == CONN_READY && !c->owner_gone && c->handlers.on_capacity) c->handlers.on_capacity(c, c->ud);
}

static void maybe_finish_retiring(cql_conn *c) {
  if (c->state == CONN_RETIRING && c->streams.in_flight == 0) {
    c->state = CONN_CLOSED;
    close_handles(c);
  }
}

static void on_timer(uv_timer_t *t) {
  cql_conn *c = t->data;
  if (c->state == CONN_CONNECTING || c->state == CONN_HANDSHAKE) {
    conn_fail(c, CQL_ERR_CONNECT_FAILED, "connect timeout", NULL);
    return;
  }
  uint64_t now = uv_now(c->loop);
  cql_error err;
  cql_client_error_set(&err, CQL_ERR_CLIENT_TIMEOUT, "request timed out");
  while (c->state != CONN_CLOSED && c->thead && c->thead->deadline <= now) {
    cql_conn_req *r = c->thead;
    deadline_remove(c, r);
    r->deadline = 0;
    c->pending[r->stream] = NULL;
    cql_streams_orphan(&c->streams, r->stream);
    if (r == &c->heartbeat_req) {
      c->heartbeat_in_flight = false;
      conn_fail(c, CQL_ERR_CONNECTION_CLOSED, "heartbeat timed out", NULL);
      return;
    }
    r->on_response(r, NULL, &err);
  }
  notify_capacity(c);
  if (c->state == CONN_READY && c->streams.orphans > c->settings.max_orphans) {
    c->state = CONN_RETIRING;
    if (!c->owner_gone) {
      c->owner_gone = true;
      c->handlers.on_down(c, NULL, c->ud); /* retiring: healthy, replace it now */
    }
  }
  maybe_finish_retiring(c);
  if (c->state != CONN_CLOSED) timer_rearm(c);
}

static void timer_rearm(cql_conn *c) {
  if (!c->thead) {
    uv_timer_stop(&c->timer);
    return;
  }
  uint64_t now = uv_now(c->loop);
  uv_timer_start(&c->timer, on_timer, c->thead->deadline > now ? c->thead->deadline - now : 0, 0);
}

/* ---- failure ------------------------------------------------------------------------------ */

/* Fails every pending request, tells the owner (once), closes the handles. */
static void conn_fail(cql_conn *c, int32_t code, const char *why, const cql_error *server_err) {
  if (c->state == CONN_CLOSED) return;
  c->state = CONN_CLOSED;
  uv_timer_stop(&c->timer);
  uv_timer_stop(&c->heartbeat);
  char msg[160];
  snprintf(msg, sizeof(msg), "%s (%s)", why, c->address);
  cql_error err;
  cql_client_error_set(&err, code, msg);
  for (unsigned s = 0; s < c->streams.range; s++) {
    cql_conn_req *r = c->pending[s];
    if (!r) continue;
    c->pending[s] = NULL;
    deadline_remove(c, r);
    r->deadline = 0;
    if (r != &c->handshake_req && r != &c->heartbeat_req) r->on_response(r, NULL, &err);
  }
  if (!c->owner_gone) {
    c->owner_gone = true;
    c->handlers.on_down(c, server_err ? server_err : &err, c->ud);
  }
  close_handles(c);
}

/* ---- writing ------------------------------------------------------------------------------ */

static void flush(cql_conn *c);

static void on_write(uv_write_t *req, int status) {
  cql_conn *c = req->data;
  c->writing = false;
  cql_writer_reset(&c->wbuf);
  if (c->state == CONN_CLOSED) return;
  if (status < 0) {
    conn_fail(c, CQL_ERR_CONNECTION_CLOSED, uv_strerror(status), NULL);
    return;
  }
  flush(c);
}

/* Wraps the queued envelopes into v5 segments: groups of whole envelopes up to the segment
 * payload limit (one big envelope alone is split by cql_segments_write). */
static int frame_segments(const cql_writer *env, cql_writer *w) {
  size_t pos = 0, group = 0;
  while (pos < env->len) {
    size_t n = CQL_FRAME_HEADER_SIZE + cql_load_u32(env->data + pos + 5);
    if (pos > group && pos - group + n > CQL_SEGMENT_MAX_PAYLOAD) {
      int rc = cql_segments_write(w, env->data + group, pos - group, false);
      if (rc != CQL_OK) return rc;
      group = pos;
    }
    pos += n;
  }
  return pos > group ? cql_segments_write(w, env->data + group, pos - group, false) : CQL_OK;
}

static void flush(cql_conn *c) {
  if (c->writing || c->out.len == 0 || c->state == CONN_CLOSED) return;
  if (c->framed) {
    int rc = frame_segments(&c->out, &c->wbuf);
    cql_writer_reset(&c->out);
    if (rc != CQL_OK || !cql_writer_ok(&c->wbuf)) {
      conn_fail(c, CQL_ERR_CONNECTION_CLOSED, "cannot frame requests", NULL);
      return;
    }
  } else {
    cql_writer tmp = c->wbuf; /* swap: out becomes the write buffer */
    c->wbuf = c->out;
    c->out = tmp;
  }
  uv_buf_t buf = uv_buf_init((char *)c->wbuf.data, (unsigned)c->wbuf.len);
  c->writing = true;
  int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
  if (rc < 0) {
    c->writing = false;
    conn_fail(c, CQL_ERR_CONNECTION_CLOSED, uv_strerror(rc), NULL);
  }
}

static bool send_on_stream(cql_conn *c, cql_conn_req *r, const cql_message *m, unsigned timeout_ms) {
  int stream = cql_streams_acquire(&c->streams);
  if (stream < 0) return false;
  size_t mark = c->out.len;
  int rc = cql_message_encode_frame(&c->out, c->settings.protocol_version, 0, (int16_t)stream, m);
  if (rc != CQL_OK || !cql_writer_ok(&c->out)) {
    c->out.len = mark;
    c->out.err = false;
    cql_streams_release(&c->streams, stream);
    return false;
  }
  r->conn = c;
  r->stream = stream;
  r->tprev = r->tnext = NULL;
  r->deadline = timeout_ms ? uv_now(c->loop) + timeout_ms : 0;
  c->pending[stream] = r;
  if (r->deadline) {
    bool was_first = c->thead == NULL || r->deadline < c->thead->deadline;
    deadline_insert(c, r);
    if (was_first) timer_rearm(c);
  }
  flush(c);
  return true;
}

bool cql_conn_send(cql_conn *c, cql_conn_req *r, const cql_message *m, unsigned timeout_ms) {
  if (c->state != CONN_READY) return false;
  return send_on_stream(c, r, m, timeout_ms);
}

/* ---- handshake ----------------------------------------------------------------------------- */

static void heartbeat_arm(cql_conn *c, uint64_t delay_ms);

static void become_ready(cql_conn *c) {
  c->state = CONN_READY;
  uv_timer_stop(&c->timer);
  c->last_read = uv_now(c->loop);
  heartbeat_arm(c, c->settings.heartbeat_interval_ms);
  c->handlers.on_ready(c, c->ud);
}

static void switch_to_segments(cql_conn *c) {
  if (c->settings.protocol_version < 5 || c->framed) return;
  c->framed = true;
  cql_frame_reader_set_framing(&c->reader, CQL_FRAMING_V5);
}

static void on_handshake_response(cql_conn_req *r, cql_message *resp, const cql_error *err) {
  cql_conn *c = (cql_conn *)((char *)r - offsetof(cql_conn, handshake_req));
  if (err) return; /* connection failure: conn_fail reports it */
  switch (resp->opcode) {
  case CQL_OP_READY:
  case CQL_OP_AUTH_SUCCESS:
    switch_to_segments(c);
    become_ready(c);
    break;
  case CQL_OP_AUTHENTICATE: {
    switch_to_segments(c);
    if (!c->settings.username) {
      conn_fail(c, CQL_ERR_AUTH, "server requires authentication, no credentials configured", NULL);
      break;
    }
    cql_writer token;
    cql_writer_init(&token);
    cql_sasl_plain_token(&token, c->settings.username, c->settings.password ? c->settings.password : "");
    cql_message m;
    cql_message_init(&m, CQL_OP_AUTH_RESPONSE);
    m.u.auth_token = cql_value_of(token.data, (int32_t)token.len);
    bool ok = cql_writer_ok(&token) && send_on_stream(c, &c->handshake_req, &m, 0);
    cql_writer_free(&token);
    if (!ok) conn_fail(c, CQL_ERR_CONNECT_FAILED, "cannot send AUTH_RESPONSE", NULL);
    break;
  }
  case CQL_OP_ERROR: {
    char msg[256];
    snprintf(msg, sizeof(msg), "handshake refused: %s",
             resp->u.error.message.ptr ? resp->u.error.message.ptr : "");
    /* bad credentials: a client error the owner can tell apart; others keep the server's
     * error (the control connection downgrades the version on a ProtocolError) */
    if (resp->u.error.code == CQL_ERROR_BAD_CREDENTIALS)
      conn_fail(c, CQL_ERR_AUTH, msg, NULL);
    else
      conn_fail(c, CQL_ERR_CONNECT_FAILED, msg, &resp->u.error);
    break;
  }
  case CQL_OP_AUTH_CHALLENGE:
    conn_fail(c, CQL_ERR_AUTH, "unexpected AUTH_CHALLENGE for SASL PLAIN", NULL);
    break;
  default:
    conn_fail(c, CQL_ERR_PROTOCOL_VIOLATION, "unexpected handshake response", NULL);
    break;
  }
  cql_message_free(resp);
}

static void send_startup(cql_conn *c) {
  static const cql_str_pair options[] = {{{"CQL_VERSION", 11}, {"3.0.0", 5}},
                                         {{"DRIVER_NAME", 11}, {"messenger-cql", 13}}};
  cql_message m;
  cql_message_init(&m, CQL_OP_STARTUP);
  m.u.startup.options = options;
  m.u.startup.n_options = 2;
  c->state = CONN_HANDSHAKE;
  if (!send_on_stream(c, &c->handshake_req, &m, 0))
    conn_fail(c, CQL_ERR_CONNECT_FAILED, "cannot send STARTUP", NULL);
}

/* ---- heartbeat ----------------------------------------------------------------------------- */

static void on_heartbeat_response(cql_conn_req *r, cql_message *resp, const cql_error *err) {
  cql_conn *c = (cql_conn *)((char *)r - offsetof(cql_conn, heartbeat_req));
  c->heartbeat_in_flight = false;
  if (resp) cql_message_free(resp);
  (void)err; /* a timeout is handled by on_timer; a close by conn_fail */
  maybe_finish_retiring(c);
}

static void on_heartbeat_tick(uv_timer_t *t);

static void heartbeat_arm(cql_conn *c, uint64_t delay_ms) {
  if (c->settings.heartbeat_interval_ms) uv_timer_start(&c->heartbeat, on_heartbeat_tick, delay_ms, 0);
}

static unsigned heartbeat_timeout(const cql_conn *c) {
  if (c->settings.heartbeat_timeout_ms) return c->settings.heartbeat_timeout_ms;
  return c->settings.connect_timeout_ms ? c->settings.connect_timeout_ms : 5000;
}

/* Fires when the connection may have been read-idle for a whole interval: sends OPTIONS if so
 * (its deadline is handled by on_timer like any request), else waits for the rest. */
static void on_heartbeat_tick(uv_timer_t *t) {
  cql_conn *c = t->data;
  if (c->state != CONN_READY) return; /* retiring or closed: no more heartbeats */
  uint64_t interval = c->settings.heartbeat_interval_ms;
  uint64_t idle = uv_now(c->loop) - c->last_read;
  if (idle < interval) {
    heartbeat_arm(c, interval - idle);
    return;
  }
  if (!c->heartbeat_in_flight) {
    cql_message m;
    cql_message_init(&m, CQL_OP_OPTIONS);
    if (send_on_stream(c, &c->heartbeat_req, &m, heartbeat_timeout(c))) c->heartbeat_in_flight = true;
  }
  heartbeat_arm(c, interval);
}

/* ---- reading ------------------------------------------------------------------------------- */

static void dispatch(cql_conn *c, const cql_frame_header *h, const uint8_t *body) {
  c->last_read = uv_now(c->loop);
  cql_message msg;
  int rc = cql_message_decode(&msg, h, body, h->length);
  if (h->stream < 0) {
    if (rc == CQL_OK && msg.opcode == CQL_OP_EVENT && c->handlers.on_event && !c->owner_gone)
      c->handlers.on_event(c, &msg, c->ud);
    if (rc == CQL_OK) cql_message_free(&msg);
    return;
  }
  cql_stream_state st = cql_streams_release(&c->streams, h->stream);
  if (st == CQL_STREAM_ORPHANED) {
    if (rc == CQL_OK) cql_message_free(&msg);
    maybe_finish_retiring(c);
    return;
  }
  cql_conn_req *r = st == CQL_STREAM_IN_USE ? c->pending[h->stream] : NULL;
  if (!r) {
    if (rc == CQL_OK) cql_message_free(&msg);
    conn_fail(c, CQL_ERR_PROTOCOL_VIOLATION, "response on an unknown stream", NULL);
    return;
  }
  c->pending[h->stream] = NULL;
  deadline_remove(c, r);
  r->deadline = 0;
  if (rc != CQL_OK) {
    cql_error err;
    cql_client_error_set(&err, CQL_ERR_PROTOCOL_VIOLATION, "undecodable response");
    r->on_response(r, NULL, &err);
  } else {
    r->on_response(r, &msg, NULL);
  }
  notify_capacity(c);
  maybe_finish_retiring(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  cql_conn *c = h->data;
  *buf = uv_buf_init((char *)c->rbuf, sizeof(c->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  cql_conn *c = s->data;
  if (c->state == CONN_CLOSED) return;
  if (n < 0) {
    conn_fail(c, CQL_ERR_CONNECTION_CLOSED, n == UV_EOF ? "closed by peer" : uv_strerror((int)n), NULL);
    return;
  }
  if (n == 0) return;
  if (cql_frame_reader_feed(&c->reader, c->rbuf, (size_t)n) != CQL_OK) {
    conn_fail(c, CQL_ERR_CONNECTION_CLOSED, "out of memory", NULL);
    return;
  }
  for (;;) {
    cql_frame_header h;
    const uint8_t *body;
    int rc = cql_frame_reader_next(&c->reader, &h, &body);
    if (rc == 0) break;
    if (rc < 0) {
      conn_fail(c, CQL_ERR_PROTOCOL_VIOLATION, cql_rc_str(rc), NULL);
      return;
    }
    dispatch(c, &h, body);
    if (c->state == CONN_CLOSED) return;
  }
}

static void on_connect(uv_connect_t *req, int status) {
  cql_conn *c = req->data;
  if (c->state == CONN_CLOSED) return;
  if (status < 0) {
    conn_fail(c, CQL_ERR_CONNECT_FAILED, uv_strerror(status), NULL);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc < 0) {
    conn_fail(c, CQL_ERR_CONNECT_FAILED, uv_strerror(rc), NULL);
    return;
  }
  send_startup(c);
}

/* ---- public ------------------------------------------------------------------------------- */

static void format_address(const struct sockaddr *addr, char *out, size_t size) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr->sa_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
    uv_ip4_name(a, ip, sizeof(ip));
    port = ntohs(a->sin_port);
    snprintf(out, size, "%s:%d", ip, port);
  } else {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
    uv_ip6_name(a, ip, sizeof(ip));
    port = ntohs(a->sin6_port);
    snprintf(out, size, "[%s]:%d", ip, port);
  }
}

cql_conn *cql_conn_open(uv_loop_t *loop, const struct sockaddr *addr, const cql_conn_settings *s,
                        const cql_conn_handlers *h, void *ud) {
  cql_conn *c = calloc(1, sizeof(*c));
  if (!c) return NULL;
  c->loop = loop;
  c->settings = *s;
  c->handlers = *h;
  c->ud = ud;
  format_address(addr, c->address, sizeof(c->address));
  unsigned max_req = s->max_requests ? s->max_requests : 1024;
  unsigned range = max_req + s->max_orphans + 1;
  if (range > CQL_STREAMS_MAX) range = CQL_STREAMS_MAX;
  cql_streams_init(&c->streams, range, max_req);
  c->pending = calloc(c->streams.range, sizeof(*c->pending));
  if (!c->pending) {
    free(c);
    return NULL;
  }
  cql_frame_reader_init(&c->reader, CQL_FRAMING_NONE, 0);
  cql_writer_init(&c->out);
  cql_writer_init(&c->wbuf);
  c->handshake_req.on_response = on_handshake_response;
  c->heartbeat_req.on_response = on_heartbeat_response;
  uv_tcp_init(loop, &c->tcp);
  uv_timer_init(loop, &c->timer);
  uv_timer_init(loop, &c->heartbeat);
  c->handles_open = 3;
  c->tcp.data = c->timer.data = c->heartbeat.data = c;
  c->connect_req.data = c->write_req.data = c;
  c->state = CONN_CONNECTING;
  c->owner_gone = true; /* no on_down for a failure reported by returning NULL */
  int rc = uv_tcp_connect(&c->connect_req, &c->tcp, addr, on_connect);
  if (rc < 0) {
    c->state = CONN_CLOSED;
    close_handles(c);
    return NULL;
  }
  c->owner_gone = false;
  if (s->connect_timeout_ms) uv_timer_start(&c->timer, on_timer, s->connect_timeout_ms, 0);
  return c;
}

void cql_conn_close(cql_conn *c, int32_t err_code) {
  c->owner_gone = true;
  conn_fail(c, err_code, "connection closed by the client", NULL);
}

bool cql_conn_is_ready(const cql_conn *c) { return c->state == CONN_READY; }
bool cql_conn_has_capacity(const cql_conn *c) {
  const cql_streams *s = &c->streams;
  return c->state == CONN_READY && s->in_flight < s->max_in_flight && s->in_flight + s->orphans < s->range;
}
unsigned cql_conn_in_flight(const cql_conn *c) { return c->streams.in_flight; }
int cql_conn_protocol_version(const cql_conn *c) { return c->settings.protocol_version; }
const char *cql_conn_address(const cql_conn *c) { return c->address; }
