#include "cql/control.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cql/conn.h"
#include "cql/errors.h"

typedef enum step { STEP_REGISTER, STEP_LOCAL, STEP_PEERS_V2, STEP_PEERS, STEP_KEYSPACES } step;

struct cql_control {
  cql_client *client;
  cql_conn *conn;
  bool conn_ready;
  int version;      /* version being tried / in use */
  bool negotiating; /* may still downgrade */
  struct sockaddr_storage *candidates;
  size_t n_candidates, next;
  char last_error[256];
  bool auth_failed; /* a candidate of this round rejected the credentials */
  cql_backoff backoff;
  uv_timer_t reconnect_timer;
  uv_timer_t event_timer;
  int handles_open;
  bool closing;

  cql_conn_req req; /* the one control request in flight */
  step step;
  bool refreshing, refresh_again, reconnect_pools;
  bool no_peers_v2;
  cql_message local_msg, peers_msg; /* held until the keyspaces arrive */
  cql_message ks_msg;               /* last system_schema.keyspaces rows: rebuilds the ring */
  bool peers_are_v2;
};

static void connect_round(cql_control *ctl);
static void try_next(cql_control *ctl);
static void start_refresh(cql_control *ctl);
static void on_reconnect_timer(uv_timer_t *t);

/* ---- cell parsing ----------------------------------------------------------------------- */

static const cql_value *cell(const cql_rows_result *rows, int32_t row, const char *col) {
  const cql_value *v = cql_rows_cell(rows, row, cql_rows_column(rows, col));
  return v && v->len >= 0 ? v : NULL;
}

static char *cell_text(const cql_rows_result *rows, int32_t row, const char *col) {
  const cql_value *v = cell(rows, row, col);
  return v ? strndup(v->len ? (const char *)v->ptr : "", (size_t)v->len) : NULL;
}

/* An inet cell (4 or 16 bytes) as a sockaddr with `port`. */
static bool cell_inet(const cql_rows_result *rows, int32_t row, const char *col, uint16_t port,
                      struct sockaddr_storage *out) {
  const cql_value *v = cell(rows, row, col);
  memset(out, 0, sizeof(*out));
  if (v && v->len == 4) {
    struct sockaddr_in *a = (struct sockaddr_in *)out;
    a->sin_family = AF_INET;
    memcpy(&a->sin_addr, v->ptr, 4);
    a->sin_port = htons(port);
    return true;
  }
  if (v && v->len == 16) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
    a->sin6_family = AF_INET6;
    memcpy(&a->sin6_addr, v->ptr, 16);
    a->sin6_port = htons(port);
    return true;
  }
  return false;
}

static bool is_any_address(const struct sockaddr_storage *a) {
  if (a->ss_family == AF_INET) return ((const struct sockaddr_in *)a)->sin_addr.s_addr == 0;
  static const uint8_t zero[16];
  return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, zero, 16) == 0;
}

/* set<text> of decimal tokens. Returns false when absent/malformed. */
static bool cell_tokens(const cql_rows_result *rows, int32_t row, int64_t **out, size_t *n) {
  const cql_value *v = cell(rows, row, "tokens");
  *out = NULL;
  *n = 0;
  if (!v) return false;
  cql_reader r;
  cql_reader_init(&r, v->ptr, (size_t)v->len);
  int32_t count = cql_read_int(&r);
  if (!cql_reader_ok(&r) || count <= 0 || (size_t)count > (size_t)v->len / 4) return false;
  int64_t *t = calloc((size_t)count, sizeof(*t));
  if (!t) return false;
  for (int32_t i = 0; i < count; i++) {
    cql_value e = cql_read_bytes(&r);
    char buf[32];
    if (!cql_reader_ok(&r) || e.len <= 0 || (size_t)e.len >= sizeof(buf)) break;
    memcpy(buf, e.ptr, (size_t)e.len);
    buf[e.len] = '\0';
    char *end;
    t[*n] = strtoll(buf, &end, 10);
    if (*end) break;
    (*n)++;
  }
  if (*n != (size_t)count) {
    free(t);
    *n = 0;
    return false;
  }
  *out = t;
  return true;
}

/* ---- building the topology ---------------------------------------------------------------- */

typedef struct host_row {
  struct sockaddr_storage addr;
  uint8_t host_id[16];
  char *dc, *rack;
  int64_t *tokens;
  size_t n_tokens;
} host_row;

