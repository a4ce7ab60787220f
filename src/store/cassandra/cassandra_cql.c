#include "store/cassandra/cassandra_cql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Embeds schema/cassandra.cql (path relative to the repository root, where the build runs). */
__asm__(".section .rodata\n"
        ".global cass_schema_cql\n"
        "cass_schema_cql:\n"
        ".incbin \"schema/cassandra.cql\"\n"
        ".byte 0\n"
        ".previous\n");
extern const char cass_schema_cql[];

const char *cass_schema_text(void) { return cass_schema_cql; }

#define MSG_COLUMNS "message_id, sender_id, receiver_id, content"

static const char *const TEMPLATES[CASS_STMT_COUNT] = {
    [CASS_PAIR_GET] =
        "SELECT conversation_id FROM {ks}.conversation_by_pair WHERE user1_id = ? AND user2_id = ?",
    [CASS_PAIR_CLAIM] = "INSERT INTO {ks}.conversation_by_pair (user1_id, user2_id, conversation_id)"
                        " VALUES (?, ?, ?) IF NOT EXISTS",
    [CASS_IDEM_CLAIM] = "INSERT INTO {ks}.idempotency_keys (sender_id, key, message_id, conversation_id,"
                        " receiver_id, content) VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS",
    [CASS_MSG_GET] = "SELECT message_id, content FROM {ks}.messages_by_conversation"
                     " WHERE conversation_id = ? AND bucket = ? AND message_id = ?",
    [CASS_MSG_INSERT] = "INSERT INTO {ks}.messages_by_conversation (conversation_id, bucket, " MSG_COLUMNS ")"
                        " VALUES (?, ?, ?, ?, ?, ?)",
    [CASS_BUCKET_INSERT] = "INSERT INTO {ks}.buckets_by_conversation (conversation_id, bucket) VALUES (?, ?)",
    [CASS_CONV_UPSERT] =
        "INSERT INTO {ks}.conversations (conversation_id, user1_id, user2_id, last_message_id,"
        " last_message_content) VALUES (?, ?, ?, ?, ?)",
    [CASS_USER_CONV_UPSERT] =
        "INSERT INTO {ks}.conversations_by_user (user_id, conversation_id, other_user_id,"
        " last_message_id) VALUES (?, ?, ?, ?)",
    [CASS_UNREAD_INSERT] =
        "INSERT INTO {ks}.read_state (user_id, conversation_id, message_id) VALUES (?, ?, ?)",
    [CASS_COUNTER_INCR] = "UPDATE {ks}.conversation_counters SET message_count = message_count + 1"
                          " WHERE conversation_id = ?",
    [CASS_CONV_GET] = "SELECT conversation_id, user1_id, user2_id, last_message_id, last_message_content"
                      " FROM {ks}.conversations WHERE conversation_id = ?",
    [CASS_CONV_EXISTS] = "SELECT user1_id FROM {ks}.conversations WHERE conversation_id = ?",
    [CASS_COUNTER_GET] = "SELECT message_count FROM {ks}.conversation_counters WHERE conversation_id = ?",
    [CASS_BUCKETS_LIST] = "SELECT bucket FROM {ks}.buckets_by_conversation"
                          " WHERE conversation_id = ? AND bucket <= ? LIMIT ?",
    [CASS_MSG_PAGE] = "SELECT " MSG_COLUMNS " FROM {ks}.messages_by_conversation"
                      " WHERE conversation_id = ? AND bucket = ? AND message_id < ? LIMIT ?",
    [CASS_MSG_SKIP] = "SELECT message_id FROM {ks}.messages_by_conversation"
                      " WHERE conversation_id = ? AND bucket = ? AND message_id < ? LIMIT ?",
    [CASS_USER_CONVS] = "SELECT conversation_id, other_user_id, last_message_id"
                        " FROM {ks}.conversations_by_user WHERE user_id = ?",
    [CASS_READ_STATE_GET] = "SELECT last_read_message_id, message_id FROM {ks}.read_state"
                            " WHERE user_id = ? AND conversation_id = ?",
    [CASS_PING] = "SELECT release_version FROM system.local",
    [CASS_READ_MARK_GET] = "SELECT last_read_message_id FROM {ks}.read_state"
                           " WHERE user_id = ? AND conversation_id = ? LIMIT 1",
    [CASS_READ_MARK_SET] =
        "UPDATE {ks}.read_state SET last_read_message_id = ? WHERE user_id = ? AND conversation_id = ?",
    [CASS_UNREAD_DELETE] =
        "DELETE FROM {ks}.read_state WHERE user_id = ? AND conversation_id = ? AND message_id <= ?",
    [CASS_TABLES_LIST] = "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?",
    [CASS_LEASE_CLAIM] =
        "INSERT INTO {ks}.node_leases (node_id, owner) VALUES (?, ?) IF NOT EXISTS USING TTL 60",
    [CASS_LEASE_RENEW] = "UPDATE {ks}.node_leases USING TTL 60 SET owner = ? WHERE node_id = ? IF owner = ?",
    [CASS_LEASE_RELEASE] = "DELETE FROM {ks}.node_leases WHERE node_id = ? IF owner = ?",
};

