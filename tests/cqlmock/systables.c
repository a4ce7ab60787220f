/* cqlmock system tables: system.local, system.peers, system.peers_v2, system_schema.keyspaces.
 *
 * Rows are generated from the cluster config as text cells, then encoded with the same
 * text-to-value code primes use. `SELECT a, b FROM t` returns the named columns in that order
 * (unknown names -> Invalid); WHERE is only honoured for system_schema.keyspaces'
 * keyspace_name. Any other unprimed SELECT gets an empty result whose columns are the selected
 * names (type blob). A user prime on the same text always wins over these. */
#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uuid/uuid.h>

#include "mock.h"

#define MAX_COLS        20
#define RELEASE_VERSION "4.0.11"
#define PARTITIONER     "org.apache.cassandra.dht.Murmur3Partitioner"

typedef struct column_def {
  const char *name;
  const char *type;
} column_def;

static const column_def local_cols[] = {
    {"key", "text"},
    {"bootstrapped", "text"},
    {"broadcast_address", "inet"},
    {"broadcast_port", "int"},
    {"cluster_name", "text"},
    {"cql_version", "text"},
    {"data_center", "text"},
    {"gossip_generation", "int"},
    {"host_id", "uuid"},
    {"listen_address", "inet"},
    {"listen_port", "int"},
    {"native_protocol_version", "text"},
    {"partitioner", "text"},
    {"rack", "text"},
    {"release_version", "text"},
    {"rpc_address", "inet"},
    {"rpc_port", "int"},
    {"schema_version", "uuid"},
    {"tokens", "set<text>"},
};

static const column_def peers_cols[] = {
    {"peer", "inet"},         {"data_center", "text"},    {"host_id", "uuid"},
    {"preferred_ip", "inet"}, {"rack", "text"},           {"release_version", "text"},
    {"rpc_address", "inet"},  {"schema_version", "uuid"}, {"tokens", "set<text>"},
};

static const column_def peers_v2_cols[] = {
    {"peer", "inet"},           {"peer_port", "int"},
    {"data_center", "text"},    {"host_id", "uuid"},
    {"native_address", "inet"}, {"native_port", "int"},
    {"preferred_ip", "inet"},   {"preferred_port", "int"},
    {"rack", "text"},           {"release_version", "text"},
    {"schema_version", "uuid"}, {"tokens", "set<text>"},
};

static const column_def keyspaces_cols[] = {
    {"keyspace_name", "text"},
    {"durable_writes", "boolean"},
    {"replication", "map<text, text>"},
};

typedef enum table_id { T_LOCAL, T_PEERS, T_PEERS_V2, T_KEYSPACES } table_id;

static const struct {
  const char *name;
  const column_def *cols;
  size_t n_cols;
} tables[] = {
    [T_LOCAL] = {"system.local", local_cols, sizeof local_cols / sizeof local_cols[0]},
    [T_PEERS] = {"system.peers", peers_cols, sizeof peers_cols / sizeof peers_cols[0]},
    [T_PEERS_V2] = {"system.peers_v2", peers_v2_cols, sizeof peers_v2_cols / sizeof peers_v2_cols[0]},
    [T_KEYSPACES] = {"system_schema.keyspaces", keyspaces_cols,
                     sizeof keyspaces_cols / sizeof keyspaces_cols[0]},
};

/* A table's rows as text cells (all columns), strings in the arena. */
typedef struct text_rows {
  cql_arena *a;
  size_t n_rows, cap;
  const char *(*cells)[MAX_COLS];
  bool oom;
} text_rows;

static const char *(*new_row(text_rows *t))[MAX_COLS] {
  if (t->n_rows == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 8;
    const char *(*grown)[MAX_COLS] = realloc(t->cells, cap * sizeof *grown);
    if (!grown) {
      t->oom = true;
      return NULL;
    }
    t->cells = grown;
    t->cap = cap;
  }
  memset(t->cells[t->n_rows], 0, sizeof t->cells[0]);
  return &t->cells[t->n_rows++];
}