static void host_row_clear(host_row *h) {
  free(h->dc);
  free(h->rack);
  free(h->tokens);
}

/* Reads one row of system.local (peer == false) or system.peers(_v2). Returns false when the
 * row must be ignored. */
static bool read_host_row(cql_control *ctl, const cql_rows_result *rows, int32_t row, bool peer, bool v2,
                          host_row *out) {
  memset(out, 0, sizeof(*out));
  const cql_value *id = cell(rows, row, "host_id");
  if (!id || id->len != 16) return false;
  memcpy(out->host_id, id->ptr, 16);
  if (!peer) {
    out->addr = ctl->candidates[ctl->next];
  } else {
    uint16_t port = ctl->client->cfg.port;
    const cql_value *pv = v2 ? cell(rows, row, "native_port") : NULL;
    if (pv && pv->len == 4) port = (uint16_t)cql_load_u32(pv->ptr);
    if (!cell_inet(rows, row, v2 ? "native_address" : "rpc_address", port, &out->addr)) return false;
    if (is_any_address(&out->addr) && !cell_inet(rows, row, "peer", port, &out->addr)) return false;
  }
  out->dc = cell_text(rows, row, "data_center");
  out->rack = cell_text(rows, row, "rack");
  if (!out->dc || !cell_tokens(rows, row, &out->tokens, &out->n_tokens)) {
    host_row_clear(out);
    return false;
  }
  return true;
}

static void host_name(const struct sockaddr_storage *a, char *out, size_t size) {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (a->ss_family == AF_INET) {
    uv_ip4_name((const struct sockaddr_in *)a, ip, sizeof(ip));
    snprintf(out, size, "%s:%d", ip, ntohs(((const struct sockaddr_in *)a)->sin_port));
  } else {
    uv_ip6_name((const struct sockaddr_in6 *)a, ip, sizeof(ip));
    snprintf(out, size, "[%s]:%d", ip, ntohs(((const struct sockaddr_in6 *)a)->sin6_port));
  }
}

/* Finds or creates the host of a row and moves the row's data into it. */
static cql_host *adopt_row(cql_client *c, host_row *row) {
  cql_host *h = cql_client_find_host(c, (const struct sockaddr *)&row->addr);
  if (!h) {
    if (!(h = calloc(1, sizeof(*h)))) return NULL;
    h->addr = row->addr;
    host_name(&h->addr, h->name, sizeof(h->name));
    h->removed = true; /* not live until set_topology */
    h->next_all = c->all_hosts;
    c->all_hosts = h;
  }
  memcpy(h->host_id, row->host_id, 16);
  free(h->dc);
  free(h->rack);
  free(h->tokens);
  h->dc = row->dc;
  h->rack = row->rack;
  h->tokens = row->tokens;
  h->n_tokens = row->n_tokens;
  memset(row, 0, sizeof(*row));
  return h;
}

/* Rows without columns carry nothing (and cost no bytes, so there may be 2^31 of them). */
static int32_t rows_with_data(const cql_rows_result *rows) {
  return rows->meta.column_count > 0 ? rows->row_count : 0;
}

static bool add_keyspaces(cql_token_map *tm, const cql_rows_result *rows) {
  for (int32_t r = 0; r < rows_with_data(rows); r++) {
    char *name = cell_text(rows, r, "keyspace_name");
    const cql_value *v = cell(rows, r, "replication");
    if (!name || !v) {
      free(name);
      continue;
    }
    cql_reader rd;
    cql_reader_init(&rd, v->ptr, (size_t)v->len);
    int32_t n = cql_read_int(&rd);
    if (!cql_reader_ok(&rd) || n < 0 || n > 1024) n = 0;
    const char *keys[1024], *vals[1024];
    char *owned[2048];
    size_t n_owned = 0;
    int32_t got = 0;
    for (int32_t i = 0; i < n; i++) {
      cql_value k = cql_read_bytes(&rd), val = cql_read_bytes(&rd);
      if (!cql_reader_ok(&rd) || k.len < 0 || val.len < 0) break;
      owned[n_owned++] = strndup((const char *)k.ptr, (size_t)k.len);
      owned[n_owned++] = strndup((const char *)val.ptr, (size_t)val.len);
      if (!owned[n_owned - 2] || !owned[n_owned - 1]) break;
      keys[got] = owned[n_owned - 2];
      vals[got] = owned[n_owned - 1];
      got++;
    }
    cql_replication repl;
    bool ok =
        cql_replication_parse(keys, vals, (size_t)got, &repl) && cql_token_map_add_keyspace(tm, name, &repl);
    cql_replication_clear(&repl);
    for (size_t i = 0; i < n_owned; i++) free(owned[i]);
    free(name);
    if (!ok) return false;
  }
  return true;
}

