#include "cql/message.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const consistency_names[] = {
    "ANY",          "ONE",         "TWO",    "THREE",        "QUORUM",    "ALL",
    "LOCAL_QUORUM", "EACH_QUORUM", "SERIAL", "LOCAL_SERIAL", "LOCAL_ONE",
};
#define N_CONSISTENCY (sizeof(consistency_names) / sizeof(consistency_names[0]))

const char *cql_consistency_name(int c) {
  return c >= 0 && (size_t)c < N_CONSISTENCY ? consistency_names[c] : "UNKNOWN";
}

bool cql_consistency_parse(const char *name, cql_consistency *out) {
  for (size_t i = 0; name && i < N_CONSISTENCY; i++) {
    if (strcasecmp(name, consistency_names[i]) == 0) {
      *out = (cql_consistency)i;
      return true;
    }
  }
  return false;
}

const char *cql_error_code_name(int32_t code) {
  switch (code) {
  case CQL_ERROR_SERVER:
    return "Server error";
  case CQL_ERROR_PROTOCOL:
    return "Protocol error";
  case CQL_ERROR_BAD_CREDENTIALS:
    return "Bad credentials";
  case CQL_ERROR_UNAVAILABLE:
    return "Unavailable";
  case CQL_ERROR_OVERLOADED:
    return "Overloaded";
  case CQL_ERROR_IS_BOOTSTRAPPING:
    return "Is bootstrapping";
  case CQL_ERROR_TRUNCATE:
    return "Truncate error";
  case CQL_ERROR_WRITE_TIMEOUT:
    return "Write timeout";
  case CQL_ERROR_READ_TIMEOUT:
    return "Read timeout";
  case CQL_ERROR_READ_FAILURE:
    return "Read failure";
  case CQL_ERROR_FUNCTION_FAILURE:
    return "Function failure";
  case CQL_ERROR_WRITE_FAILURE:
    return "Write failure";
  case CQL_ERROR_CDC_WRITE_FAILURE:
    return "CDC write failure";
  case CQL_ERROR_CAS_WRITE_UNKNOWN:
    return "CAS write unknown";
  case CQL_ERROR_SYNTAX:
    return "Syntax error";
  case CQL_ERROR_UNAUTHORIZED:
    return "Unauthorized";
  case CQL_ERROR_INVALID:
    return "Invalid";
  case CQL_ERROR_CONFIG:
    return "Config error";
  case CQL_ERROR_ALREADY_EXISTS:
    return "Already exists";
  case CQL_ERROR_UNPREPARED:
    return "Unprepared";
  default:
    return "Unknown error";
  }
}

void cql_message_init(cql_message *m, uint8_t opcode) {
  memset(m, 0, sizeof(*m));
  m->opcode = opcode;
  cql_arena_init(&m->arena);
}

void cql_message_free(cql_message *m) {
  cql_arena_free(&m->arena);
  memset(m, 0, sizeof(*m));
}

void cql_sasl_plain_token(cql_writer *w, const char *user, const char *password) {
  cql_write_byte(w, 0);
  cql_write_raw(w, user, strlen(user));
  cql_write_byte(w, 0);
  cql_write_raw(w, password, strlen(password));
}

/* ======================================================================================
 * Encoding
 * ====================================================================================== */

static void write_flags(cql_writer *w, int version, uint32_t flags) {
  if (version >= 5)
    cql_write_int(w, (int32_t)flags);
  else
    cql_write_byte(w, (uint8_t)flags);
}

static uint32_t query_flags(const cql_query_params *p, bool batch) {
  uint32_t f = 0;
  if (!batch && p->n_values > 0) f |= CQL_QUERY_FLAG_VALUES;
  if (!batch && p->n_values > 0 && p->value_names) f |= CQL_QUERY_FLAG_NAMES_FOR_VALUES;
  if (!batch && p->skip_metadata) f |= CQL_QUERY_FLAG_SKIP_METADATA;
  if (!batch && p->page_size > 0) f |= CQL_QUERY_FLAG_PAGE_SIZE;
  if (!batch && p->paging_state.ptr) f |= CQL_QUERY_FLAG_PAGING_STATE;
  if (p->has_serial_consistency) f |= CQL_QUERY_FLAG_SERIAL_CONSISTENCY;
  if (p->has_timestamp) f |= CQL_QUERY_FLAG_DEFAULT_TIMESTAMP;
  if (p->keyspace.ptr) f |= CQL_QUERY_FLAG_KEYSPACE;
  if (p->has_now_in_seconds) f |= CQL_QUERY_FLAG_NOW_IN_SECONDS;
  return f;
}

