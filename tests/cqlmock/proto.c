/* cqlmock protocol logic: one request in, one reply decision out (see mock.h).
 * Runs on the loop thread with m->lock held, so it reads primes and node state directly. */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mock.h"

#define PASSWORD_AUTHENTICATOR "org.apache.cassandra.auth.PasswordAuthenticator"
#define PAGING_MAGIC           "cqlm"
#define PAGING_STATE_SIZE      12 /* magic, row offset, hash of the query text */

/* ------------------------------------------------------------------------------------------ */
/* Encoding helpers                                                                            */

/* An encoding failure marks the writer failed: server.c then drops the connection rather than
 * send a truncated frame. */
static void encode(cql_writer *w, int version, int16_t stream, const cql_message *msg) {
  if (cql_message_encode_frame(w, version, 0, stream, msg) < 0) w->err = true;
}

static void encode_cql_error(cql_writer *w, int version, int16_t stream, const cql_error *e) {
  cql_message msg;
  cql_message_init(&msg, CQL_OP_ERROR);
  msg.u.error = *e;
  encode(w, version, stream, &msg);
}

void mock_encode_error(cql_writer *w, int version, int16_t stream, int32_t code, const char *fmt, ...) {
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  encode_cql_error(w, version, stream, &(cql_error){.code = code, .message = cql_str_of(text)});
}

static void encode_simple(cql_writer *w, int version, int16_t stream, uint8_t opcode) {
  cql_message msg;
  cql_message_init(&msg, opcode);
  encode(w, version, stream, &msg);
}

static void encode_result(cql_writer *w, int version, int16_t stream, const cql_result_msg *r) {
  cql_message msg;
  cql_message_init(&msg, CQL_OP_RESULT);
  msg.u.result = *r;
  encode(w, version, stream, &msg);
}

/* "3/v3, 4/v4" for the configured range. */
static void version_list(const cqlmock *m, char *buf, size_t size) {
  size_t off = 0;
  for (int v = m->cfg.min_protocol_version; v <= m->cfg.max_protocol_version && off < size; v++)
    off += (size_t)snprintf(buf + off, size - off, "%s%d/v%d", v > m->cfg.min_protocol_version ? ", " : "", v,
                            v);
}

void mock_encode_version_error(cqlmock *m, cql_writer *w, int requested, int16_t stream) {
  char list[64];
  version_list(m, list, sizeof list);
  /* Answer in a version the client can parse: its own when the header layout matches (3..5). */
  int reply =
      requested > m->cfg.max_protocol_version || requested < 3 ? m->cfg.max_protocol_version : requested;
  mock_encode_error(w, reply, stream, CQL_ERROR_PROTOCOL,
                    "Invalid or unsupported protocol version (%d); supported versions are (%s)", requested,
                    list);
}

static void query_id(const char *query, uint8_t id[16]) {
  unsigned len = 0;
  if (!EVP_Digest(query, strlen(query), id, &len, EVP_md5(), NULL) || len != 16) memset(id, 0, 16);
}