/* Builds the token map of hosts[0..n) (n > 0) with the replication of the last keyspaces rows
 * and hands both to the client. Takes hosts (freed on failure). */
static bool publish_topology(cql_control *ctl, cql_host **hosts, size_t n) {
  if (n == 0) {
    free(hosts);
    return false;
  }
  cql_tm_node *nodes = calloc(n, sizeof(*nodes));
  bool ok = nodes != NULL;
  for (size_t i = 0; ok && i < n; i++)
    nodes[i] = (cql_tm_node){hosts[i]->dc, hosts[i]->rack, hosts[i]->tokens, hosts[i]->n_tokens};
  cql_token_map *tm = ok ? cql_token_map_new(nodes, n) : NULL;
  ok = tm && add_keyspaces(tm, &ctl->ks_msg.u.result.rows);
  free(nodes);
  if (!ok) {
    free(hosts);
    cql_token_map_free(tm);
    return false;
  }
  cql_client_set_topology(ctl->client, hosts, n, tm);
  return true;
}

/* Builds hosts from system.local and system.peers(_v2) and publishes them with the keyspaces. */
static bool apply_discovery(cql_control *ctl) {
  cql_client *c = ctl->client;
  const cql_rows_result *local = &ctl->local_msg.u.result.rows;
  const cql_rows_result *peers = ctl->peers_msg.opcode ? &ctl->peers_msg.u.result.rows : NULL;
  int32_t n_peers = peers ? rows_with_data(peers) : 0;
  cql_host **hosts = calloc(1 + (size_t)n_peers, sizeof(*hosts));
  size_t n = 0;
  bool ok = hosts != NULL;
  for (int32_t r = -1; ok && r < n_peers; r++) {
    host_row row;
    bool is_peer = r >= 0;
    if (!read_host_row(ctl, is_peer ? peers : local, is_peer ? r : 0, is_peer, ctl->peers_are_v2, &row))
      continue;
    cql_host *h = adopt_row(c, &row);
    host_row_clear(&row);
    if (!h) {
      ok = false;
      break;
    }
    bool dup = false;
    for (size_t i = 0; i < n; i++) dup = dup || hosts[i] == h;
    if (!dup) hosts[n++] = h;
  }
  if (ok && !c->local_dc && n > 0 && local->row_count > 0) {
    char *dc = cell_text(local, 0, "data_center");
    c->local_dc = dc;
    c->lb.local_dc = c->local_dc;
  }
  if (!ok) {
    free(hosts);
    return false;
  }
  return publish_topology(ctl, hosts, n);
}

/* REMOVED_NODE: drops the host from the ring and closes its pool now, without waiting for the
 * refresh that follows (which re-reads system.peers). The last host is never removed. */
static void remove_host(cql_control *ctl, cql_host *gone) {
  cql_client *c = ctl->client;
  if (gone->removed || c->n_hosts < 2 || !ctl->ks_msg.opcode) return;
  cql_host **hosts = calloc(c->n_hosts, sizeof(*hosts));
  if (!hosts) return; /* the refresh will still catch up */
  size_t n = 0;
  for (size_t i = 0; i < c->n_hosts; i++)
    if (c->hosts[i] != gone) hosts[n++] = c->hosts[i];
  publish_topology(ctl, hosts, n);
}

/* ---- the refresh state machine ------------------------------------------------------------ */

static bool send_query(cql_control *ctl, const char *cql) {
  cql_message m;
  cql_message_init(&m, CQL_OP_QUERY);
  m.u.query.query = cql_str_of(cql);
  m.u.query.params.consistency = CQL_CONSISTENCY_ONE;
  return cql_conn_send(ctl->conn, &ctl->req, &m, ctl->client->cfg.request_timeout_ms);
}