/* Query parameters of QUERY/EXECUTE, or the trailing parameters of BATCH (batch = true). */
static void write_query_params(cql_writer *w, int version, const cql_query_params *p, bool batch) {
  uint32_t f = query_flags(p, batch);
  if (version < 5 && (f & (CQL_QUERY_FLAG_KEYSPACE | CQL_QUERY_FLAG_NOW_IN_SECONDS))) {
    w->err = true; /* v5-only parameters: refuse rather than silently drop them */
    return;
  }
  cql_write_consistency(w, p->consistency);
  write_flags(w, version, f);
  if (f & CQL_QUERY_FLAG_VALUES) {
    cql_write_short(w, p->n_values);
    for (size_t i = 0; i < p->n_values; i++) {
      if (p->value_names) cql_write_string(w, p->value_names[i]);
      cql_write_value(w, p->values[i]);
    }
  }
  if (f & CQL_QUERY_FLAG_PAGE_SIZE) cql_write_int(w, p->page_size);
  if (f & CQL_QUERY_FLAG_PAGING_STATE) cql_write_bytes(w, p->paging_state);
  if (f & CQL_QUERY_FLAG_SERIAL_CONSISTENCY) cql_write_consistency(w, p->serial_consistency);
  if (f & CQL_QUERY_FLAG_DEFAULT_TIMESTAMP) cql_write_long(w, p->timestamp);
  if (f & CQL_QUERY_FLAG_KEYSPACE) cql_write_string(w, p->keyspace);
  if (f & CQL_QUERY_FLAG_NOW_IN_SECONDS) cql_write_int(w, p->now_in_seconds);
}

static void write_batch(cql_writer *w, int version, const cql_batch_msg *b) {
  cql_write_byte(w, b->type);
  cql_write_short(w, b->n_statements);
  for (size_t i = 0; i < b->n_statements; i++) {
    const cql_batch_entry *s = &b->statements[i];
    cql_write_byte(w, s->is_prepared ? 1 : 0);
    if (s->is_prepared)
      cql_write_short_bytes(w, s->id);
    else
      cql_write_long_string(w, s->query);
    cql_write_short(w, s->n_values);
    for (size_t j = 0; j < s->n_values; j++) cql_write_value(w, s->values[j]);
  }
  write_query_params(w, version, &b->params, true);
}

static void write_column_specs(cql_writer *w, int32_t flags, int32_t count, const cql_column_spec *cols) {
  if (count > 0 && !cols) {
    w->err = true;
    return;
  }
  if ((flags & CQL_ROWS_FLAG_GLOBAL_TABLES_SPEC) && count > 0) {
    cql_write_string(w, cols[0].keyspace);
    cql_write_string(w, cols[0].table);
  }
  for (int32_t i = 0; i < count; i++) {
    if (!(flags & CQL_ROWS_FLAG_GLOBAL_TABLES_SPEC)) {
      cql_write_string(w, cols[i].keyspace);
      cql_write_string(w, cols[i].table);
    }
    cql_write_string(w, cols[i].name);
    cql_datatype_write(w, &cols[i].type);
  }
}

static void write_result_metadata(cql_writer *w, const cql_result_metadata *m) {
  cql_write_int(w, m->flags);
  cql_write_int(w, m->column_count);
  if (m->flags & CQL_ROWS_FLAG_HAS_MORE_PAGES) cql_write_bytes(w, m->paging_state);
  if (m->flags & CQL_ROWS_FLAG_METADATA_CHANGED) cql_write_short_bytes(w, m->new_metadata_id);
  if (!(m->flags & CQL_ROWS_FLAG_NO_METADATA)) write_column_specs(w, m->flags, m->column_count, m->columns);
}

static void write_schema_change(cql_writer *w, const cql_schema_change *s) {
  cql_write_string(w, s->change_type);
  cql_write_string(w, s->target);
  cql_write_string(w, s->keyspace);
  if (cql_str_eq(s->target, "KEYSPACE")) return;
  cql_write_string(w, s->name);
  if (cql_str_eq(s->target, "FUNCTION") || cql_str_eq(s->target, "AGGREGATE"))
    cql_write_string_list(w, s->arg_types, s->n_arg_types);
}

