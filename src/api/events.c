/* GET /api/events (SSE and WebSocket), POST /api/conversations/{id}/typing, and the message
 * and read events published after durable writes. */
#include "api/events.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/access.h"
#include "api/handlers.h"
#include "api/json_writer.h"
#include "api/params.h"
#include "api/respond.h"
#include "core/ids.h"
#include "http/websocket.h"
#include "log/log.h"
#include "metrics/global.h"

/* ---- publishing ---- */

void api_events_message(api *a, const message *m) {
  if (!a->events) return;
  json_writer w;
  json_writer_init(&w, 256 + m->content_len * 2);
  json_writer_lit(&w, "\"message\":");
  write_message_item(&w, m, 0);
  size_t len;
  char *fields = json_writer_finish(&w, &len);
  const int64_t users[] = {m->sender_id, m->receiver_id};
  if (!fields || !events_publish(a->events, users, 2, EVENT_MESSAGE, fields, len, true))
    log_msg(LOG_WARN, "events", "message %lld: event not published (out of memory)", (long long)m->id);
  free(fields);
}

/* The read mark is durable; its event goes to both participants (the store names the other). */
static void on_read_marked(void *ctx, const read_mark *mark) {
  api *a = ctx;
  if (!a->events || !mark->advanced) return; /* an unchanged mark is no event */
  char fields[160];
  int len = snprintf(
      fields, sizeof fields, "\"conversation_id\":%lld,\"user_id\":%lld,\"last_read_message_id\":%lld",
      (long long)mark->conversation_id, (long long)mark->user_id, (long long)mark->last_read_message_id);
  const int64_t users[] = {mark->user_id, mark->other_user_id};
  if (!events_publish(a->events, users, 2, EVENT_READ, fields, (size_t)len, true))
    log_msg(LOG_WARN, "events", "read mark of conversation %lld: event not published (out of memory)",
            (long long)mark->conversation_id);
}

void api_events_init(api *a, events_hub *hub, rate_gate *typing_gate) {
  a->events = hub;
  a->typing_gate = typing_gate;
  a->on_read = on_read_marked;
  a->on_read_ctx = a;
}

/* ---- typing (POST and WebSocket frame) ---- */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct typing_call {
  api *api;
  http_exchange *ex; /* NULL for a WebSocket frame: nothing to answer */
  int64_t user_id;
} typing_call;

static void on_typing_conversation(void *arg, store_status status, const char *detail,
                                   const conversation *c) {
  typing_call *call = arg;
  bool member = status == STORE_OK && (c->user1_id == call->user_id || c->user2_id == call->user_id);
  if (member && call->api->events && rate_gate_pass(call->api->typing_gate, call->user_id, c->id, now_ms())) {
    int64_t other = c->user1_id == call->user_id ? c->user2_id : c->user1_id;
    char fields[96];
    int len = snprintf(fields, sizeof fields, "\"conversation_id\":%lld,\"user_id\":%lld", (long long)c->id,
                       (long long)call->user_id);
    events_publish(call->api->events, &other, 1, EVENT_TYPING, fields, (size_t)len, false);
  }
  if (call->ex) {
    if (member)
      respond_json(call->ex, 202, json_pack("{s:s}", "status", "accepted"));
    else
      respond_store_error(call->ex, status == STORE_OK ? STORE_NOT_FOUND : status, detail);
  }
  free(call);
}

static void typing_start(api *a, http_exchange *ex, int64_t conversation_id, int64_t user_id) {
  typing_call *call = malloc(sizeof *call);
  if (!call) {
    if (ex) respond_detail(ex, 503, "Out of memory");
    return;
  }
  *call = (typing_call){.api = a, .ex = ex, .user_id = user_id};
  store_get_conversation(a->store, conversation_id, on_typing_conversation, call);
}

void api_typing(http_exchange *ex, void *app) {
  int64_t caller;
  if (!api_authenticate(ex, app, false, &caller)) return;
  validation_errors v;
  validation_init(&v);
  int64_t conversation_id = 0, user_id = 0;
  param_path_id(ex, 0, "conversation_id", &v, &conversation_id);
  size_t len;
  const char *text = http_body(ex, &len);
  json_t *body = param_body_object(text, len, &v);
  if (body) {
    if (caller && !json_object_get(body, "user_id")) /* auth on: user_id may be omitted */
      user_id = caller;
    else
      param_body_id(body, "user_id", &v, &user_id);
    json_decref(body);
  }
  if (validation_failed(&v)) {
    validation_respond(&v, ex);
    return;
  }
  validation_free(&v);
  if (!api_require_self(ex, caller, user_id)) return;
  typing_start(app, ex, conversation_id, user_id);
}