static bool send_step(cql_control *ctl) {
  switch (ctl->step) {
  case STEP_REGISTER: {
    static const cql_str events[] = {{"TOPOLOGY_CHANGE", 15}, {"STATUS_CHANGE", 13}, {"SCHEMA_CHANGE", 13}};
    cql_message m;
    cql_message_init(&m, CQL_OP_REGISTER);
    m.u.reg.events = events;
    m.u.reg.n_events = 3;
    return cql_conn_send(ctl->conn, &ctl->req, &m, ctl->client->cfg.request_timeout_ms);
  }
  case STEP_LOCAL:
    return send_query(ctl, "SELECT host_id, data_center, rack, tokens, release_version FROM system.local "
                           "WHERE key='local'");
  case STEP_PEERS_V2:
    return send_query(ctl, "SELECT peer, peer_port, native_address, native_port, host_id, data_center, rack, "
                           "tokens FROM system.peers_v2");
  case STEP_PEERS:
    return send_query(ctl, "SELECT peer, rpc_address, host_id, data_center, rack, tokens FROM system.peers");
  case STEP_KEYSPACES:
    return send_query(ctl, "SELECT keyspace_name, replication FROM system_schema.keyspaces");
  }
  return false;
}

static void drop_conn(cql_control *ctl, const char *why) {
  snprintf(ctl->last_error, sizeof(ctl->last_error), "%s", why);
  cql_conn *conn = ctl->conn;
  ctl->conn = NULL;
  ctl->conn_ready = false;
  ctl->refreshing = false;
  cql_message_free(&ctl->local_msg);
  cql_message_free(&ctl->peers_msg);
  if (conn) cql_conn_close(conn, CQL_ERR_CONNECTION_CLOSED);
  if (!ctl->closing) connect_round(ctl);
}

static void refresh_done(cql_control *ctl) {
  ctl->refreshing = false;
  cql_message_free(&ctl->local_msg);
  cql_message_free(&ctl->peers_msg);
  cql_backoff_reset(&ctl->backoff);
  cql_client_on_discovery(ctl->client);
  if (ctl->refresh_again) {
    ctl->refresh_again = false;
    start_refresh(ctl);
  }
}

static bool is_rows(const cql_message *m) {
  return m && m->opcode == CQL_OP_RESULT && m->u.result.kind == CQL_RESULT_ROWS;
}

static void on_control_response(cql_conn_req *r, cql_message *resp, const cql_error *err) {
  cql_control *ctl = (cql_control *)((char *)r - offsetof(cql_control, req));
  if (ctl->closing || err) {
    if (resp) cql_message_free(resp);
    if (!ctl->closing && ctl->conn) drop_conn(ctl, "control query failed");
    return;
  }
  bool ok = true;
  switch (ctl->step) {
  case STEP_REGISTER:
    ok = resp->opcode == CQL_OP_READY;
    cql_message_free(resp);
    if (ok) {
      ctl->step = STEP_LOCAL;
      ok = send_step(ctl);
    }
    break;
  case STEP_LOCAL:
    ok = is_rows(resp) && resp->u.result.rows.row_count > 0;
    if (ok) {
      ctl->local_msg = *resp;
      ctl->step = ctl->no_peers_v2 ? STEP_PEERS : STEP_PEERS_V2;
      ok = send_step(ctl);
    } else {
      cql_message_free(resp);
    }
    break;
  case STEP_PEERS_V2:
  case STEP_PEERS:
    if (ctl->step == STEP_PEERS_V2 && resp->opcode == CQL_OP_ERROR) {
      /* "unconfigured table peers_v2" on Cassandra < 4: use system.peers from now on */
      cql_message_free(resp);
      ctl->no_peers_v2 = true;
      ctl->step = STEP_PEERS;
      ok = send_step(ctl);
      break;
    }
    ok = is_rows(resp);
    if (ok) {
      ctl->peers_are_v2 = ctl->step == STEP_PEERS_V2;
      ctl->peers_msg = *resp;
      ctl->step = STEP_KEYSPACES;
      ok = send_step(ctl);
    } else {
      cql_message_free(resp);
    }
    break;
  case STEP_KEYSPACES:
    ok = is_rows(resp);
    if (ok) {
      cql_message_free(&ctl->ks_msg);
      ctl->ks_msg = *resp;
      ok = apply_discovery(ctl);
    } else {
      cql_message_free(resp);
    }
    if (ok) refresh_done(ctl);
    break;
  }
  if (!ok) drop_conn(ctl, "cluster discovery failed");
}

static void start_refresh(cql_control *ctl) {
  if (!ctl->conn_ready || ctl->closing) return;
  if (ctl->refreshing) {
    ctl->refresh_again = true;
    return;
  }
  ctl->refreshing = true;
  ctl->step = STEP_LOCAL;
  if (!send_step(ctl)) drop_conn(ctl, "cannot send discovery query");
}