static void write_result(cql_writer *w, int version, const cql_result_msg *r) {
  cql_write_int(w, r->kind);
  switch (r->kind) {
  case CQL_RESULT_VOID:
    break;
  case CQL_RESULT_ROWS: {
    const cql_rows_result *rows = &r->rows;
    write_result_metadata(w, &rows->meta);
    cql_write_int(w, rows->row_count);
    size_t cells = (size_t)(rows->row_count > 0 ? rows->row_count : 0) *
                   (size_t)(rows->meta.column_count > 0 ? rows->meta.column_count : 0);
    if (cells > 0 && !rows->cells) w->err = true;
    for (size_t i = 0; i < cells && !w->err; i++) cql_write_bytes(w, rows->cells[i]);
    break;
  }
  case CQL_RESULT_SET_KEYSPACE:
    cql_write_string(w, r->keyspace);
    break;
  case CQL_RESULT_PREPARED: {
    const cql_prepared_result *p = &r->prepared;
    cql_write_short_bytes(w, p->id);
    if (version >= 5) cql_write_short_bytes(w, p->result_metadata_id);
    cql_write_int(w, p->meta.flags);
    cql_write_int(w, p->meta.column_count);
    cql_write_int(w, p->meta.pk_count);
    for (int32_t i = 0; i < p->meta.pk_count; i++) cql_write_short(w, p->meta.pk_indexes[i]);
    write_column_specs(w, p->meta.flags, p->meta.column_count, p->meta.columns);
    write_result_metadata(w, &p->result_meta);
    break;
  }
  case CQL_RESULT_SCHEMA_CHANGE:
    write_schema_change(w, &r->schema_change);
    break;
  default:
    w->err = true;
  }
}

static const char *event_type_name(int type) {
  switch (type) {
  case CQL_EVENT_TOPOLOGY_CHANGE:
    return "TOPOLOGY_CHANGE";
  case CQL_EVENT_STATUS_CHANGE:
    return "STATUS_CHANGE";
  case CQL_EVENT_SCHEMA_CHANGE:
    return "SCHEMA_CHANGE";
  default:
    return NULL;
  }
}

static void write_event(cql_writer *w, const cql_event_msg *e) {
  const char *name = event_type_name(e->type);
  if (!name) {
    w->err = true;
    return;
  }
  cql_write_string(w, cql_str_of(name));
  if (e->type == CQL_EVENT_SCHEMA_CHANGE) {
    write_schema_change(w, &e->schema_change);
  } else {
    cql_write_string(w, e->change);
    cql_write_inet(w, &e->address);
  }
}

/* v4 <numfailures> or v5 <reasonmap>. */
static void write_failures(cql_writer *w, int version, const cql_error *e) {
  if (version < 5) {
    cql_write_int(w, e->num_failures);
    return;
  }
  cql_write_int(w, (int32_t)e->n_reasons);
  for (size_t i = 0; i < e->n_reasons; i++) {
    cql_write_inetaddr(w, &e->reasons[i].endpoint);
    cql_write_short(w, e->reasons[i].code);
  }
}

static void write_error(cql_writer *w, int version, const cql_error *e) {
  cql_write_int(w, e->code);
  cql_write_string(w, e->message);
  switch (e->code) {
  case CQL_ERROR_UNAVAILABLE:
    cql_write_consistency(w, e->consistency);
    cql_write_int(w, e->required);
    cql_write_int(w, e->alive);
    break;
  case CQL_ERROR_WRITE_TIMEOUT:
  case CQL_ERROR_READ_TIMEOUT:
  case CQL_ERROR_READ_FAILURE:
  case CQL_ERROR_WRITE_FAILURE:
  case CQL_ERROR_CAS_WRITE_UNKNOWN:
    cql_write_consistency(w, e->consistency);
    cql_write_int(w, e->received);
    cql_write_int(w, e->block_for);
    if (e->code == CQL_ERROR_READ_FAILURE || e->code == CQL_ERROR_WRITE_FAILURE)
      write_failures(w, version, e);
    if (e->code == CQL_ERROR_READ_TIMEOUT || e->code == CQL_ERROR_READ_FAILURE)
      cql_write_byte(w, e->data_present ? 1 : 0);
    if (e->code == CQL_ERROR_WRITE_TIMEOUT || e->code == CQL_ERROR_WRITE_FAILURE)
      cql_write_string(w, e->write_type);
    if (e->code == CQL_ERROR_WRITE_TIMEOUT && version >= 5 && cql_str_eq(e->write_type, "CAS"))
      cql_write_short(w, e->contentions);
    break;
  case CQL_ERROR_FUNCTION_FAILURE:
    cql_write_string(w, e->keyspace);
    cql_write_string(w, e->function);
    cql_write_string_list(w, e->arg_types, e->n_arg_types);
    break;
  case CQL_ERROR_ALREADY_EXISTS:
    cql_write_string(w, e->keyspace);
    cql_write_string(w, e->table);
    break;
  case CQL_ERROR_UNPREPARED:
    cql_write_short_bytes(w, e->unprepared_id);
    break;
  default:
    break;
  }
}