/* ---- read frames (WebSocket) ---- */

typedef struct ws_read_call {
  api *api;
  read_mark_request req;
} ws_read_call;

static void on_ws_marked(void *arg, store_status status, const char *detail, const read_mark *mark) {
  ws_read_call *call = arg;
  if (status == STORE_OK)
    on_read_marked(call->api, mark);
  else
    log_msg(LOG_INFO, "events", "read frame of user %lld refused (%s)", (long long)call->req.user_id,
            status == STORE_NOT_FOUND ? "not a participant"
            : detail                  ? detail
                                      : "store error");
  free(call);
}

/* ---- the streams ---- */

typedef struct event_stream {
  api *api;
  int64_t user_id;
  http_stream *stream;
  events_sub *sub;
  ws_session *ws; /* NULL for SSE */
  bool dropped;   /* a write was refused (its buffer was full, or it was closing): counted once */
} event_stream;

/* Every write of a stream; a refused one means the transport drops the stream (a slow reader). */
static bool stream_write(event_stream *es, const void *data, size_t len) {
  if (http_stream_write(es->stream, data, len)) return true;
  if (!es->dropped) metrics_event_stream_dropped();
  es->dropped = true;
  return false;
}

static bool sse_deliver(void *sink, const event *ev) {
  event_stream *es = sink;
  size_t len;
  char *text = event_encode_sse(ev, &len);
  bool ok = text && stream_write(es, text, len);
  free(text);
  return ok;
}

static bool sse_heartbeat(void *sink) {
  event_stream *es = sink;
  static const char ping[] = ": ping\n\n";
  return stream_write(es, ping, sizeof ping - 1);
}

static bool sse_position(void *sink, const char *id) {
  event_stream *es = sink;
  size_t len;
  char *text = event_encode_sse_position(id, &len);
  bool ok = text && stream_write(es, text, len);
  free(text);
  return ok;
}

static void stream_close(void *sink) { http_stream_close(((event_stream *)sink)->stream); }

static const event_sink_ops sse_ops = {sse_deliver, sse_heartbeat, sse_position, stream_close};

static bool ws_deliver(void *sink, const event *ev) {
  event_stream *es = sink;
  size_t len;
  char *text = event_encode_json(ev, &len);
  bool ok = text && ws_session_send_text(es->ws, text, len);
  free(text);
  return ok;
}

static bool ws_heartbeat(void *sink) { return ws_session_ping(((event_stream *)sink)->ws); }

/* The shared log's fan-out was lost: "going away", the client resumes from its last id. */
static void ws_close(void *sink) {
  ws_session_close(((event_stream *)sink)->ws, 1001, "resume from your last id");
}

static const event_sink_ops ws_ops = {ws_deliver, ws_heartbeat, NULL, ws_close};

static bool ws_write(void *user, const uint8_t *data, size_t len) { return stream_write(user, data, len); }

static void ws_finished(void *user) { http_stream_close(((event_stream *)user)->stream); }

/* A client frame: {"type":"typing","conversation_id":C} or {"type":"read","conversation_id":C,
 * "message_id":M}. Anything else closes the stream with 1008. */
static void ws_text(void *user, const uint8_t *msg, size_t len) {
  event_stream *es = user;
  json_t *frame = json_loadb((const char *)msg, len, 0, NULL);
  const char *type = json_string_value(json_object_get(frame, "type"));
  json_t *conv = json_object_get(frame, "conversation_id");
  json_t *mid = json_object_get(frame, "message_id");
  bool conv_ok = json_is_integer(conv) && id_is_valid(json_integer_value(conv));
  if (type && conv_ok && strcmp(type, "typing") == 0) {
    typing_start(es->api, NULL, json_integer_value(conv), es->user_id);
  } else if (type && conv_ok && strcmp(type, "read") == 0 && json_is_integer(mid) &&
             id_is_valid(json_integer_value(mid))) {
    ws_read_call *call = malloc(sizeof *call);
    if (call) {
      *call = (ws_read_call){.api = es->api,
                             .req = {.conversation_id = json_integer_value(conv),
                                     .user_id = es->user_id,
                                     .message_id = json_integer_value(mid)}};
      store_mark_read(es->api->store, &call->req, on_ws_marked, call);
    }
  } else {
    ws_session_close(es->ws, 1008, "expected a typing or read frame");
  }
  json_decref(frame);
}

static const ws_callbacks ws_cb = {ws_write, ws_text, ws_finished};

static void on_ws_data(http_stream *s, const uint8_t *data, size_t len, void *user) {
  (void)s;
  ws_session_feed(((event_stream *)user)->ws, data, len);
}

