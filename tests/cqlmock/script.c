/* cqlmock scripts: JSON config/primes and control commands (see script.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cql/frame.h"
#include "cql/message.h"
#include "script.h"

static int fail(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, size, fmt, ap);
  va_end(ap);
  return -1;
}

static const char *get_str(json_t *obj, const char *key) {
  return json_string_value(json_object_get(obj, key));
}

static long long get_int(json_t *obj, const char *key, long long dflt) {
  json_t *v = json_object_get(obj, key);
  return json_is_integer(v) ? json_integer_value(v) : dflt;
}

int cqlmock_script_config(json_t *doc, cqlmock_config *cfg, char *err, size_t err_size) {
  if (!json_is_object(doc)) return fail(err, err_size, "script must be a JSON object");
  cfg->nodes = (int)get_int(doc, "nodes", cfg->nodes);
  cfg->port = (uint16_t)get_int(doc, "port", cfg->port);
  cfg->first_host = (int)get_int(doc, "first_host", cfg->first_host);
  cfg->min_protocol_version = (int)get_int(doc, "min_protocol_version", cfg->min_protocol_version);
  cfg->max_protocol_version = (int)get_int(doc, "max_protocol_version", cfg->max_protocol_version);
  static const struct {
    const char *key;
    size_t offset;
  } strings[] = {
      {"cluster_name", offsetof(cqlmock_config, cluster_name)},
      {"username", offsetof(cqlmock_config, username)},
      {"password", offsetof(cqlmock_config, password)},
      {"keyspace", offsetof(cqlmock_config, keyspace)},
      {"replication", offsetof(cqlmock_config, replication)},
  };
  for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
    const char *v = get_str(doc, strings[i].key);
    if (v) memcpy((char *)cfg + strings[i].offset, &v, sizeof v);
  }
  json_t *nodes = json_object_get(doc, "node_config");
  if (nodes && !json_is_array(nodes)) return fail(err, err_size, "node_config must be an array");
  size_t i;
  json_t *nc;
  json_array_foreach(nodes, i, nc) {
    if (i >= CQLMOCK_MAX_NODES) return fail(err, err_size, "too many node_config entries");
    cfg->node[i].datacenter = get_str(nc, "datacenter");
    cfg->node[i].rack = get_str(nc, "rack");
    cfg->node[i].tokens = get_str(nc, "tokens");
  }
  return 0;
}

/* Text of a cell for cqlmock_prime_row; *owned must be freed. NULL for JSON null. */
static const char *cell_text(json_t *v, char buf[64], char **owned) {
  *owned = NULL;
  if (json_is_null(v)) return NULL;
  if (json_is_string(v)) return json_string_value(v);
  if (json_is_boolean(v)) return json_is_true(v) ? "true" : "false";
  if (json_is_integer(v)) {
    snprintf(buf, 64, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return buf;
  }
  if (json_is_real(v)) {
    snprintf(buf, 64, "%.17g", json_real_value(v));
    return buf;
  }
  *owned = json_dumps(v, JSON_COMPACT);
  return *owned;
}

/* [["name", "type"], ...] or [{"name": .., "type": ..}, ...] into two arrays of n. */
static int read_columns(json_t *cols, const char ***names, const char ***types, size_t *n, char *err,
                        size_t size) {
  if (!json_is_array(cols)) return fail(err, size, "columns/params must be arrays");
  *n = json_array_size(cols);
  *names = calloc(*n + 1, sizeof **names);
  *types = calloc(*n + 1, sizeof **types);
  if (!*names || !*types) return fail(err, size, "out of memory");
  for (size_t i = 0; i < *n; i++) {
    json_t *c = json_array_get(cols, i);
    (*names)[i] = json_is_array(c) ? json_string_value(json_array_get(c, 0)) : get_str(c, "name");
    (*types)[i] = json_is_array(c) ? json_string_value(json_array_get(c, 1)) : get_str(c, "type");
    if (!(*names)[i] || !(*types)[i]) return fail(err, size, "column %zu needs a name and a type", i);
  }
  return 0;
}

static uint16_t consistency_of(json_t *prime) {
  json_t *v = json_object_get(prime, "consistency");
  cql_consistency cl = CQL_CONSISTENCY_ONE;
  if (json_is_integer(v)) return (uint16_t)json_integer_value(v);
  if (json_is_string(v) && cql_consistency_parse(json_string_value(v), &cl)) return (uint16_t)cl;
  return (uint16_t)cl;
}

static int apply_rows(cqlmock_prime *p, json_t *prime, char *err, size_t size) {
  const char **names = NULL, **types = NULL;
  size_t n = 0;
  int rc = read_columns(json_object_get(prime, "columns"), &names, &types, &n, err, size);
  if (rc == 0) cqlmock_prime_columns(p, get_str(prime, "keyspace"), get_str(prime, "table"), n, names, types);
  json_t *rows = json_object_get(prime, "rows"), *row;
  size_t r;
  const char **cells = calloc(n + 1, sizeof *cells);
  char(*bufs)[64] = calloc(n + 1, sizeof *bufs);
  char **owned = calloc(n + 1, sizeof *owned);
  if (rc == 0 && (!cells || !bufs || !owned)) rc = fail(err, size, "out of memory");
  json_array_foreach(rows, r, row) {
    if (rc < 0) break;
    if (!json_is_array(row) || json_array_size(row) != n) {
      rc = fail(err, size, "row %zu must be an array of %zu cells", r, n);
      break;
    }
    for (size_t c = 0; c < n; c++) cells[c] = cell_text(json_array_get(row, c), bufs[c], &owned[c]);
    cqlmock_prime_row(p, cells);
    for (size_t c = 0; c < n; c++) free(owned[c]);
  }
  free(cells);
  free(bufs);
  free(owned);
  free(names);
  free(types);
  return rc;
}

static int apply_params(cqlmock_prime *p, json_t *prime, char *err, size_t size) {
  json_t *params = json_object_get(prime, "params");
  if (!params) return 0;
  const char **names = NULL, **types = NULL;
  size_t n = 0;
  uint16_t pk[64];
  size_t n_pk = 0;
  int rc = read_columns(params, &names, &types, &n, err, size);
  json_t *v;
  size_t i;
  json_array_foreach(json_object_get(prime, "pk_indexes"), i, v) {
    if (n_pk == sizeof pk / sizeof pk[0]) break;
    pk[n_pk++] = (uint16_t)json_integer_value(v);
  }
  if (rc == 0) cqlmock_prime_params(p, n, names, types, n_pk, pk);
  free(names);
  free(types);
  return rc;
}

/* The "result" of a prime (default: rows when columns are given, else void). */
static int apply_result(cqlmock_prime *p, json_t *prime, char *err, size_t size) {
  const char *result = get_str(prime, "result");
  if (!result) result = json_object_get(prime, "columns") ? "rows" : "void";
  const char *message = get_str(prime, "message");
  uint16_t cl = consistency_of(prime);
  int32_t received = (int32_t)get_int(prime, "received", 0),
          blockfor = (int32_t)get_int(prime, "blockfor", 1);
  if (strcmp(result, "rows") == 0) return apply_rows(p, prime, err, size);
  if (strcmp(result, "void") == 0)
    cqlmock_prime_void(p);
  else if (strcmp(result, "set_keyspace") == 0)
    cqlmock_prime_set_keyspace(p, get_str(prime, "keyspace"));
  else if (strcmp(result, "schema_change") == 0)
    cqlmock_prime_schema_change(p, get_str(prime, "change"), get_str(prime, "target"),
                                get_str(prime, "keyspace"), get_str(prime, "name"));
  else if (strcmp(result, "error") == 0)
    cqlmock_prime_error(p, (int32_t)get_int(prime, "code", CQL_ERROR_SERVER), message);
  else if (strcmp(result, "unavailable") == 0)
    cqlmock_prime_unavailable(p, cl, (int32_t)get_int(prime, "required", 1),
                              (int32_t)get_int(prime, "alive", 0));
  else if (strcmp(result, "read_timeout") == 0)
    cqlmock_prime_read_timeout(p, cl, received, blockfor,
                               json_is_true(json_object_get(prime, "data_present")));
  else if (strcmp(result, "write_timeout") == 0)
    cqlmock_prime_write_timeout(p, cl, received, blockfor, get_str(prime, "write_type"));
  else if (strcmp(result, "already_exists") == 0)
    cqlmock_prime_already_exists(p, get_str(prime, "keyspace"), get_str(prime, "table"));
  else if (strcmp(result, "unprepared") == 0)
    cqlmock_prime_unprepared(p);
  else if (strcmp(result, "close") == 0)
    cqlmock_prime_close_connection(p);
  else if (strcmp(result, "no_answer") == 0)
    cqlmock_prime_no_answer(p);
  else
    return fail(err, size, "unknown result '%s'", result);
  return 0;
}

int cqlmock_script_prime(cqlmock *m, json_t *prime, char *err, size_t size) {
  if (!json_is_object(prime)) return fail(err, size, "a prime must be a JSON object");
  const char *match_name = get_str(prime, "match");
  cqlmock_match match = CQLMOCK_MATCH_EXACT;
  if (match_name && strcmp(match_name, "prefix") == 0)
    match = CQLMOCK_MATCH_PREFIX;
  else if (match_name && strcmp(match_name, "any") == 0)
    match = CQLMOCK_MATCH_ANY;
  else if (match_name && strcmp(match_name, "exact") != 0)
    return fail(err, size, "bad match '%s'", match_name);
  cqlmock_prime *p = cqlmock_prime_new(match, get_str(prime, "query"));
  if (!p) return fail(err, size, "out of memory");
  int rc = 0;
  json_t *on = json_object_get(prime, "on"), *v;
  size_t i;
  if (json_is_array(on)) {
    unsigned mask = 0;
    json_array_foreach(on, i, v) {
      const char *name = json_string_value(v);
      if (name && strcmp(name, "query") == 0)
        mask |= CQLMOCK_ON_QUERY;
      else if (name && strcmp(name, "execute") == 0)
        mask |= CQLMOCK_ON_EXECUTE;
      else if (name && strcmp(name, "prepare") == 0)
        mask |= CQLMOCK_ON_PREPARE;
      else if (name && strcmp(name, "batch") == 0)
        mask |= CQLMOCK_ON_BATCH;
      else
        rc = fail(err, size, "bad 'on' entry");
    }
    cqlmock_prime_on(p, mask);
  }
  cqlmock_prime_node(p, (int)get_int(prime, "node", -1));
  cqlmock_prime_times(p, (int)get_int(prime, "times", 0));
  cqlmock_prime_delay(p, (unsigned)get_int(prime, "delay_ms", 0));
  if (rc == 0) rc = apply_params(p, prime, err, size);
  if (rc == 0) rc = apply_result(p, prime, err, size);
  if (rc < 0) {
    cqlmock_prime_free(p);
    return -1;
  }
  if (cqlmock_prime_add(m, p) < 0) return fail(err, size, "prime rejected (see stderr)");
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Control commands                                                                            */

static int opcode_of(const char *name) {
  static const struct {
    const char *name;
    int op;
  } ops[] = {{"ANY", 0},
             {"STARTUP", CQL_OP_STARTUP},
             {"OPTIONS", CQL_OP_OPTIONS},
             {"QUERY", CQL_OP_QUERY},
             {"PREPARE", CQL_OP_PREPARE},
             {"EXECUTE", CQL_OP_EXECUTE},
             {"REGISTER", CQL_OP_REGISTER},
             {"BATCH", CQL_OP_BATCH},
             {"AUTH_RESPONSE", CQL_OP_AUTH_RESPONSE}};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (strcasecmp(name, ops[i].name) == 0) return ops[i].op;
  return -1;
}

static json_t *request_json(const cqlmock_request *r) {
  char id[33] = "";
  for (size_t i = 0; i < r->prepared_id_len; i++) snprintf(id + 2 * i, 3, "%02x", r->prepared_id[i]);
  json_t *o = json_pack("{s:I, s:i, s:s, s:i, s:i, s:s?, s:s, s:i, s:i, s:i, s:i, s:b, s:i}", "connection",
                        (json_int_t)r->connection, "node", r->node, "opcode", cql_opcode_name(r->opcode),
                        "version", r->version, "stream", r->stream, "query", r->query, "prepared_id", id,
                        "consistency", r->consistency, "flags", r->flags, "values", r->values, "page_size",
                        r->page_size, "paging_state", r->has_paging_state, "batch_count", r->batch_count);
  if (o && r->has_timestamp) json_object_set_new(o, "timestamp", json_integer(r->timestamp));
  return o;
}

static int log_command(cqlmock *m, int node, char *reply, size_t size) {
  size_t n;
  cqlmock_request *reqs = cqlmock_log(m, node, &n);
  json_t *arr = json_array();
  for (size_t i = 0; arr && reqs && i < n; i++) json_array_append_new(arr, request_json(&reqs[i]));
  cqlmock_log_free(reqs, n);
  char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
  json_decref(arr);
  int written = text ? snprintf(reply, size, "ok %s", text) : snprintf(reply, size, "error out of memory");
  free(text);
  return (size_t)written >= size ? snprintf(reply, size, "error log too long for one reply") : written;
}

int cqlmock_script_command(cqlmock *m, const char *line, char *reply, size_t size) {
  char cmd[32] = "", a[64] = "", b[64] = "", c[64] = "", d[64] = "", e[64] = "";
  int n = sscanf(line, "%31s %63s %63s %63s %63s %63s", cmd, a, b, c, d, e);
  int node = atoi(a), rc = 0;
  if (n < 1) {
    snprintf(reply, size, "error empty command");
  } else if (strcmp(cmd, "quit") == 0) {
    snprintf(reply, size, "ok bye");
    return 1;
  } else if (strcmp(cmd, "prime") == 0) {
    json_error_t jerr;
    json_t *doc = json_loads(line + strlen("prime"), 0, &jerr);
    char err[256] = "";
    if (!doc)
      snprintf(reply, size, "error bad JSON: %s", jerr.text);
    else if (cqlmock_script_prime(m, doc, err, sizeof err) < 0)
      snprintf(reply, size, "error %s", err);
    else
      snprintf(reply, size, "ok");
    json_decref(doc);
  } else if (strcmp(cmd, "clear-primes") == 0) {
    cqlmock_prime_clear(m);
    snprintf(reply, size, "ok");
  } else if (n >= 2 && strcmp(cmd, "stop") == 0) {
    rc = cqlmock_node_stop(m, node);
    snprintf(reply, size, rc < 0 ? "error bad node" : "ok");
  } else if (n >= 2 && strcmp(cmd, "start") == 0) {
    rc = cqlmock_node_start(m, node);
    snprintf(reply, size, rc < 0 ? "error cannot start node" : "ok");
  } else if (n >= 2 && strcmp(cmd, "forget") == 0) {
    cqlmock_node_forget_prepared(m, node);
    snprintf(reply, size, "ok");
  } else if (n >= 2 && (strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0)) {
    cqlmock_node_set_answering(m, node, strcmp(cmd, "resume") == 0);
    snprintf(reply, size, "ok");
  } else if (n >= 3 && strcmp(cmd, "delay") == 0) {
    cqlmock_node_set_delay(m, node, (unsigned)atoi(b));
    snprintf(reply, size, "ok");
  } else if (n >= 2 && strcmp(cmd, "close") == 0) {
    snprintf(reply, size, "ok %d", cqlmock_node_close_connections(m, node));
  } else if (n >= 2 && strcmp(cmd, "connections") == 0) {
    snprintf(reply, size, "ok %d", cqlmock_node_connection_count(m, node));
  } else if (n >= 5 && strcmp(cmd, "event") == 0 && strcmp(a, "topology") == 0) {
    snprintf(reply, size, "ok %d", cqlmock_push_topology_change(m, atoi(c), b, atoi(d)));
  } else if (n >= 5 && strcmp(cmd, "event") == 0 && strcmp(a, "status") == 0) {
    snprintf(reply, size, "ok %d", cqlmock_push_status_change(m, atoi(c), b, atoi(d)));
  } else if (n >= 5 && strcmp(cmd, "event") == 0 && strcmp(a, "schema") == 0) {
    snprintf(reply, size, "ok %d", cqlmock_push_schema_change(m, -1, b, c, d, n >= 6 ? e : NULL));
  } else if (n >= 3 && strcmp(cmd, "count") == 0 && opcode_of(b) >= 0) {
    /* count NODE OPCODE [PREFIX...]: the prefix is the rest of the line */
    int rest = 0;
    sscanf(line, "%*s %*s %*s %n", &rest);
    const char *prefix = n >= 4 && rest > 0 ? line + rest : NULL;
    snprintf(reply, size, "ok %zu", cqlmock_log_count(m, node, (uint8_t)opcode_of(b), prefix));
  } else if (n >= 2 && strcmp(cmd, "log") == 0) {
    log_command(m, node, reply, size);
  } else if (strcmp(cmd, "clear-log") == 0) {
    cqlmock_log_clear(m, n >= 2 ? node : -1);
    snprintf(reply, size, "ok");
  } else {
    snprintf(reply, size, "error unknown command '%s'", cmd);
  }
  return 0;
}