static void write_body(cql_writer *w, int version, const cql_message *m) {
  const bool v5 = version >= 5;
  switch (m->opcode) {
  case CQL_OP_STARTUP:
    cql_write_string_map(w, m->u.startup.options, m->u.startup.n_options);
    break;
  case CQL_OP_OPTIONS:
  case CQL_OP_READY:
    break;
  case CQL_OP_AUTHENTICATE:
    cql_write_string(w, m->u.authenticator);
    break;
  case CQL_OP_AUTH_RESPONSE:
  case CQL_OP_AUTH_CHALLENGE:
  case CQL_OP_AUTH_SUCCESS:
    cql_write_bytes(w, m->u.auth_token);
    break;
  case CQL_OP_SUPPORTED:
    cql_write_string_multimap(w, m->u.supported.entries, m->u.supported.n_entries);
    break;
  case CQL_OP_QUERY:
    cql_write_long_string(w, m->u.query.query);
    write_query_params(w, version, &m->u.query.params, false);
    break;
  case CQL_OP_PREPARE:
    cql_write_long_string(w, m->u.prepare.query);
    if (v5) {
      cql_write_int(w, m->u.prepare.keyspace.ptr ? 0x01 : 0);
      if (m->u.prepare.keyspace.ptr) cql_write_string(w, m->u.prepare.keyspace);
    } else if (m->u.prepare.keyspace.ptr) {
      w->err = true;
    }
    break;
  case CQL_OP_EXECUTE:
    cql_write_short_bytes(w, m->u.execute.id);
    if (v5) cql_write_short_bytes(w, m->u.execute.result_metadata_id);
    write_query_params(w, version, &m->u.execute.params, false);
    break;
  case CQL_OP_BATCH:
    write_batch(w, version, &m->u.batch);
    break;
  case CQL_OP_REGISTER:
    cql_write_string_list(w, m->u.reg.events, m->u.reg.n_events);
    break;
  case CQL_OP_RESULT:
    write_result(w, version, &m->u.result);
    break;
  case CQL_OP_EVENT:
    write_event(w, &m->u.event);
    break;
  case CQL_OP_ERROR:
    write_error(w, version, &m->u.error);
    break;
  default:
    w->err = true;
  }
}

int cql_message_encode_body(cql_writer *w, int version, const cql_message *m, uint8_t *prefix_flags) {
  if (version < 3 || version > 5) return CQL_RC_UNSUPPORTED;
  if (!cql_opcode_is_request(m->opcode) && !cql_opcode_is_response(m->opcode)) return CQL_RC_UNSUPPORTED;
  if (!cql_writer_ok(w)) return w->nomem ? CQL_RC_NOMEM : CQL_RC_MALFORMED;
  size_t start = w->len;
  uint8_t flags = 0;
  if (cql_opcode_is_response(m->opcode)) {
    if (m->has_tracing_id) {
      flags |= CQL_FLAG_TRACING;
      cql_write_uuid(w, m->tracing_id);
    }
    if (m->n_warnings > 0) {
      flags |= CQL_FLAG_WARNING;
      cql_write_string_list(w, m->warnings, m->n_warnings);
    }
  }
  if (m->n_custom_payload > 0) {
    flags |= CQL_FLAG_CUSTOM_PAYLOAD;
    cql_write_bytes_map(w, m->custom_payload, m->n_custom_payload);
  }
  write_body(w, version, m);
  if (prefix_flags) *prefix_flags = flags;
  if (!cql_writer_ok(w)) { /* roll back; the writer stays usable */
    int rc = w->nomem ? CQL_RC_NOMEM : CQL_RC_MALFORMED;
    w->len = start;
    w->err = w->nomem = false;
    return rc;
  }
  return CQL_OK;
}