static const char *str(text_rows *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *str(text_rows *t, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  const char *copy = cql_arena_strndup(t->a, buf, strlen(buf));
  if (!copy) t->oom = true;
  return copy;
}

static const char *uuid_text(text_rows *t, const uint8_t id[16]) {
  char buf[37];
  uuid_unparse_lower(id, buf);
  return str(t, "%s", buf);
}

/* "1,2" -> ["1","2"] */
static const char *tokens_json(text_rows *t, const char *tokens) {
  char buf[2048];
  size_t off = 0;
  buf[off++] = '[';
  for (const char *s = tokens; *s;) {
    s += strspn(s, " ,");
    size_t len = strcspn(s, " ,");
    if (len && off + len + 4 < sizeof buf)
      off += (size_t)snprintf(buf + off, sizeof buf - off, "%s\"%.*s\"", off > 1 ? "," : "", (int)len, s);
    s += len;
  }
  buf[off++] = ']';
  buf[off] = '\0';
  return str(t, "%s", buf);
}

static void local_row(text_rows *t, const mock_node *n) {
  const char *(*row)[MAX_COLS] = new_row(t);
  if (!row) return;
  const cqlmock *m = n->m;
  const char *values[] = {
      "local",
      "COMPLETED",
      n->host,
      "7000",
      m->cluster_name,
      "3.4.5",
      n->datacenter,
      "1700000000",
      uuid_text(t, n->host_id),
      n->host,
      "7000",
      str(t, "%d", m->cfg.max_protocol_version),
      PARTITIONER,
      n->rack,
      RELEASE_VERSION,
      n->host,
      str(t, "%u", n->port),
      uuid_text(t, m->schema_version),
      tokens_json(t, n->tokens),
  };
  memcpy(*row, values, sizeof values);
}

static void peer_rows(text_rows *t, const mock_node *self, bool v2) {
  const cqlmock *m = self->m;
  for (int i = 0; i < m->n_nodes; i++) {
    const mock_node *p = &m->nodes[i];
    if (p == self) continue;
    const char *(*row)[MAX_COLS] = new_row(t);
    if (!row) return;
    const char *host_id = uuid_text(t, p->host_id), *schema = uuid_text(t, m->schema_version);
    const char *tokens = tokens_json(t, p->tokens);
    if (v2) {
      const char *values[] = {p->host, "7000", p->datacenter, host_id,         p->host, str(t, "%u", p->port),
                              NULL,    NULL,   p->rack,       RELEASE_VERSION, schema,  tokens};
      memcpy(*row, values, sizeof values);
    } else {
      const char *values[] = {p->host,         p->datacenter, host_id, NULL,  p->rack,
                              RELEASE_VERSION, p->host,       schema,  tokens};
      memcpy(*row, values, sizeof values);
    }
  }
}

/* Replication map in CQL ('a': 'b', 'rf': 3) or JSON syntax -> JSON object of strings. */
static const char *replication_json(text_rows *t, const char *replication) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", replication);
  for (char *c = buf; *c; c++)
    if (*c == '\'') *c = '"';
  json_t *doc = json_loads(buf, 0, NULL);
  if (!json_is_object(doc)) {
    json_decref(doc);
    return NULL;
  }
  json_t *out = json_object();
  const char *key;
  json_t *val;
  json_object_foreach(doc, key, val) {
    char *owned = NULL;
    const char *text = json_is_string(val) ? json_string_value(val) : NULL;
    if (!text) {
      owned = json_dumps(val, JSON_ENCODE_ANY);
      text = owned;
    }
    if (text) json_object_set_new(out, key, json_string(text));
    free(owned);
  }
  char *dumped = json_dumps(out, JSON_COMPACT);
  const char *result = dumped ? str(t, "%s", dumped) : NULL;
  free(dumped);
  json_decref(out);
  json_decref(doc);
  return result;
}