const char *const CASS_TABLES[] = {
    "messages_by_conversation",
    "buckets_by_conversation",
    "conversations",
    "conversations_by_user",
    "conversation_by_pair",
    "conversation_counters",
    "idempotency_keys",
    "node_leases",
    "read_state",
    NULL,
};

const char *cass_cql_template(cass_stmt s) { return s < CASS_STMT_COUNT ? TEMPLATES[s] : NULL; }

/* Copy of text with every `from` replaced by `to`. */
static char *replace_all(const char *text, const char *from, const char *to) {
  size_t from_len = strlen(from), to_len = strlen(to), n = 0;
  for (const char *p = strstr(text, from); p; p = strstr(p + from_len, from)) n++;
  size_t len = strlen(text) + n * to_len - n * from_len;
  char *out = malloc(len + 1);
  if (!out) return NULL;
  char *w = out;
  const char *p = text;
  for (const char *hit = strstr(p, from); hit; hit = strstr(p, from)) {
    memcpy(w, p, (size_t)(hit - p));
    w += hit - p;
    memcpy(w, to, to_len);
    w += to_len;
    p = hit + from_len;
  }
  strcpy(w, p);
  return out;
}

char *cass_cql_qualify(const char *template_text, const char *keyspace) {
  return replace_all(template_text, "{ks}", keyspace);
}

cass_cql *cass_cql_build(const char *keyspace) {
  cass_cql *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  for (int i = 0; i < CASS_STMT_COUNT; i++) {
    if (!(c->text[i] = cass_cql_qualify(TEMPLATES[i], keyspace))) {
      cass_cql_free(c);
      return NULL;
    }
  }
  return c;
}

void cass_cql_free(cass_cql *c) {
  if (!c) return;
  for (int i = 0; i < CASS_STMT_COUNT; i++) free(c->text[i]);
  free(c);
}

#define SCHEMA_PREFIX "CREATE TABLE IF NOT EXISTS messenger."
#define SCHEMA_KS     "messenger."

static bool is_blank(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

/* Copy of the schema without `--` comments; NULL on OOM. */
static char *strip_comments(const char *text) {
  size_t len = strlen(text);
  char *out = calloc(len + 1, 1);
  if (!out) return NULL;
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (text[i] == '-' && text[i + 1] == '-') {
      while (i < len && text[i] != '\n') i++;
      if (i == len) break;
    }
    out[n++] = text[i];
  }
  out[n] = '\0';
  return out;
}

/* Runs fn on one trimmed statement text[0..len), re-qualified; false to stop. */
static bool each_statement(const char *text, size_t len, const char *keyspace,
                           bool (*fn)(void *arg, const char *stmt), void *arg) {
  while (len && is_blank(*text)) text++, len--;
  while (len && is_blank(text[len - 1])) len--;
  if (!len) return true;
  size_t prefix = strlen(SCHEMA_PREFIX);
  if (len <= prefix || strncmp(text, SCHEMA_PREFIX, prefix) != 0 || memchr(text, '\'', len)) return false;
  size_t head = prefix - strlen(SCHEMA_KS), ks_len = strlen(keyspace), rest = len - prefix;
  char *stmt = malloc(head + ks_len + 1 + rest + 1);
  if (!stmt) return false;
  memcpy(stmt, text, head);
  memcpy(stmt + head, keyspace, ks_len);
  stmt[head + ks_len] = '.';
  memcpy(stmt + head + ks_len + 1, text + prefix, rest);
  stmt[head + ks_len + 1 + rest] = '\0';
  bool ok = fn(arg, stmt);
  free(stmt);
  return ok;
}

bool cass_schema_each(const char *schema, const char *keyspace, bool (*fn)(void *arg, const char *stmt),
                      void *arg) {
  char *text = strip_comments(schema);
  if (!text) return false;
  bool ok = true;
  for (const char *p = text; ok && *p;) {
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    ok = each_statement(p, len, keyspace, fn, arg);
    p += end ? len + 1 : len;
  }
  free(text);
  return ok;
}

bool cass_default_replication(const char *dc, int rf, char *out, size_t out_size) {
  /* The DC name is a CQL string literal: double every quote. */
  char quoted[256];
  size_t n = 0;
  for (const char *c = dc; *c; c++) {
    if (n + 3 >= sizeof quoted) return false;
    if (*c == '\'') quoted[n++] = '\'';
    quoted[n++] = *c;
  }
  quoted[n] = '\0';
  int len = snprintf(out, out_size, "{'class': 'NetworkTopologyStrategy', '%s': %d}", quoted, rf);
  return len > 0 && (size_t)len < out_size;
}