int cql_message_encode_frame(cql_writer *w, int version, uint8_t flags, int16_t stream,
                             const cql_message *m) {
  if (version < 3 || version > 5) return CQL_RC_UNSUPPORTED;
  uint8_t vbyte = (uint8_t)version | (cql_opcode_is_response(m->opcode) ? CQL_VERSION_RESPONSE_BIT : 0);
  size_t pos = cql_frame_begin(w, vbyte, flags, stream, m->opcode);
  if (!cql_writer_ok(w)) return CQL_RC_NOMEM;
  uint8_t prefix = 0;
  int rc = cql_message_encode_body(w, version, m, &prefix);
  if (rc == CQL_OK) rc = cql_frame_end(w, pos);
  if (rc != CQL_OK) {
    w->len = pos;
    return rc;
  }
  w->data[pos + 1] |= prefix;
  return CQL_OK;
}

/* ======================================================================================
 * Decoding: every function reads through r (sticky error) and copies into m->arena.
 * ====================================================================================== */

#define STR(r, a) cql_arena_str((a), (r), cql_read_string(r))

/* Allocates n elements after checking that n elements of at least min_size bytes each can
 * still be present in the input. */
static void *alloc_counted(cql_reader *r, cql_arena *a, int64_t n, size_t min_size, size_t elem_size) {
  if (!cql_reader_ok(r)) return NULL;
  if (n < 0 || (uint64_t)n > cql_reader_remaining(r) / min_size) {
    cql_reader_fail(r);
    return NULL;
  }
  void *p = cql_arena_calloc(a, n ? (size_t)n : 1, elem_size);
  if (!p) cql_reader_fail(r);
  return p;
}

static void read_values(cql_reader *r, cql_arena *a, uint16_t n, bool named, const cql_value **values,
                        const cql_str **names) {
  cql_value *vals = alloc_counted(r, a, n, named ? 6 : 4, sizeof(*vals));
  cql_str *nms = named ? alloc_counted(r, a, n, 6, sizeof(*nms)) : NULL;
  for (size_t i = 0; vals && i < n && cql_reader_ok(r); i++) {
    if (nms) nms[i] = STR(r, a);
    vals[i] = cql_arena_value(a, r, cql_read_value(r));
  }
  *values = vals;
  if (names) *names = nms;
}

static void read_query_params(cql_reader *r, cql_arena *a, int version, cql_query_params *p, bool batch) {
  p->consistency = cql_read_consistency(r);
  uint32_t f = version >= 5 ? (uint32_t)cql_read_int(r) : cql_read_byte(r);
  p->flags = f;
  if (!batch && (f & CQL_QUERY_FLAG_VALUES)) {
    p->n_values = cql_read_short(r);
    read_values(r, a, p->n_values, f & CQL_QUERY_FLAG_NAMES_FOR_VALUES, &p->values, &p->value_names);
  }
  if (!batch) {
    p->skip_metadata = f & CQL_QUERY_FLAG_SKIP_METADATA;
    if (f & CQL_QUERY_FLAG_PAGE_SIZE) p->page_size = cql_read_int(r);
    if (f & CQL_QUERY_FLAG_PAGING_STATE) {
      p->paging_state = cql_arena_value(a, r, cql_read_bytes(r));
      if (!p->paging_state.ptr) p->paging_state.ptr = (const uint8_t *)""; /* present even when NULL */
    }
  }
  if (f & CQL_QUERY_FLAG_SERIAL_CONSISTENCY) {
    p->has_serial_consistency = true;
    p->serial_consistency = cql_read_consistency(r);
  }
  if (f & CQL_QUERY_FLAG_DEFAULT_TIMESTAMP) {
    p->has_timestamp = true;
    p->timestamp = cql_read_long(r);
  }
  if (version >= 5 && (f & CQL_QUERY_FLAG_KEYSPACE)) p->keyspace = STR(r, a);
  if (version >= 5 && (f & CQL_QUERY_FLAG_NOW_IN_SECONDS)) {
    p->has_now_in_seconds = true;
    p->now_in_seconds = cql_read_int(r);
  }
}

static void read_batch(cql_reader *r, cql_arena *a, int version, cql_batch_msg *b) {
  b->type = cql_read_byte(r);
  b->n_statements = cql_read_short(r);
  cql_batch_entry *st = alloc_counted(r, a, b->n_statements, 5, sizeof(*st));
  for (size_t i = 0; st && i < b->n_statements && cql_reader_ok(r); i++) {
    uint8_t kind = cql_read_byte(r);
    if (kind > 1) cql_reader_fail(r);
    st[i].is_prepared = kind == 1;
    if (st[i].is_prepared)
      st[i].id = cql_arena_value(a, r, cql_read_short_bytes(r));
    else
      st[i].query = cql_arena_str(a, r, cql_read_long_string(r));
    st[i].n_values = cql_read_short(r);
    read_values(r, a, st[i].n_values, false, &st[i].values, NULL);
  }
  b->statements = st;
  read_query_params(r, a, version, &b->params, true);
}