/* ---- events ------------------------------------------------------------------------------- */

static void on_event_timer(uv_timer_t *t) {
  cql_control *ctl = t->data;
  if (ctl->reconnect_pools) {
    ctl->reconnect_pools = false;
    cql_client *c = ctl->client;
    for (size_t i = 0; i < c->n_hosts; i++)
      if (c->hosts[i]->pool && !cql_pool_is_up(c->hosts[i]->pool)) cql_pool_reconnect_now(c->hosts[i]->pool);
  }
  start_refresh(ctl);
}

/* The live host an event's [inet] designates, or NULL. */
static cql_host *event_host(cql_control *ctl, const cql_inet *in) {
  struct sockaddr_storage a;
  memset(&a, 0, sizeof(a));
  if (in->len == 4) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)&a;
    v4->sin_family = AF_INET;
    memcpy(&v4->sin_addr, in->addr, 4);
    v4->sin_port = htons((uint16_t)in->port);
  } else if (in->len == 16) {
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a;
    v6->sin6_family = AF_INET6;
    memcpy(&v6->sin6_addr, in->addr, 16);
    v6->sin6_port = htons((uint16_t)in->port);
  } else {
    return NULL;
  }
  cql_host *h = cql_client_find_host(ctl->client, (const struct sockaddr *)&a);
  return h && !h->removed ? h : NULL;
}

/* STATUS_CHANGE DOWN takes the host out of query plans at once (its pool closes and retries
 * after the backoff delay, so a wrong DOWN heals); REMOVED_NODE drops it from the ring now.
 * UP, NEW_NODE, MOVED_NODE and schema changes act after event_delay_ms (debounced): UP retries
 * the pools that are down, then the tables are re-read. */
static void on_event(cql_conn *conn, const cql_message *ev, void *ud) {
  (void)conn;
  cql_control *ctl = ud;
  const cql_event_msg *e = &ev->u.event;
  bool status = e->type == CQL_EVENT_STATUS_CHANGE;
  if (status && cql_str_eq(e->change, "DOWN")) {
    cql_host *h = event_host(ctl, &e->address);
    if (h && h->pool) cql_pool_mark_down(h->pool);
    return;
  }
  if (e->type == CQL_EVENT_TOPOLOGY_CHANGE && cql_str_eq(e->change, "REMOVED_NODE")) {
    cql_host *h = event_host(ctl, &e->address);
    if (h) remove_host(ctl, h);
  }
  if (status) ctl->reconnect_pools = true;
  /* debounce: the first event arms the timer, later ones ride along */
  if (!uv_is_active((uv_handle_t *)&ctl->event_timer))
    uv_timer_start(&ctl->event_timer, on_event_timer, ctl->client->cfg.event_delay_ms, 0);
}

/* ---- connecting --------------------------------------------------------------------------- */

static void on_conn_ready(cql_conn *conn, void *ud) {
  cql_control *ctl = ud;
  (void)conn;
  ctl->conn_ready = true;
  ctl->client->protocol_version = ctl->version;
  ctl->negotiating = false;
  ctl->refreshing = true;
  ctl->step = STEP_REGISTER;
  if (!send_step(ctl)) drop_conn(ctl, "cannot send REGISTER");
}

static void on_conn_down(cql_conn *conn, const cql_error *err, void *ud) {
  (void)conn;
  cql_control *ctl = ud;
  bool was_ready = ctl->conn_ready;
  ctl->conn = NULL;
  ctl->conn_ready = false;
  ctl->refreshing = false;
  cql_message_free(&ctl->local_msg);
  cql_message_free(&ctl->peers_msg);
  if (ctl->closing) return;
  if (err) {
    snprintf(ctl->last_error, sizeof(ctl->last_error), "%.*s", (int)err->message.len, err->message.ptr);
    ctl->auth_failed = ctl->auth_failed || err->code == CQL_ERR_AUTH;
  }
  if (was_ready || !err) {
    connect_round(ctl);
    return;
  }
  if (err->code == CQL_ERROR_PROTOCOL && ctl->negotiating && ctl->version > 4) {
    ctl->version--; /* "Invalid or unsupported protocol version": same host, lower version */
    try_next(ctl);
    return;
  }
  ctl->next++;
  try_next(ctl);
}