static void keyspace_rows(text_rows *t, const cqlmock *m, const char *only) {
  static const char *const builtin[][2] = {
      {"system", "{\"class\":\"org.apache.cassandra.locator.LocalStrategy\"}"},
      {"system_schema", "{\"class\":\"org.apache.cassandra.locator.LocalStrategy\"}"},
      {"system_auth",
       "{\"class\":\"org.apache.cassandra.locator.SimpleStrategy\",\"replication_factor\":\"1\"}"},
  };
  for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
    if (only && strcmp(only, builtin[i][0]) != 0) continue;
    const char *(*row)[MAX_COLS] = new_row(t);
    if (!row) return;
    (*row)[0] = builtin[i][0];
    (*row)[1] = "true";
    (*row)[2] = builtin[i][1];
  }
  if (!m->cfg.keyspace || (only && strcmp(only, m->cfg.keyspace) != 0)) return;
  const char *repl = m->cfg.replication ? m->cfg.replication
                                        : "{'class': 'org.apache.cassandra.locator.SimpleStrategy', "
                                          "'replication_factor': '1'}";
  const char *(*row)[MAX_COLS] = new_row(t);
  if (!row) return;
  (*row)[0] = m->cfg.keyspace;
  (*row)[1] = "true";
  (*row)[2] = replication_json(t, repl);
  if (!(*row)[2]) t->oom = true;
}

/* ------------------------------------------------------------------------------------------ */
/* Query parsing                                                                               */

/* Position of the keyword (whole word, case-insensitive) in s, or NULL. */
static const char *find_word(const char *s, const char *word) {
  size_t len = strlen(word);
  for (const char *p = s; *p; p++) {
    bool starts = p == s || (!isalnum((unsigned char)p[-1]) && p[-1] != '_');
    if (starts && strncasecmp(p, word, len) == 0 && !isalnum((unsigned char)p[len]) && p[len] != '_')
      return p;
  }
  return NULL;
}

/* The quoted value in "... <column> = 'value'", copied into out. */
static bool where_value(const char *where, const char *column, char *out, size_t size) {
  const char *p = where ? find_word(where, column) : NULL;
  if (!p) return false;
  p += strlen(column);
  p += strspn(p, " \t\r\n");
  if (*p != '=') return false;
  p += 1 + strspn(p + 1, " \t\r\n");
  if (*p != '\'') return false;
  size_t len = strcspn(p + 1, "'");
  snprintf(out, size, "%.*s", (int)len, p + 1);
  return true;
}

/* Splits the select list into column names (lowercased unless quoted); "*" gives 0 names. */
static int select_list(const char *query, const char *from, char names[][64], size_t *n) {
  const char *sel = find_word(query, "select");
  char list[1024];
  snprintf(list, sizeof list, "%.*s", sel && sel < from ? (int)(from - sel - 6) : 0, sel ? sel + 6 : "");
  *n = 0;
  if (strchr(list, '*')) return 0;
  char *save = NULL;
  for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    tok += strspn(tok, " \t\r\n");
    bool quoted = *tok == '"';
    tok += quoted;
    tok[strcspn(tok, quoted ? "\"" : " \t\r\n")] = '\0';
    if (*n == MAX_COLS) return -1;
    snprintf(names[*n], 64, "%s", tok);
    for (char *c = names[*n]; !quoted && *c; c++) *c = (char)tolower((unsigned char)*c);
    (*n)++;
  }
  return 0;
}

/* Empty Rows for an unprimed SELECT: one blob column per selected name ("key" for "*"). */
static void empty_select(const char *name, size_t name_len, char names[][64], size_t n, int version,
                         int16_t stream, const char *query, cql_writer *w) {
  char ks[128] = "ks", table[128] = "t";
  const char *dot = memchr(name, '.', name_len);
  if (dot) {
    snprintf(ks, sizeof ks, "%.*s", (int)(dot - name), name);
    snprintf(table, sizeof table, "%.*s", (int)(name + name_len - dot - 1), dot + 1);
  } else if (name_len) {
    snprintf(table, sizeof table, "%.*s", (int)name_len, name);
  }
  const char *cols[MAX_COLS], *types[MAX_COLS];
  if (n == 0) snprintf(names[n++], 64, "key");
  for (size_t i = 0; i < n; i++) cols[i] = names[i], types[i] = "blob";
  cql_arena arena;
  cql_arena_init(&arena);
  mock_rows rows = {0};
  char err[MOCK_ERR_SIZE];
  if (mock_rows_set_columns(&rows, &arena, ks, table, n, cols, types, err) < 0)
    mock_encode_error(w, version, stream, CQL_ERROR_SERVER, "cqlmock: %s", err);
  else
    mock_encode_rows(w, version, stream, &rows, NULL, query);
  mock_rows_free(&rows);
  cql_arena_free(&arena);
}