static const cql_column_spec *read_column_specs(cql_reader *r, cql_arena *a, int32_t flags, int32_t count) {
  cql_str gks = {0}, gtable = {0};
  bool global = (flags & CQL_ROWS_FLAG_GLOBAL_TABLES_SPEC) && count > 0;
  if (global) {
    gks = STR(r, a);
    gtable = STR(r, a);
  }
  cql_column_spec *cols = alloc_counted(r, a, count, 4, sizeof(*cols));
  for (int32_t i = 0; cols && i < count && cql_reader_ok(r); i++) {
    cols[i].keyspace = global ? gks : STR(r, a);
    cols[i].table = global ? gtable : STR(r, a);
    cols[i].name = STR(r, a);
    cql_datatype_read(r, a, &cols[i].type);
  }
  return cols;
}

static void read_result_metadata(cql_reader *r, cql_arena *a, cql_result_metadata *m) {
  m->flags = cql_read_int(r);
  m->column_count = cql_read_int(r);
  if (m->column_count < 0) cql_reader_fail(r);
  if (m->flags & CQL_ROWS_FLAG_HAS_MORE_PAGES) m->paging_state = cql_arena_value(a, r, cql_read_bytes(r));
  if (m->flags & CQL_ROWS_FLAG_METADATA_CHANGED)
    m->new_metadata_id = cql_arena_value(a, r, cql_read_short_bytes(r));
  if (!(m->flags & CQL_ROWS_FLAG_NO_METADATA))
    m->columns = read_column_specs(r, a, m->flags, m->column_count);
}

static void read_schema_change(cql_reader *r, cql_arena *a, cql_schema_change *s) {
  s->change_type = STR(r, a);
  s->target = STR(r, a);
  s->keyspace = STR(r, a);
  if (!cql_reader_ok(r) || cql_str_eq(s->target, "KEYSPACE")) return;
  bool fn = cql_str_eq(s->target, "FUNCTION") || cql_str_eq(s->target, "AGGREGATE");
  if (!fn && !cql_str_eq(s->target, "TABLE") && !cql_str_eq(s->target, "TYPE")) {
    cql_reader_fail(r);
    return;
  }
  s->name = STR(r, a);
  if (fn) cql_read_string_list(r, a, &s->arg_types, &s->n_arg_types);
}

static void read_result(cql_reader *r, cql_arena *a, int version, cql_result_msg *res) {
  res->kind = cql_read_int(r);
  switch (res->kind) {
  case CQL_RESULT_VOID:
    break;
  case CQL_RESULT_ROWS: {
    cql_rows_result *rows = &res->rows;
    read_result_metadata(r, a, &rows->meta);
    rows->row_count = cql_read_int(r);
    if (!cql_reader_ok(r) || rows->row_count < 0) {
      cql_reader_fail(r);
      break;
    }
    int64_t cells = (int64_t)rows->row_count * rows->meta.column_count; /* both < 2^31 */
    cql_value *cv = alloc_counted(r, a, cells, 4, sizeof(*cv));
    for (int64_t i = 0; cv && i < cells && cql_reader_ok(r); i++)
      cv[i] = cql_arena_value(a, r, cql_read_bytes(r));
    rows->cells = cv;
    break;
  }
  case CQL_RESULT_SET_KEYSPACE:
    res->keyspace = STR(r, a);
    break;
  case CQL_RESULT_PREPARED: {
    cql_prepared_result *p = &res->prepared;
    p->id = cql_arena_value(a, r, cql_read_short_bytes(r));
    if (version >= 5) p->result_metadata_id = cql_arena_value(a, r, cql_read_short_bytes(r));
    p->meta.flags = cql_read_int(r);
    p->meta.column_count = cql_read_int(r);
    p->meta.pk_count = cql_read_int(r);
    uint16_t *pk = alloc_counted(r, a, p->meta.pk_count, 2, sizeof(*pk));
    for (int32_t i = 0; pk && i < p->meta.pk_count; i++) pk[i] = cql_read_short(r);
    p->meta.pk_indexes = pk;
    p->meta.columns = read_column_specs(r, a, p->meta.flags, p->meta.column_count);
    read_result_metadata(r, a, &p->result_meta);
    break;
  }
  case CQL_RESULT_SCHEMA_CHANGE:
    read_schema_change(r, a, &res->schema_change);
    break;
  default:
    cql_reader_fail(r);
  }
}