/* Transport: the stream ended. After events_unsubscribe no sink call runs or follows. */
static void on_stream_closed(http_stream *s, void *user) {
  (void)s;
  event_stream *es = user;
  events_unsubscribe(es->sub);
  ws_session_free(es->ws);
  free(es);
  metrics_event_stream_closed();
}

/* Checks the WebSocket handshake and adds the 101's headers; false after answering an error. */
static bool ws_handshake(http_exchange *ex) {
  const char *upgrade = http_header(ex, "Upgrade");
  const char *version = http_header(ex, "Sec-WebSocket-Version");
  const char *key = http_header(ex, "Sec-WebSocket-Key");
  char accept[WS_ACCEPT_SIZE];
  if (!upgrade || strcasecmp(upgrade, "websocket") != 0) {
    respond_detail(ex, 400, "Only WebSocket upgrades are supported");
    return false;
  }
  if (!version || strcmp(version, "13") != 0) {
    http_add_header(ex, "Sec-WebSocket-Version", "13");
    respond_detail(ex, 426, "WebSocket version 13 required");
    return false;
  }
  if (!key || !ws_accept_key(key, accept)) {
    respond_detail(ex, 400, "Invalid Sec-WebSocket-Key");
    return false;
  }
  http_add_header(ex, "Upgrade", "websocket");
  http_add_header(ex, "Connection", "Upgrade");
  http_add_header(ex, "Sec-WebSocket-Accept", accept);
  const char *protocols = http_header(ex, "Sec-WebSocket-Protocol");
  if (protocols) { /* browsers fail a handshake that ignores offered subprotocols: echo the first */
    char first[64];
    size_t n = strcspn(protocols, ", \t");
    if (n > 0 && n < sizeof first) {
      memcpy(first, protocols, n);
      first[n] = '\0';
      http_add_header(ex, "Sec-WebSocket-Protocol", first);
    }
  }
  return true;
}

void api_events(http_exchange *ex, void *app) {
  api *a = app;
  int64_t caller; /* header or ?access_token=: EventSource and WebSocket cannot set headers */
  if (!api_authenticate(ex, a, true, &caller)) return;
  int64_t user_id = caller; /* auth on: user_id may be omitted */
  if (!caller || http_query(ex, "user_id")) {
    validation_errors v;
    validation_init(&v);
    if (!param_query_id(ex, "user_id", &v, &user_id)) {
      validation_respond(&v, ex);
      return;
    }
    validation_free(&v);
  }
  if (!api_require_self(ex, caller, user_id)) return;
  if (!a->events) {
    respond_detail(ex, 503, "Event streams are not enabled");
    return;
  }
  const char *last_id = http_header(ex, "Last-Event-ID");
  if (!last_id) last_id = http_query(ex, "last_event_id");
  bool websocket = http_is_upgrade(ex);
  if (websocket && !ws_handshake(ex)) return;
  event_stream *es = calloc(1, sizeof *es);
  if (es && websocket) es->ws = ws_session_new(&ws_cb, es, EVENTS_WS_MAX_CLIENT_MESSAGE);
  if (!es || (websocket && !es->ws)) {
    free(es);
    respond_detail(ex, 503, "Out of memory");
    return;
  }
  es->api = a;
  es->user_id = user_id;
  if (websocket) {
    es->stream = http_upgrade(ex, on_ws_data, on_stream_closed, es);
  } else {
    http_add_header(ex, "Cache-Control", "no-cache");
    http_add_header(ex, "X-Accel-Buffering", "no"); /* proxies: do not buffer the stream */
    es->stream = http_respond_stream(ex, 200, "text/event-stream", on_stream_closed, es);
  }
  if (!es->stream) { /* out of memory: the transport closed the connection, on_closed will not run */
    ws_session_free(es->ws);
    free(es);
    return;
  }
  if (websocket) { /* a reader too slow for its buffer gets "policy violation" and resumes */
    uint8_t frame[WS_CLOSE_FRAME_MAX];
    size_t n = ws_close_frame(1008, "too slow: resume from your last event id", frame);
    if (!http_stream_set_overflow_trailer(es->stream, frame, n))
      log_msg(LOG_WARN, "events", "out of memory: a slow WebSocket reader will be closed without 1008");
  }
  metrics_event_stream_opened();
  static const char retry[] = "retry: 2000\n\n"; /* EventSource: reconnect after 2 s */
  if (!websocket) http_stream_write(es->stream, retry, sizeof retry - 1);
  es->sub = events_subscribe(a->events, user_id, last_id, websocket ? &ws_ops : &sse_ops, es);
  if (!es->sub) http_stream_close(es->stream);
}