void mock_select_builtin(mock_node *n, const char *query, int version, int16_t stream,
                         const cql_query_params *params, cql_writer *w) {
  const char *from = find_word(query, "from");
  const char *name = from ? from + 4 + strspn(from + 4, " \t\r\n") : "";
  size_t name_len = strcspn(name, " \t\r\n;");
  char selected[MAX_COLS][64];
  size_t n_selected;
  if (select_list(query, from ? from : query + strlen(query), selected, &n_selected) < 0) {
    mock_encode_error(w, version, stream, CQL_ERROR_INVALID, "cqlmock: too many selected columns");
    return;
  }
  int table = -1;
  for (int i = 0; i < (int)(sizeof tables / sizeof tables[0]); i++)
    if (strlen(tables[i].name) == name_len && strncasecmp(name, tables[i].name, name_len) == 0) table = i;
  if (table < 0) {
    empty_select(name, name_len, selected, n_selected, version, stream, query, w);
    return;
  }
  size_t idx[MAX_COLS], n_idx = 0;
  if (n_selected == 0)
    for (size_t i = 0; i < tables[table].n_cols; i++) idx[n_idx++] = i;
  for (size_t s = 0; s < n_selected; s++) {
    size_t i = 0;
    while (i < tables[table].n_cols && strcmp(tables[table].cols[i].name, selected[s]) != 0) i++;
    if (i == tables[table].n_cols) {
      mock_encode_error(w, version, stream, CQL_ERROR_INVALID, "Undefined column name %s in table %s",
                        selected[s], tables[table].name);
      return;
    }
    idx[n_idx++] = i;
  }

  cql_arena arena;
  cql_arena_init(&arena);
  text_rows t = {.a = &arena};
  char only[128];
  const char *where = find_word(name, "where");
  switch ((table_id)table) {
  case T_LOCAL:
    local_row(&t, n);
    break;
  case T_PEERS:
  case T_PEERS_V2:
    peer_rows(&t, n, table == T_PEERS_V2);
    break;
  case T_KEYSPACES:
    keyspace_rows(&t, n->m, where_value(where, "keyspace_name", only, sizeof only) ? only : NULL);
    break;
  }
  const char *names[MAX_COLS], *types[MAX_COLS];
  for (size_t i = 0; i < n_idx; i++) {
    names[i] = tables[table].cols[idx[i]].name;
    types[i] = tables[table].cols[idx[i]].type;
  }
  const char *ks = tables[table].name[6] == '_' ? "system_schema" : "system";
  const char *tb = strchr(tables[table].name, '.') + 1;
  mock_rows rows = {0};
  char err[MOCK_ERR_SIZE];
  int rc = t.oom ? -1 : mock_rows_set_columns(&rows, &arena, ks, tb, n_idx, names, types, err);
  for (size_t r = 0; rc == 0 && r < t.n_rows; r++) {
    const char *cells[MAX_COLS];
    for (size_t i = 0; i < n_idx; i++) cells[i] = t.cells[r][idx[i]];
    rc = mock_rows_add_row(&rows, &arena, cells, err);
  }
  if (rc < 0)
    mock_encode_error(w, version, stream, CQL_ERROR_SERVER, "cqlmock: cannot build %s", tables[table].name);
  else if (mock_encode_rows(w, version, stream, &rows, params, query) < 0)
    mock_encode_error(w, version, stream, CQL_ERROR_PROTOCOL, "Invalid value for the paging state");
  mock_rows_free(&rows);
  free(t.cells);
  cql_arena_free(&arena);
}