static void read_event(cql_reader *r, cql_arena *a, cql_event_msg *e) {
  cql_str type = cql_read_string(r);
  if (cql_str_eq(type, "SCHEMA_CHANGE")) {
    e->type = CQL_EVENT_SCHEMA_CHANGE;
    read_schema_change(r, a, &e->schema_change);
    return;
  }
  if (cql_str_eq(type, "TOPOLOGY_CHANGE"))
    e->type = CQL_EVENT_TOPOLOGY_CHANGE;
  else if (cql_str_eq(type, "STATUS_CHANGE"))
    e->type = CQL_EVENT_STATUS_CHANGE;
  else
    cql_reader_fail(r);
  e->change = STR(r, a);
  cql_read_inet(r, &e->address);
}

static void read_failures(cql_reader *r, cql_arena *a, int version, cql_error *e) {
  e->num_failures = cql_read_int(r);
  if (version < 5) return;
  cql_failure_reason *reasons = alloc_counted(r, a, e->num_failures, 7, sizeof(*reasons));
  for (int32_t i = 0; reasons && i < e->num_failures && cql_reader_ok(r); i++) {
    cql_read_inetaddr(r, &reasons[i].endpoint);
    reasons[i].code = cql_read_short(r);
  }
  e->reasons = reasons;
  e->n_reasons = reasons ? (size_t)e->num_failures : 0;
}

static void read_error(cql_reader *r, cql_arena *a, int version, cql_error *e) {
  e->code = cql_read_int(r);
  e->name = cql_error_code_name(e->code);
  e->message = STR(r, a);
  switch (e->code) {
  case CQL_ERROR_UNAVAILABLE:
    e->consistency = cql_read_consistency(r);
    e->required = cql_read_int(r);
    e->alive = cql_read_int(r);
    break;
  case CQL_ERROR_WRITE_TIMEOUT:
  case CQL_ERROR_READ_TIMEOUT:
  case CQL_ERROR_READ_FAILURE:
  case CQL_ERROR_WRITE_FAILURE:
  case CQL_ERROR_CAS_WRITE_UNKNOWN:
    e->consistency = cql_read_consistency(r);
    e->received = cql_read_int(r);
    e->block_for = cql_read_int(r);
    if (e->code == CQL_ERROR_READ_FAILURE || e->code == CQL_ERROR_WRITE_FAILURE)
      read_failures(r, a, version, e);
    if (e->code == CQL_ERROR_READ_TIMEOUT || e->code == CQL_ERROR_READ_FAILURE)
      e->data_present = cql_read_byte(r);
    if (e->code == CQL_ERROR_WRITE_TIMEOUT || e->code == CQL_ERROR_WRITE_FAILURE) e->write_type = STR(r, a);
    if (e->code == CQL_ERROR_WRITE_TIMEOUT && version >= 5 && cql_str_eq(e->write_type, "CAS")) {
      e->has_contentions = true;
      e->contentions = cql_read_short(r);
    }
    break;
  case CQL_ERROR_FUNCTION_FAILURE:
    e->keyspace = STR(r, a);
    e->function = STR(r, a);
    cql_read_string_list(r, a, &e->arg_types, &e->n_arg_types);
    break;
  case CQL_ERROR_ALREADY_EXISTS:
    e->keyspace = STR(r, a);
    e->table = STR(r, a);
    break;
  case CQL_ERROR_UNPREPARED:
    e->unprepared_id = cql_arena_value(a, r, cql_read_short_bytes(r));
    break;
  default:
    break;
  }
}