static uint32_t text_hash(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

int mock_encode_rows(cql_writer *w, int version, int16_t stream, const mock_rows *rows,
                     const cql_query_params *params, const char *query) {
  size_t offset = 0;
  if (params && params->paging_state.ptr && params->paging_state.len >= 0) {
    const cql_value ps = params->paging_state;
    if (ps.len != PAGING_STATE_SIZE || memcmp(ps.ptr, PAGING_MAGIC, 4) != 0 ||
        cql_load_u32(ps.ptr + 8) != text_hash(query) || cql_load_u32(ps.ptr + 4) > rows->n_rows)
      return -1;
    offset = cql_load_u32(ps.ptr + 4);
  }
  size_t count = rows->n_rows - offset;
  uint8_t state[PAGING_STATE_SIZE];
  cql_result_msg r = {.kind = CQL_RESULT_ROWS};
  r.rows.meta.column_count = (int32_t)rows->n_cols;
  if (params && params->page_size > 0 && count > (size_t)params->page_size) {
    count = (size_t)params->page_size;
    memcpy(state, PAGING_MAGIC, 4);
    cql_store_u32(state + 4, (uint32_t)(offset + count));
    cql_store_u32(state + 8, text_hash(query));
    r.rows.meta.flags |= CQL_ROWS_FLAG_HAS_MORE_PAGES;
    r.rows.meta.paging_state = cql_value_of(state, sizeof state);
  }
  if (params && params->skip_metadata) {
    r.rows.meta.flags |= CQL_ROWS_FLAG_NO_METADATA;
  } else {
    r.rows.meta.columns = rows->cols;
    if (rows->n_cols) r.rows.meta.flags |= CQL_ROWS_FLAG_GLOBAL_TABLES_SPEC;
  }
  r.rows.row_count = (int32_t)count;
  r.rows.cells = rows->cells ? rows->cells + offset * rows->n_cols : NULL;
  encode_result(w, version, stream, &r);
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Primes                                                                                      */

static cqlmock_prime *find_prime(cqlmock *m, unsigned on, int node, const char *text,
                                 const cql_query_params *params) {
  for (cqlmock_prime *p = m->primes; p; p = p->next)
    if (mock_prime_matches(p, on, node, text, params)) return p;
  return NULL;
}

static void consume(cqlmock_prime *p) {
  if (p->remaining > 0) p->remaining--;
}

typedef struct request_ctx {
  mock_node *n;
  int version;
  int16_t stream;
  const char *text;               /* statement text (may be NULL for unknown ids) */
  const cql_query_params *params; /* NULL for BATCH/PREPARE */
  const uint8_t *id;              /* prepared id of the request, if any */
  mock_reply *reply;
} request_ctx;

static void answer_with_prime(request_ctx *rq, cqlmock_prime *p) {
  cql_writer *w = &rq->reply->frame;
  consume(p);
  rq->reply->delay_ms += p->delay_ms;
  rq->reply->action = p->action;
  switch (p->action) {
  case MOCK_ACT_VOID:
    encode_result(w, rq->version, rq->stream, &(cql_result_msg){.kind = CQL_RESULT_VOID});
    break;
  case MOCK_ACT_ROWS:
    if (mock_encode_rows(w, rq->version, rq->stream, &p->rows, rq->params, rq->text ? rq->text : "") < 0)
      mock_encode_error(w, rq->version, rq->stream, CQL_ERROR_PROTOCOL, "Invalid value for the paging state");
    break;
  case MOCK_ACT_SET_KEYSPACE:
    encode_result(w, rq->version, rq->stream,
                  &(cql_result_msg){.kind = CQL_RESULT_SET_KEYSPACE, .keyspace = cql_str_of(p->keyspace)});
    break;
  case MOCK_ACT_SCHEMA_CHANGE:
    encode_result(w, rq->version, rq->stream,
                  &(cql_result_msg){.kind = CQL_RESULT_SCHEMA_CHANGE, .schema_change = p->schema});
    break;
  case MOCK_ACT_ERROR:
    encode_cql_error(w, rq->version, rq->stream, &p->error);
    break;
  case MOCK_ACT_UNPREPARED: {
    uint8_t id[16];
    if (rq->id)
      memcpy(id, rq->id, 16);
    else
      query_id(rq->text ? rq->text : "", id);
    cql_error e = {.code = CQL_ERROR_UNPREPARED,
                   .message = CQL_STR("Prepared query not found on this host"),
                   .unprepared_id = cql_value_of(id, 16)};
    encode_cql_error(w, rq->version, rq->stream, &e);
    break;
  }
  case MOCK_ACT_CLOSE:
  case MOCK_ACT_NO_ANSWER:
    break;
  }
}

/* The normalized first word of a statement ("select", "use", ...). */
static void first_word(const char *text, char *out, size_t size) {
  while (isspace((unsigned char)*text)) text++;
  size_t n = 0;
  while (n < size - 1 && isalpha((unsigned char)text[n])) out[n] = (char)tolower((unsigned char)text[n]), n++;
  out[n] = '\0';
}

/* Built-in answers: system tables, USE, and empty results for everything unprimed. */
static void answer_builtin(request_ctx *rq) {
  cql_writer *w = &rq->reply->frame;
  const char *text = rq->text ? rq->text : "";
  char word[16];
  first_word(text, word, sizeof word);
  if (strcmp(word, "select") == 0) {
    mock_select_builtin(rq->n, text, rq->version, rq->stream, rq->params, w);
  } else if (strcmp(word, "use") == 0) {
    const char *ks = text + strspn(text, " \t\r\n") + 3;
    ks += strspn(ks, " \t\r\n\"");
    size_t len = strcspn(ks, " \t\r\n\";");
    encode_result(w, rq->version, rq->stream,
                  &(cql_result_msg){.kind = CQL_RESULT_SET_KEYSPACE, .keyspace = {ks, len}});
  } else {
    encode_result(w, rq->version, rq->stream, &(cql_result_msg){.kind = CQL_RESULT_VOID});
  }
}

static void answer_statement(request_ctx *rq, unsigned on) {
  cqlmock_prime *p = find_prime(rq->n->m, on, rq->n->index, rq->text, rq->params);
  if (p)
    answer_with_prime(rq, p);
  else
    answer_builtin(rq);
}

/* Bind markers: '?' outside string literals. */
static size_t count_markers(const char *q) {
  size_t n = 0;
  bool quoted = false;
  for (; *q; q++) {
    if (*q == '\'')
      quoted = !quoted;
    else if (*q == '?' && !quoted)
      n++;
  }
  return n;
}

/* Default bind-marker metadata: one blob per '?', named p0, p1, ... (in the arena). */
static int default_markers(cql_arena *a, const cqlmock_prime *p, const char *text, mock_rows *out) {
  size_t count = count_markers(text);
  const char **names = cql_arena_calloc(a, count + 1, sizeof *names);
  const char **types = cql_arena_calloc(a, count + 1, sizeof *types);
  if (!names || !types) return -1;
  for (size_t i = 0; i < count; i++) {
    char name[24];
    snprintf(name, sizeof name, "p%zu", i);
    if (!(names[i] = cql_arena_strndup(a, name, strlen(name)))) return -1;
    types[i] = "blob";
  }
  bool rows = p && p->has_rows && p->rows.n_cols;
  char err[MOCK_ERR_SIZE];
  return mock_rows_set_columns(out, a, rows ? p->rows.cols[0].keyspace.ptr : NULL,
                               rows ? p->rows.cols[0].table.ptr : NULL, count, names, types, err);
}

static int remember_prepared(mock_node *n, const uint8_t id[16], const char *text) {
  for (size_t i = 0; i < n->n_prepared; i++)
    if (memcmp(n->prepared[i].id, id, 16) == 0) return 0;
  if (n->n_prepared == n->cap_prepared) {
    size_t cap = n->cap_prepared ? n->cap_prepared * 2 : 16;
    mock_prepared *grown = realloc(n->prepared, cap * sizeof *grown);
    if (!grown) return -1;
    n->prepared = grown;
    n->cap_prepared = cap;
  }
  char *copy = strdup(text);
  if (!copy) return -1;
  memcpy(n->prepared[n->n_prepared].id, id, 16);
  n->prepared[n->n_prepared++].query = copy;
  return 0;
}

static const mock_prepared *find_prepared(const mock_node *n, cql_value id) {
  for (size_t i = 0; id.len == 16 && i < n->n_prepared; i++)
    if (memcmp(n->prepared[i].id, id.ptr, 16) == 0) return &n->prepared[i];
  return NULL;
}

/* PREPARE: a prime ON_PREPARE with an error/close/silence action answers it; otherwise the id
 * (MD5 of the text) is remembered and the metadata comes from the matching prime, if any. */
static void answer_prepare(request_ctx *rq) {
  mock_node *n = rq->n;
  cql_writer *w = &rq->reply->frame;
  cqlmock_prime *p = find_prime(n->m, CQLMOCK_ON_PREPARE, n->index, rq->text, NULL);
  if (p && p->action != MOCK_ACT_VOID && p->action != MOCK_ACT_ROWS) {
    answer_with_prime(rq, p);
    return;
  }
  if (p) {
    consume(p);
    rq->reply->delay_ms += p->delay_ms;
  } else {
    p = find_prime(n->m, CQLMOCK_ON_EXECUTE | CQLMOCK_ON_QUERY, n->index, rq->text, NULL);
  }
  uint8_t id[16];
  query_id(rq->text, id);
  cql_arena arena;
  cql_arena_init(&arena);
  mock_rows markers = {0};
  bool primed = p && p->has_params;
  if (remember_prepared(n, id, rq->text) < 0 ||
      (!primed && default_markers(&arena, p, rq->text, &markers) < 0)) {
    mock_encode_error(w, rq->version, rq->stream, CQL_ERROR_SERVER, "cqlmock: out of memory");
  } else {
    cql_result_msg r = {.kind = CQL_RESULT_PREPARED};
    const mock_rows *params = &markers;
    if (primed) {
      params = &p->params;
      r.prepared.meta.pk_count = (int32_t)p->pk_count;
      r.prepared.meta.pk_indexes = p->pk_indexes;
    }
    r.prepared.id = cql_value_of(id, 16);
    r.prepared.meta.column_count = (int32_t)params->n_cols;
    r.prepared.meta.columns = params->cols;
    if (params->n_cols) r.prepared.meta.flags = CQL_ROWS_FLAG_GLOBAL_TABLES_SPEC;
    if (p && p->has_rows && p->rows.n_cols) {
      r.prepared.result_meta.flags = CQL_ROWS_FLAG_GLOBAL_TABLES_SPEC;
      r.prepared.result_meta.column_count = (int32_t)p->rows.n_cols;
      r.prepared.result_meta.columns = p->rows.cols;
    } else {
      r.prepared.result_meta.flags = CQL_ROWS_FLAG_NO_METADATA;
    }
    encode_result(w, rq->version, rq->stream, &r);
  }
  mock_rows_free(&markers);
  cql_arena_free(&arena);
}

static void answer_unprepared(request_ctx *rq, cql_value id) {
  char hex[33] = "";
  for (int i = 0; i < id.len && i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", id.ptr[i]);
  cql_error e = {.code = CQL_ERROR_UNPREPARED, .unprepared_id = id};
  char text[320];
  snprintf(
      text, sizeof text,
      "Prepared query with ID %s not found (either the query was not prepared on this host (maybe the host "
      "has been restarted?) or you have prepared too many queries and it has been evicted from the internal "
      "cache)",
      hex);
  e.message = cql_str_of(text);
  encode_cql_error(&rq->reply->frame, rq->version, rq->stream, &e);
}

/* BATCH: unknown prepared children -> UNPREPARED; a prime ON_BATCH matching any child's text
 * answers; otherwise Void. */
static void answer_batch(request_ctx *rq, const cql_batch_msg *b) {
  for (uint16_t i = 0; i < b->n_statements; i++)
    if (b->statements[i].is_prepared && !find_prepared(rq->n, b->statements[i].id)) {
      answer_unprepared(rq, b->statements[i].id);
      return;
    }
  for (uint16_t i = 0; i < b->n_statements; i++) {
    const cql_batch_entry *st = &b->statements[i];
    const mock_prepared *prep = st->is_prepared ? find_prepared(rq->n, st->id) : NULL;
    const char *text = prep ? prep->query : st->query.ptr;
    cqlmock_prime *p = find_prime(rq->n->m, CQLMOCK_ON_BATCH, rq->n->index, text, NULL);
    if (p) {
      rq->text = text;
      rq->id = prep ? prep->id : NULL;
      answer_with_prime(rq, p);
      return;
    }
  }
  encode_result(&rq->reply->frame, rq->version, rq->stream, &(cql_result_msg){.kind = CQL_RESULT_VOID});
}

/* ------------------------------------------------------------------------------------------ */
/* Handshake                                                                                   */

static void answer_options(request_ctx *rq) {
  cql_str list[2];
  size_t n_versions = 0;
  for (int v = rq->n->m->cfg.min_protocol_version; v <= rq->n->m->cfg.max_protocol_version; v++)
    list[n_versions++] = v == 3 ? CQL_STR("3/v3") : CQL_STR("4/v4");
  static const cql_str cql_versions[] = {CQL_STR("3.4.5")};
  cql_multimap_entry entries[] = {
      {CQL_STR("CQL_VERSION"), cql_versions, 1},
      {CQL_STR("COMPRESSION"), NULL, 0},
      {CQL_STR("PROTOCOL_VERSIONS"), list, n_versions},
  };
  cql_message msg;
  cql_message_init(&msg, CQL_OP_SUPPORTED);
  msg.u.supported = (cql_supported_msg){entries, sizeof entries / sizeof entries[0]};
  encode(&rq->reply->frame, rq->version, rq->stream, &msg);
}

static void answer_startup(request_ctx *rq, mock_session *s, const cql_startup_msg *st) {
  cql_writer *w = &rq->reply->frame;
  bool has_cql_version = false;
  for (size_t i = 0; i < st->n_options; i++) {
    if (cql_str_eq(st->options[i].key, "CQL_VERSION")) has_cql_version = true;
    if (cql_str_eq(st->options[i].key, "COMPRESSION") && st->options[i].value.len) {
      mock_encode_error(w, rq->version, rq->stream, CQL_ERROR_PROTOCOL, "Unknown compression algorithm: %.*s",
                        (int)st->options[i].value.len, st->options[i].value.ptr);
      return;
    }
  }
  if (!has_cql_version) {
    mock_encode_error(w, rq->version, rq->stream, CQL_ERROR_PROTOCOL,
                      "Missing value CQL_VERSION in STARTUP message");
    return;
  }
  s->started = true;
  if (rq->n->m->auth) {
    cql_message msg;
    cql_message_init(&msg, CQL_OP_AUTHENTICATE);
    msg.u.authenticator = CQL_STR(PASSWORD_AUTHENTICATOR);
    encode(w, rq->version, rq->stream, &msg);
  } else {
    s->ready = true;
    encode_simple(w, rq->version, rq->stream, CQL_OP_READY);
  }
}

/* SASL PLAIN: [authzid] \0 user \0 password. */
static void answer_auth(request_ctx *rq, mock_session *s, cql_value token) {
  const cqlmock *m = rq->n->m;
  cql_writer *w = &rq->reply->frame;
  const char *user = NULL, *pass = NULL;
  size_t user_len = 0, pass_len = 0;
  if (token.len > 0) {
    const char *t = (const char *)token.ptr, *end = t + token.len;
    const char *z1 = memchr(t, '\0', (size_t)token.len);
    const char *z2 = z1 ? memchr(z1 + 1, '\0', (size_t)(end - z1 - 1)) : NULL;
    if (z2) {
      user = z1 + 1, user_len = (size_t)(z2 - user);
      pass = z2 + 1, pass_len = (size_t)(end - pass);
    }
  }
  if (user && user_len == strlen(m->username) && memcmp(user, m->username, user_len) == 0 &&
      pass_len == strlen(m->password) && memcmp(pass, m->password, pass_len) == 0) {
    s->ready = true;
    cql_message msg;
    cql_message_init(&msg, CQL_OP_AUTH_SUCCESS);
    msg.u.auth_token = cql_value_null();
    encode(w, rq->version, rq->stream, &msg);
  } else {
    mock_encode_error(w, rq->version, rq->stream, CQL_ERROR_BAD_CREDENTIALS,
                      "Provided username %.*s and/or password are incorrect", (int)user_len,
                      user ? user : "");
  }
}

static unsigned event_bits(const cql_register_msg *reg) {
  unsigned bits = 0;
  for (size_t i = 0; i < reg->n_events; i++) {
    if (cql_str_eq(reg->events[i], "TOPOLOGY_CHANGE"))
      bits |= 1u << CQL_EVENT_TOPOLOGY_CHANGE;
    else if (cql_str_eq(reg->events[i], "STATUS_CHANGE"))
      bits |= 1u << CQL_EVENT_STATUS_CHANGE;
    else if (cql_str_eq(reg->events[i], "SCHEMA_CHANGE"))
      bits |= 1u << CQL_EVENT_SCHEMA_CHANGE;
  }
  return bits;
}

/* ------------------------------------------------------------------------------------------ */
/* Entry point                                                                                 */

/* Bytes of the bound values (NULL and unset count 0). */
static int64_t value_bytes(const cql_value *values, size_t n) {
  int64_t sum = 0;
  for (size_t i = 0; i < n; i++)
    if (values[i].len > 0) sum += values[i].len;
  return sum;
}

static void log_params(cqlmock_request *log, const cql_query_params *p) {
  log->consistency = p->consistency;
  log->serial_consistency = p->has_serial_consistency ? p->serial_consistency : 0;
  log->flags = (uint8_t)p->flags;
  log->values = p->n_values;
  log->value_bytes = value_bytes(p->values, p->n_values);
  log->page_size = p->page_size > 0 ? p->page_size : -1;
  log->has_paging_state = p->paging_state.ptr != NULL;
  log->has_timestamp = p->has_timestamp;
  log->timestamp = p->timestamp;
}

static void log_id(cqlmock_request *log, cql_value id) {
  if (id.len <= 0) return;
  log->prepared_id_len = id.len > 16 ? 16 : (size_t)id.len;
  memcpy(log->prepared_id, id.ptr, log->prepared_id_len);
}

/* Fills the log entry from the decoded request; returns the statement text (or NULL). */
static const char *describe(mock_node *n, const cql_message *req, cqlmock_request *log) {
  switch (req->opcode) {
  case CQL_OP_QUERY:
    log_params(log, &req->u.query.params);
    return req->u.query.query.ptr;
  case CQL_OP_PREPARE:
    return req->u.prepare.query.ptr;
  case CQL_OP_EXECUTE: {
    log_params(log, &req->u.execute.params);
    log_id(log, req->u.execute.id);
    const mock_prepared *prep = find_prepared(n, req->u.execute.id);
    return prep ? prep->query : NULL;
  }
  case CQL_OP_BATCH: {
    const cql_batch_msg *b = &req->u.batch;
    log_params(log, &b->params);
    log->values = 0;
    log->batch_type = b->type;
    log->batch_count = b->n_statements;
    log->value_bytes = 0;
    for (uint16_t i = 0; i < b->n_statements; i++) {
      log->values += b->statements[i].n_values;
      log->value_bytes += value_bytes(b->statements[i].values, b->statements[i].n_values);
    }
    if (b->n_statements == 0) return NULL;
    if (!b->statements[0].is_prepared) return b->statements[0].query.ptr;
    log_id(log, b->statements[0].id);
    const mock_prepared *prep = find_prepared(n, b->statements[0].id);
    return prep ? prep->query : NULL;
  }
  default:
    return NULL;
  }
}

static bool is_statement(uint8_t opcode) {
  return opcode == CQL_OP_QUERY || opcode == CQL_OP_PREPARE || opcode == CQL_OP_EXECUTE ||
         opcode == CQL_OP_BATCH || opcode == CQL_OP_REGISTER;
}

void mock_handle(mock_node *n, mock_session *s, uint64_t conn_id, const cql_frame_header *h,
                 const uint8_t *body, mock_reply *reply) {
  cqlmock *m = n->m;
  int version = cql_header_protocol(h);
  cqlmock_request log = {.connection = conn_id,
                         .node = n->index,
                         .opcode = h->opcode,
                         .version = (uint8_t)version,
                         .stream = h->stream,
                         .page_size = -1,
                         .body_length = h->length,
                         .received_ms = uv_hrtime() / 1000000};
  request_ctx rq = {.n = n, .version = version, .stream = h->stream, .reply = reply};
  reply->action = MOCK_ACT_VOID;
  reply->delay_ms = n->delay_ms;
  cql_writer *w = &reply->frame;

  cql_message req;
  int rc = CQL_RC_UNSUPPORTED;
  bool decoded = false;
  if (version < m->cfg.min_protocol_version || version > m->cfg.max_protocol_version) {
    mock_encode_version_error(m, w, version, h->stream);
  } else if (cql_header_is_response(h) || !cql_opcode_is_request(h->opcode)) {
    mock_encode_error(w, version, h->stream, CQL_ERROR_PROTOCOL, "Unexpected %s message from a client",
                      cql_opcode_name(h->opcode));
  } else if (h->flags & CQL_FLAG_COMPRESSION) {
    mock_encode_error(w, version, h->stream, CQL_ERROR_PROTOCOL, "Compression was not negotiated");
  } else if ((rc = cql_message_decode(&req, h, body, h->length)) < 0) {
    mock_encode_error(w, version, h->stream, CQL_ERROR_PROTOCOL, "Invalid or malformed %s message: %s",
                      cql_opcode_name(h->opcode), cql_rc_str(rc));
  } else {
    decoded = true;
  }
  rq.text = decoded ? describe(n, &req, &log) : NULL;
  if (rq.text && !(log.query = strdup(rq.text))) rq.text = NULL;
  if (m->cfg.verbose)
    fprintf(stderr, "cqlmock: node %d: %s %s\n", n->index, cql_opcode_name(h->opcode),
            rq.text ? rq.text : "");
  mock_log_append(m, &log);
  if (!n->answering) reply->action = MOCK_ACT_NO_ANSWER;
  if (!decoded || !n->answering) {
    if (decoded) cql_message_free(&req);
    return;
  }
  if (s->version == 0) s->version = version;

  if (is_statement(h->opcode) && !s->ready) {
    mock_encode_error(w, version, h->stream, CQL_ERROR_PROTOCOL, "Unexpected message %s, expecting %s",
                      cql_opcode_name(h->opcode), s->started ? "AUTH_RESPONSE" : "STARTUP or OPTIONS");
  } else {
    switch (h->opcode) {
    case CQL_OP_OPTIONS:
      answer_options(&rq);
      break;
    case CQL_OP_STARTUP:
      if (s->started)
        mock_encode_error(w, version, h->stream, CQL_ERROR_PROTOCOL, "Unexpected message STARTUP");
      else
        answer_startup(&rq, s, &req.u.startup);
      break;
    case CQL_OP_AUTH_RESPONSE:
      if (!s->started || s->ready || !m->auth)
        mock_encode_error(w, version, h->stream, CQL_ERROR_PROTOCOL, "Unexpected message AUTH_RESPONSE");
      else
        answer_auth(&rq, s, req.u.auth_token);
      break;
    case CQL_OP_REGISTER:
      s->events |= event_bits(&req.u.reg);
      encode_simple(w, version, h->stream, CQL_OP_READY);
      break;
    case CQL_OP_QUERY:
      rq.params = &req.u.query.params;
      answer_statement(&rq, CQLMOCK_ON_QUERY);
      break;
    case CQL_OP_EXECUTE:
      rq.params = &req.u.execute.params;
      rq.id = req.u.execute.id.len == 16 ? req.u.execute.id.ptr : NULL;
      if (!rq.text)
        answer_unprepared(&rq, req.u.execute.id);
      else
        answer_statement(&rq, CQLMOCK_ON_EXECUTE);
      break;
    case CQL_OP_PREPARE:
      answer_prepare(&rq);
      break;
    case CQL_OP_BATCH:
      answer_batch(&rq, &req.u.batch);
      break;
    default:
      mock_encode_error(w, version, h->stream, CQL_ERROR_PROTOCOL, "Unexpected message %s",
                        cql_opcode_name(h->opcode));
    }
  }
  cql_message_free(&req);
}