static const cql_conn_handlers control_handlers = {on_conn_ready, on_conn_down, on_event, NULL};

static void try_next(cql_control *ctl) {
  cql_client *c = ctl->client;
  while (ctl->next < ctl->n_candidates) {
    cql_conn_settings s;
    cql_client_conn_settings(c, &s);
    s.protocol_version = ctl->version;
    s.heartbeat_interval_ms = c->cfg.heartbeat_interval_ms;
    ctl->conn = cql_conn_open(&c->loop, (const struct sockaddr *)&ctl->candidates[ctl->next], &s,
                              &control_handlers, ctl);
    if (ctl->conn) return;
    ctl->next++;
  }
  /* every candidate failed */
  if (c->connect_state == CONNECT_RUNNING && !c->n_hosts) {
    cql_error err;
    char msg[320];
    if (ctl->auth_failed)
      snprintf(msg, sizeof(msg), "the cluster rejected the credentials (last error: %s)", ctl->last_error);
    else
      snprintf(msg, sizeof(msg), "no contact point reachable (last error: %s)", ctl->last_error);
    cql_client_error_set(&err, ctl->auth_failed ? CQL_ERR_AUTH : CQL_ERR_CONNECT_FAILED, msg);
    cql_client_on_control_failed(c, &err);
  }
  if (!ctl->closing && !uv_is_active((uv_handle_t *)&ctl->reconnect_timer))
    uv_timer_start(&ctl->reconnect_timer, on_reconnect_timer, cql_backoff_next(&ctl->backoff), 0);
}

static void on_reconnect_timer(uv_timer_t *t) { connect_round(t->data); }

/* Candidates: live hosts that are up, then the other live hosts, then the contact points. */
static void connect_round(cql_control *ctl) {
  cql_client *c = ctl->client;
  if (ctl->closing) return;
  uv_timer_stop(&ctl->reconnect_timer);
  free(ctl->candidates);
  ctl->n_candidates = 0;
  ctl->next = 0;
  ctl->auth_failed = false;
  ctl->candidates = calloc(c->n_hosts + c->n_contacts + 1, sizeof(*ctl->candidates));
  if (!ctl->candidates) {
    uv_timer_start(&ctl->reconnect_timer, on_reconnect_timer, cql_backoff_next(&ctl->backoff), 0);
    return;
  }
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < c->n_hosts; i++)
      if (cql_pool_is_up(c->hosts[i]->pool) == (pass == 0))
        ctl->candidates[ctl->n_candidates++] = c->hosts[i]->addr;
  for (size_t i = 0; i < c->n_contacts; i++) ctl->candidates[ctl->n_candidates++] = c->contacts[i];
  if (!c->protocol_version) {
    ctl->negotiating = c->cfg.protocol_version == 0;
    ctl->version = c->cfg.protocol_version ? c->cfg.protocol_version : 5;
  } else {
    ctl->version = c->protocol_version;
  }
  try_next(ctl);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

cql_control *cql_control_new(cql_client *c) {
  cql_control *ctl = calloc(1, sizeof(*ctl));
  if (!ctl) return NULL;
  ctl->client = c;
  ctl->req.on_response = on_control_response;
  cql_backoff_init(&ctl->backoff, c->cfg.reconnect_base_ms, c->cfg.reconnect_max_ms, cql_client_random(c));
  uv_timer_init(&c->loop, &ctl->reconnect_timer);
  uv_timer_init(&c->loop, &ctl->event_timer);
  ctl->reconnect_timer.data = ctl->event_timer.data = ctl;
  ctl->handles_open = 2;
  return ctl;
}

void cql_control_start(cql_control *ctl) { connect_round(ctl); }

static void on_handle_closed(uv_handle_t *h) {
  cql_control *ctl = h->data;
  if (--ctl->handles_open > 0) return;
  free(ctl->candidates);
  free(ctl);
}

void cql_control_close(cql_control *ctl) {
  ctl->closing = true;
  cql_conn *conn = ctl->conn;
  ctl->conn = NULL;
  if (conn) cql_conn_close(conn, CQL_ERR_CLIENT_CLOSED);
  cql_message_free(&ctl->local_msg);
  cql_message_free(&ctl->peers_msg);
  cql_message_free(&ctl->ks_msg);
  uv_close((uv_handle_t *)&ctl->reconnect_timer, on_handle_closed);
  uv_close((uv_handle_t *)&ctl->event_timer, on_handle_closed);
}