static void read_body(cql_reader *r, cql_message *m, int version) {
  cql_arena *a = &m->arena;
  switch (m->opcode) {
  case CQL_OP_STARTUP:
    cql_read_string_map(r, a, &m->u.startup.options, &m->u.startup.n_options);
    break;
  case CQL_OP_OPTIONS:
  case CQL_OP_READY:
    break;
  case CQL_OP_AUTHENTICATE:
    m->u.authenticator = STR(r, a);
    break;
  case CQL_OP_AUTH_RESPONSE:
  case CQL_OP_AUTH_CHALLENGE:
  case CQL_OP_AUTH_SUCCESS:
    m->u.auth_token = cql_arena_value(a, r, cql_read_bytes(r));
    break;
  case CQL_OP_SUPPORTED:
    cql_read_string_multimap(r, a, &m->u.supported.entries, &m->u.supported.n_entries);
    break;
  case CQL_OP_QUERY:
    m->u.query.query = cql_arena_str(a, r, cql_read_long_string(r));
    read_query_params(r, a, version, &m->u.query.params, false);
    break;
  case CQL_OP_PREPARE:
    m->u.prepare.query = cql_arena_str(a, r, cql_read_long_string(r));
    if (version >= 5 && (cql_read_int(r) & 0x01)) m->u.prepare.keyspace = STR(r, a);
    break;
  case CQL_OP_EXECUTE:
    m->u.execute.id = cql_arena_value(a, r, cql_read_short_bytes(r));
    if (version >= 5) m->u.execute.result_metadata_id = cql_arena_value(a, r, cql_read_short_bytes(r));
    read_query_params(r, a, version, &m->u.execute.params, false);
    break;
  case CQL_OP_BATCH:
    read_batch(r, a, version, &m->u.batch);
    break;
  case CQL_OP_REGISTER:
    cql_read_string_list(r, a, &m->u.reg.events, &m->u.reg.n_events);
    break;
  case CQL_OP_RESULT:
    read_result(r, a, version, &m->u.result);
    break;
  case CQL_OP_EVENT:
    read_event(r, a, &m->u.event);
    break;
  case CQL_OP_ERROR:
    read_error(r, a, version, &m->u.error);
    break;
  default:
    cql_reader_fail(r);
  }
}

int cql_message_decode(cql_message *out, const cql_frame_header *h, const uint8_t *body, size_t len) {
  cql_message_init(out, h->opcode);
  int version = cql_header_protocol(h);
  bool response = cql_header_is_response(h);
  if (version < 3 || version > 5) return CQL_RC_UNSUPPORTED;
  if (response ? !cql_opcode_is_response(h->opcode) : !cql_opcode_is_request(h->opcode))
    return CQL_RC_UNSUPPORTED;

  cql_reader r;
  cql_reader_init(&r, body, len);
  if (response && (h->flags & CQL_FLAG_TRACING)) out->has_tracing_id = cql_read_uuid(&r, out->tracing_id);
  if (response && (h->flags & CQL_FLAG_WARNING))
    cql_read_string_list(&r, &out->arena, &out->warnings, &out->n_warnings);
  if (h->flags & CQL_FLAG_CUSTOM_PAYLOAD)
    cql_read_bytes_map(&r, &out->arena, &out->custom_payload, &out->n_custom_payload);
  read_body(&r, out, version);
  if (!cql_reader_ok(&r)) {
    cql_message_free(out);
    return CQL_RC_MALFORMED;
  }
  return CQL_OK;
}

char *cql_error_format(const cql_error *e, char *buf, size_t size) {
  if (size == 0) return buf;
  int msg_len = e->message.len > 1024 ? 1024 : (int)e->message.len;
  int n = snprintf(buf, size, "%s (0x%04x): %.*s", cql_error_code_name(e->code), (unsigned)e->code, msg_len,
                   e->message.ptr ? e->message.ptr : "");
  if (n < 0 || (size_t)n >= size) return buf;
  size_t used = (size_t)n;
  const char *cl = cql_consistency_name(e->consistency);
  switch (e->code) {
  case CQL_ERROR_UNAVAILABLE:
    snprintf(buf + used, size - used, " [cl=%s required=%d alive=%d]", cl, (int)e->required, (int)e->alive);
    break;
  case CQL_ERROR_WRITE_TIMEOUT:
  case CQL_ERROR_WRITE_FAILURE:
    snprintf(buf + used, size - used, " [cl=%s received=%d block_for=%d write_type=%.*s]", cl,
             (int)e->received, (int)e->block_for, (int)(e->write_type.len > 64 ? 64 : e->write_type.len),
             e->write_type.ptr ? e->write_type.ptr : "");
    break;
  case CQL_ERROR_READ_TIMEOUT:
  case CQL_ERROR_READ_FAILURE:
    snprintf(buf + used, size - used, " [cl=%s received=%d block_for=%d data_present=%d]", cl,
             (int)e->received, (int)e->block_for, e->data_present ? 1 : 0);
    break;
  case CQL_ERROR_CAS_WRITE_UNKNOWN:
    snprintf(buf + used, size - used, " [cl=%s received=%d block_for=%d]", cl, (int)e->received,
             (int)e->block_for);
    break;
  default:
    break;
  }
  return buf;
}
