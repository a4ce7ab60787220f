/* cqlmock server: loop thread, nodes, connections, commands from test threads, request log.
 *
 * Everything libuv lives on the loop thread. Test threads change shared data (primes, log,
 * node flags, prepared ids) under m->lock, and ask the loop thread for socket work (node
 * stop/start, events, closing connections) through a command queue: run_cmd() enqueues,
 * wakes the loop with uv_async_send and waits on m->cond until the loop marks it done. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cql/frame.h"
#include "mock.h"

struct mock_conn {
  uv_tcp_t tcp; /* first member: handle pointers convert to the connection */
  mock_node *node;
  uint64_t id;
  cql_frame_reader reader;
  mock_session session;
  bool closing;
  struct mock_delayed *delayed;
  mock_conn *prev, *next;
};

/* A reply (or a close) waiting for its delay. */
typedef struct mock_delayed {
  uv_timer_t timer;
  mock_conn *conn; /* NULL once the connection closed */
  mock_action action;
  uint8_t *frame;
  size_t len;
  struct mock_delayed *prev, *next;
} mock_delayed;

typedef struct mock_write {
  uv_write_t req;
  mock_conn *conn;
  uint8_t *data;
  bool close_after;
} mock_write;

typedef enum cmd_kind {
  CMD_SHUTDOWN,
  CMD_NODE_STOP,
  CMD_NODE_START,
  CMD_CLOSE_CONNECTIONS,
  CMD_CONNECTION_COUNT,
  CMD_EVENT,
} cmd_kind;

typedef struct mock_cmd {
  cmd_kind kind;
  int node;
  const cql_event_msg *event; /* CMD_EVENT: borrowed from the waiting caller */
  int result;
  bool done;
  struct mock_cmd *next;
} mock_cmd;

static void conn_close(mock_conn *c);

static void free_handle(uv_handle_t *h) { free(h); }

/* ------------------------------------------------------------------------------------------ */
/* Sending                                                                                     */

static void on_write(uv_write_t *req, int status) {
  mock_write *wr = (mock_write *)req;
  if (status < 0 || wr->close_after) conn_close(wr->conn);
  free(wr->data);
  free(wr);
}

/* Takes ownership of data. */
static void conn_send(mock_conn *c, uint8_t *data, size_t len, bool close_after) {
  mock_write *wr = malloc(sizeof *wr);
  if (c->closing || !wr) {
    free(data);
    free(wr);
    if (!c->closing) conn_close(c);
    return;
  }
  *wr = (mock_write){.conn = c, .data = data, .close_after = close_after};
  uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
  if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write) < 0) {
    free(data);
    free(wr);
    conn_close(c);
  }
}

static void delayed_free(uv_handle_t *h) {
  mock_delayed *d = (mock_delayed *)h;
  free(d->frame);
  free(d);
}

static void delayed_unlink(mock_delayed *d) {
  if (d->prev)
    d->prev->next = d->next;
  else
    d->conn->delayed = d->next;
  if (d->next) d->next->prev = d->prev;
  d->conn = NULL;
}

static void on_delay(uv_timer_t *t) {
  mock_delayed *d = (mock_delayed *)t;
  mock_conn *c = d->conn;
  delayed_unlink(d);
  if (d->action == MOCK_ACT_CLOSE) {
    conn_close(c);
  } else {
    conn_send(c, d->frame, d->len, false);
    d->frame = NULL;
  }
  uv_close((uv_handle_t *)&d->timer, delayed_free);
}

/* Acts on proto.c's decision; takes the reply's frame. */
static void conn_reply(mock_conn *c, mock_reply *r) {
  size_t len = 0;
  uint8_t *frame = r->action == MOCK_ACT_NO_ANSWER || r->action == MOCK_ACT_CLOSE || !cql_writer_ok(&r->frame)
                       ? NULL
                       : cql_writer_steal(&r->frame, &len);
  cql_writer_free(&r->frame);
  if (r->action == MOCK_ACT_NO_ANSWER) return;
  if (!frame && r->action != MOCK_ACT_CLOSE) {
    conn_close(c); /* could not encode: drop the connection rather than hang the client */
    return;
  }
  if (r->delay_ms == 0) {
    if (r->action == MOCK_ACT_CLOSE)
      conn_close(c);
    else
      conn_send(c, frame, len, false);
    return;
  }
  mock_delayed *d = calloc(1, sizeof *d);
  if (!d) {
    free(frame);
    conn_close(c);
    return;
  }
  *d = (mock_delayed){.conn = c, .action = r->action, .frame = frame, .len = len, .next = c->delayed};
  uv_timer_init(&c->node->m->loop, &d->timer);
  if (c->delayed) c->delayed->prev = d;
  c->delayed = d;
  uv_timer_start(&d->timer, on_delay, r->delay_ms, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Connections                                                                                 */

static void conn_free(uv_handle_t *h) {
  mock_conn *c = (mock_conn *)h;
  cql_frame_reader_free(&c->reader);
  free(c);
}

static void conn_close(mock_conn *c) {
  if (c->closing) return;
  c->closing = true;
  while (c->delayed) {
    mock_delayed *d = c->delayed;
    delayed_unlink(d);
    uv_timer_stop(&d->timer);
    uv_close((uv_handle_t *)&d->timer, delayed_free);
  }
  mock_node *n = c->node;
  if (c->prev)
    c->prev->next = c->next;
  else
    n->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  n->n_conns--;
  if (n->m->cfg.verbose)
    fprintf(stderr, "cqlmock: node %d: connection %" PRIu64 " closed\n", n->index, c->id);
  uv_close((uv_handle_t *)&c->tcp, conn_free);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  buf->base = malloc(suggested);
  buf->len = buf->base ? suggested : 0;
}

/* A frame whose header the codec refuses (version outside 3..5): answer and close. */
static void reject_header(mock_conn *c) {
  const cql_frame_reader *fr = &c->reader;
  const uint8_t *raw = fr->in.data + fr->in_off;
  int16_t stream = fr->in.len - fr->in_off >= 4 ? (int16_t)cql_load_u16(raw + 2) : 0;
  int requested = fr->in.len > fr->in_off ? raw[0] & 0x7f : 0;
  mock_reply r = {.action = MOCK_ACT_ERROR};
  cql_writer_init(&r.frame);
  pthread_mutex_lock(&c->node->m->lock);
  mock_encode_version_error(c->node->m, &r.frame, requested, stream);
  pthread_mutex_unlock(&c->node->m->lock);
  size_t len;
  uint8_t *frame = cql_writer_steal(&r.frame, &len);
  cql_writer_free(&r.frame);
  if (frame)
    conn_send(c, frame, len, true);
  else
    conn_close(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  mock_conn *c = (mock_conn *)s;
  if (nread < 0) {
    free(buf->base);
    conn_close(c);
    return;
  }
  int rc = cql_frame_reader_feed(&c->reader, buf->base, (size_t)nread);
  free(buf->base);
  cqlmock *m = c->node->m;
  while (rc >= 0 && !c->closing) {
    cql_frame_header h;
    const uint8_t *body;
    rc = cql_frame_reader_next(&c->reader, &h, &body);
    if (rc <= 0) break;
    mock_reply r = {0};
    cql_writer_init(&r.frame);
    pthread_mutex_lock(&m->lock);
    mock_handle(c->node, &c->session, c->id, &h, body, &r);
    pthread_mutex_unlock(&m->lock);
    conn_reply(c, &r);
  }
  if (rc == CQL_RC_UNSUPPORTED && !c->closing)
    reject_header(c);
  else if (rc < 0 && !c->closing)
    conn_close(c);
}

static void on_connection(uv_stream_t *server, int status) {
  mock_node *n = server->data;
  if (status < 0) return;
  mock_conn *c = calloc(1, sizeof *c);
  if (!c) return;
  uv_tcp_init(&n->m->loop, &c->tcp);
  if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
    uv_close((uv_handle_t *)&c->tcp, free_handle);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  c->node = n;
  c->id = ++n->next_conn_id;
  cql_frame_reader_init(&c->reader, CQL_FRAMING_NONE, 0);
  c->next = n->conns;
  if (n->conns) n->conns->prev = c;
  n->conns = c;
  n->n_conns++;
  if (n->m->cfg.verbose)
    fprintf(stderr, "cqlmock: node %d: connection %" PRIu64 " opened\n", n->index, c->id);
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) conn_close(c);
}

/* ------------------------------------------------------------------------------------------ */
/* Nodes                                                                                       */

static int node_listen(mock_node *n, uint16_t port) {
  uv_tcp_t *l = malloc(sizeof *l);
  if (!l) return UV_ENOMEM;
  uv_tcp_init(&n->m->loop, l);
  l->data = n;
  struct sockaddr_in addr;
  uv_ip4_addr(n->host, port, &addr);
  int rc = uv_tcp_bind(l, (const struct sockaddr *)&addr, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)l, 128, on_connection);
  if (rc == 0) {
    struct sockaddr_in bound;
    int len = sizeof bound;
    rc = uv_tcp_getsockname(l, (struct sockaddr *)&bound, &len);
    n->port = ntohs(bound.sin_port);
  }
  if (rc < 0) {
    uv_close((uv_handle_t *)l, free_handle);
    return rc;
  }
  n->listener = l;
  return 0;
}

static void node_stop(mock_node *n) {
  if (n->listener) uv_close((uv_handle_t *)n->listener, free_handle);
  n->listener = NULL;
  while (n->conns) conn_close(n->conns);
}

static int send_event(mock_node *n, const cql_event_msg *ev) {
  int sent = 0;
  cql_message msg;
  cql_message_init(&msg, CQL_OP_EVENT);
  msg.u.event = *ev;
  for (mock_conn *c = n->conns; c; c = c->next) {
    if (!(c->session.events & (1u << ev->type))) continue;
    cql_writer w;
    cql_writer_init(&w);
    if (cql_message_encode_frame(&w, c->session.version, 0, -1, &msg) == 0 && cql_writer_ok(&w)) {
      size_t len = 0;
      uint8_t *frame = cql_writer_steal(&w, &len);
      conn_send(c, frame, len, false);
      sent++;
    }
    cql_writer_free(&w);
  }
  return sent;
}

static void run_one(cqlmock *m, mock_cmd *cmd) {
  mock_node *n = cmd->node >= 0 ? &m->nodes[cmd->node] : NULL;
  switch (cmd->kind) {
  case CMD_SHUTDOWN:
    for (int i = 0; i < m->n_nodes; i++) node_stop(&m->nodes[i]);
    uv_close((uv_handle_t *)&m->wakeup, NULL);
    break;
  case CMD_NODE_STOP:
    node_stop(n);
    break;
  case CMD_NODE_START:
    cmd->result = n->listener ? 0 : node_listen(n, n->port);
    break;
  case CMD_CLOSE_CONNECTIONS:
    cmd->result = n->n_conns;
    while (n->conns) conn_close(n->conns);
    break;
  case CMD_CONNECTION_COUNT:
    cmd->result = n->n_conns;
    break;
  case CMD_EVENT:
    for (int i = 0; i < m->n_nodes; i++)
      if (cmd->node < 0 || cmd->node == i) cmd->result += send_event(&m->nodes[i], cmd->event);
    break;
  }
}

static void on_wakeup(uv_async_t *a) {
  cqlmock *m = a->data;
  pthread_mutex_lock(&m->lock);
  mock_cmd *list = m->cmds;
  m->cmds = NULL;
  pthread_mutex_unlock(&m->lock);
  while (list) {
    mock_cmd *next = list->next;
    run_one(m, list);
    pthread_mutex_lock(&m->lock);
    list->done = true; /* the caller may return (and free list) from here on */
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    list = next;
  }
}

static int run_cmd(cqlmock *m, mock_cmd *cmd) {
  pthread_mutex_lock(&m->lock);
  mock_cmd **tail = &m->cmds;
  while (*tail) tail = &(*tail)->next;
  *tail = cmd;
  uv_async_send(&m->wakeup);
  while (!cmd->done) pthread_cond_wait(&m->cond, &m->lock);
  pthread_mutex_unlock(&m->lock);
  return cmd->result;
}

static void *loop_main(void *arg) {
  cqlmock *m = arg;
  /* Writing to a socket the client closed must fail with EPIPE, not kill the test process. */
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, NULL);
  uv_run(&m->loop, UV_RUN_DEFAULT);
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Lifecycle                                                                                   */

static void copy_str(char *dst, size_t size, const char *src, const char **field) {
  snprintf(dst, size, "%s", src ? src : "");
  if (field) *field = src ? dst : NULL;
}

/* Parses a comma-separated token list; false if any token is not an int64. */
static bool tokens_valid(const char *tokens) {
  const char *s = tokens;
  do {
    char *end;
    errno = 0;
    (void)strtoll(s, &end, 10);
    if (errno || end == s) return false;
    while (*end == ' ') end++;
    if (*end && *end != ',') return false;
    s = *end ? end + 1 : end;
  } while (*s);
  return true;
}

static int init_nodes(cqlmock *m) {
  const cqlmock_config *cfg = &m->cfg;
  int first = cfg->first_host ? cfg->first_host : 1;
  if (first < 1 || first + m->n_nodes - 1 > 254) return -1;
  for (int i = 0; i < m->n_nodes; i++) {
    mock_node *n = &m->nodes[i];
    const cqlmock_node_config *nc = &cfg->node[i];
    n->m = m;
    n->index = i;
    n->answering = true;
    snprintf(n->host, sizeof n->host, "127.0.0.%u", (unsigned)(first + i) & 0xffu); /* <= 254 */
    copy_str(n->datacenter, sizeof n->datacenter, nc->datacenter ? nc->datacenter : "dc1", NULL);
    copy_str(n->rack, sizeof n->rack, nc->rack ? nc->rack : "rack1", NULL);
    if (nc->tokens) {
      if (!tokens_valid(nc->tokens) || strlen(nc->tokens) >= sizeof n->tokens) {
        fprintf(stderr, "cqlmock: node %d: bad tokens '%s'\n", i, nc->tokens);
        return -1;
      }
      copy_str(n->tokens, sizeof n->tokens, nc->tokens, NULL);
    } else {
      /* Evenly spaced, like a balanced single-token ring. */
      int64_t token = (int64_t)((uint64_t)INT64_MIN + (UINT64_MAX / (uint64_t)m->n_nodes) * (uint64_t)i);
      snprintf(n->tokens, sizeof n->tokens, "%" PRId64, token);
    }
    /* Fixed, recognisable host ids: 00000000-0000-4000-8000-0000000000NN (version 4). */
    memset(n->host_id, 0, sizeof n->host_id);
    n->host_id[6] = 0x40;
    n->host_id[8] = 0x80;
    n->host_id[15] = (uint8_t)(i + 1);
  }
  return 0;
}

/* Node 0 picks the port; the others try the same one and fall back to a free port each. */
static int bind_nodes(cqlmock *m) {
  int rc = node_listen(&m->nodes[0], m->cfg.port);
  if (rc < 0) {
    fprintf(stderr, "cqlmock: cannot listen on %s:%u: %s\n", m->nodes[0].host, m->cfg.port, uv_strerror(rc));
    return -1;
  }
  for (int i = 1; i < m->n_nodes; i++) {
    mock_node *n = &m->nodes[i];
    rc = node_listen(n, m->nodes[0].port);
    if (rc < 0 && m->cfg.port == 0) rc = node_listen(n, 0);
    if (rc < 0) {
      fprintf(stderr, "cqlmock: cannot listen on %s: %s\n", n->host, uv_strerror(rc));
      return -1;
    }
  }
  size_t off = 0;
  for (int i = 0; i < m->n_nodes; i++)
    off += (size_t)snprintf(m->contact_points + off, sizeof m->contact_points - off, "%s%s:%u", i ? "," : "",
                            m->nodes[i].host, m->nodes[i].port);
  return 0;
}

static void free_state(cqlmock *m) {
  while (m->primes) {
    cqlmock_prime *next = m->primes->next;
    cqlmock_prime_free(m->primes);
    m->primes = next;
  }
  cqlmock_log_free(m->log, m->n_log);
  for (int i = 0; i < m->n_nodes; i++) {
    mock_node *n = &m->nodes[i];
    for (size_t j = 0; j < n->n_prepared; j++) free(n->prepared[j].query);
    free(n->prepared);
  }
  pthread_cond_destroy(&m->cond);
  pthread_mutex_destroy(&m->lock);
  free(m);
}

/* Closes whatever handles exist and drains the loop (start failed before the thread ran). */
static void abort_start(cqlmock *m) {
  for (int i = 0; i < m->n_nodes; i++) node_stop(&m->nodes[i]);
  uv_close((uv_handle_t *)&m->wakeup, NULL);
  uv_run(&m->loop, UV_RUN_DEFAULT);
  uv_loop_close(&m->loop);
  free_state(m);
}

cqlmock *cqlmock_start(const cqlmock_config *cfg) {
  cqlmock_config zero = {0};
  if (!cfg) cfg = &zero;
  int nodes = cfg->nodes ? cfg->nodes : 1;
  int minv = cfg->min_protocol_version ? cfg->min_protocol_version : 4;
  int maxv = cfg->max_protocol_version ? cfg->max_protocol_version : 4;
  if (nodes < 1 || nodes > CQLMOCK_MAX_NODES || minv < 3 || maxv > 4 || minv > maxv ||
      (!cfg->username) != (!cfg->password)) {
    fprintf(stderr, "cqlmock: invalid config (nodes 1..%d, protocol versions 3..4, user+password)\n",
            CQLMOCK_MAX_NODES);
    return NULL;
  }
  cqlmock *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->cfg = *cfg;
  m->cfg.nodes = m->n_nodes = nodes;
  m->cfg.min_protocol_version = minv;
  m->cfg.max_protocol_version = maxv;
  copy_str(m->cluster_name, sizeof m->cluster_name, cfg->cluster_name ? cfg->cluster_name : "cqlmock",
           &m->cfg.cluster_name);
  copy_str(m->username, sizeof m->username, cfg->username, &m->cfg.username);
  copy_str(m->password, sizeof m->password, cfg->password, &m->cfg.password);
  copy_str(m->keyspace, sizeof m->keyspace, cfg->keyspace, &m->cfg.keyspace);
  copy_str(m->replication, sizeof m->replication, cfg->replication, &m->cfg.replication);
  m->auth = cfg->username != NULL;
  /* Same schema version on every node: schema agreement holds. */
  static const uint8_t schema[16] = {0x5c, 0x4e, 0xa0, 0x5e, 0x00, 0x00, 0x30, 0x00,
                                     0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01};
  memcpy(m->schema_version, schema, sizeof schema);
  pthread_mutex_init(&m->lock, NULL);
  pthread_cond_init(&m->cond, NULL);
  int rc = init_nodes(m);                     /* reads the caller's per-node settings from m->cfg.node */
  memset(m->cfg.node, 0, sizeof m->cfg.node); /* the caller's strings are not kept */
  if (rc < 0 || uv_loop_init(&m->loop) < 0) {
    free_state(m);
    return NULL;
  }
  uv_async_init(&m->loop, &m->wakeup, on_wakeup);
  m->wakeup.data = m;
  if (bind_nodes(m) < 0 || pthread_create(&m->thread, NULL, loop_main, m) != 0) {
    abort_start(m);
    return NULL;
  }
  return m;
}

void cqlmock_stop(cqlmock *m) {
  if (!m) return;
  mock_cmd cmd = {.kind = CMD_SHUTDOWN, .node = -1};
  run_cmd(m, &cmd);
  pthread_join(m->thread, NULL);
  uv_loop_close(&m->loop);
  free_state(m);
}

int cqlmock_node_count(const cqlmock *m) { return m->n_nodes; }
const char *cqlmock_node_host(const cqlmock *m, int node) { return m->nodes[node].host; }
uint16_t cqlmock_node_port(const cqlmock *m, int node) { return m->nodes[node].port; }
const char *cqlmock_contact_points(const cqlmock *m) { return m->contact_points; }

static bool valid_node(const cqlmock *m, int node) { return node >= 0 && node < m->n_nodes; }

static int node_cmd(cqlmock *m, int node, cmd_kind kind) {
  if (!valid_node(m, node)) return -1;
  mock_cmd cmd = {.kind = kind, .node = node};
  return run_cmd(m, &cmd);
}

int cqlmock_node_stop(cqlmock *m, int node) { return node_cmd(m, node, CMD_NODE_STOP); }

int cqlmock_node_start(cqlmock *m, int node) {
  if (!valid_node(m, node)) return -1;
  cqlmock_node_forget_prepared(m, node);
  return node_cmd(m, node, CMD_NODE_START) < 0 ? -1 : 0;
}

int cqlmock_node_close_connections(cqlmock *m, int node) { return node_cmd(m, node, CMD_CLOSE_CONNECTIONS); }
int cqlmock_node_connection_count(cqlmock *m, int node) { return node_cmd(m, node, CMD_CONNECTION_COUNT); }

void cqlmock_node_forget_prepared(cqlmock *m, int node) {
  if (!valid_node(m, node)) return;
  pthread_mutex_lock(&m->lock);
  mock_node *n = &m->nodes[node];
  for (size_t j = 0; j < n->n_prepared; j++) free(n->prepared[j].query);
  n->n_prepared = 0;
  pthread_mutex_unlock(&m->lock);
}

void cqlmock_node_set_answering(cqlmock *m, int node, bool answering) {
  if (!valid_node(m, node)) return;
  pthread_mutex_lock(&m->lock);
  m->nodes[node].answering = answering;
  pthread_mutex_unlock(&m->lock);
}

void cqlmock_node_set_delay(cqlmock *m, int node, unsigned delay_ms) {
  if (!valid_node(m, node)) return;
  pthread_mutex_lock(&m->lock);
  m->nodes[node].delay_ms = delay_ms;
  pthread_mutex_unlock(&m->lock);
}

/* ------------------------------------------------------------------------------------------ */
/* Events                                                                                      */

static int push_event(cqlmock *m, int to_node, const cql_event_msg *ev) {
  if (to_node >= m->n_nodes || to_node < -1) return -1;
  mock_cmd cmd = {.kind = CMD_EVENT, .node = to_node, .event = ev};
  return run_cmd(m, &cmd);
}

static int push_node_event(cqlmock *m, int to_node, int type, const char *change, int about_node) {
  if (!valid_node(m, about_node) || !change) return -1;
  cql_event_msg ev = {.type = type, .change = cql_str_of(change)};
  ev.address.len = 4;
  inet_pton(AF_INET, m->nodes[about_node].host, ev.address.addr);
  ev.address.port = m->nodes[about_node].port;
  return push_event(m, to_node, &ev);
}

int cqlmock_push_topology_change(cqlmock *m, int to_node, const char *change, int about_node) {
  return push_node_event(m, to_node, CQL_EVENT_TOPOLOGY_CHANGE, change, about_node);
}

int cqlmock_push_status_change(cqlmock *m, int to_node, const char *change, int about_node) {
  return push_node_event(m, to_node, CQL_EVENT_STATUS_CHANGE, change, about_node);
}

int cqlmock_push_schema_change(cqlmock *m, int to_node, const char *change, const char *target,
                               const char *keyspace, const char *name) {
  if (!change || !target || !keyspace) return -1;
  cql_event_msg ev = {.type = CQL_EVENT_SCHEMA_CHANGE,
                      .schema_change = {.change_type = cql_str_of(change),
                                        .target = cql_str_of(target),
                                        .keyspace = cql_str_of(keyspace),
                                        .name = cql_str_of(name ? name : "")}};
  return push_event(m, to_node, &ev);
}

/* ------------------------------------------------------------------------------------------ */
/* Primes                                                                                      */

int cqlmock_prime_add(cqlmock *m, cqlmock_prime *p) {
  if (!p) return -1;
  if (p->failure[0]) {
    fprintf(stderr, "cqlmock: prime '%s' rejected: %s\n", p->query ? p->query : "*", p->failure);
    cqlmock_prime_free(p);
    return -1;
  }
  pthread_mutex_lock(&m->lock);
  p->next = m->primes;
  m->primes = p;
  pthread_mutex_unlock(&m->lock);
  return 0;
}

void cqlmock_prime_clear(cqlmock *m) {
  pthread_mutex_lock(&m->lock);
  cqlmock_prime *list = m->primes;
  m->primes = NULL;
  pthread_mutex_unlock(&m->lock);
  while (list) {
    cqlmock_prime *next = list->next;
    cqlmock_prime_free(list);
    list = next;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Request log                                                                                 */

void mock_log_append(cqlmock *m, cqlmock_request *r) {
  if (m->cfg.no_log) {
    free(r->query);
    return;
  }
  if (m->n_log == m->cap_log) {
    size_t cap = m->cap_log ? m->cap_log * 2 : 64;
    cqlmock_request *grown = realloc(m->log, cap * sizeof *grown);
    if (!grown) {
      free(r->query);
      return;
    }
    m->log = grown;
    m->cap_log = cap;
  }
  m->log[m->n_log++] = *r;
  pthread_cond_broadcast(&m->cond);
}

static bool log_selected(const cqlmock_request *r, int node, uint8_t opcode, const char *prefix) {
  return (node < 0 || r->node == node) && (opcode == 0 || r->opcode == opcode) &&
         (!prefix || (r->query && strncmp(r->query, prefix, strlen(prefix)) == 0));
}

cqlmock_request *cqlmock_log(cqlmock *m, int node, size_t *count) {
  pthread_mutex_lock(&m->lock);
  size_t n = 0;
  cqlmock_request *out = calloc(m->n_log ? m->n_log : 1, sizeof *out);
  for (size_t i = 0; out && i < m->n_log; i++) {
    if (!log_selected(&m->log[i], node, 0, NULL)) continue;
    out[n] = m->log[i];
    out[n].query = m->log[i].query ? strdup(m->log[i].query) : NULL;
    n++;
  }
  pthread_mutex_unlock(&m->lock);
  *count = n;
  return out;
}

void cqlmock_log_free(cqlmock_request *reqs, size_t count) {
  for (size_t i = 0; reqs && i < count; i++) free(reqs[i].query);
  free(reqs);
}

static size_t count_locked(cqlmock *m, int node, uint8_t opcode, const char *prefix) {
  size_t n = 0;
  for (size_t i = 0; i < m->n_log; i++) n += log_selected(&m->log[i], node, opcode, prefix);
  return n;
}

size_t cqlmock_log_count(cqlmock *m, int node, uint8_t opcode, const char *query_prefix) {
  pthread_mutex_lock(&m->lock);
  size_t n = count_locked(m, node, opcode, query_prefix);
  pthread_mutex_unlock(&m->lock);
  return n;
}

bool cqlmock_log_wait(cqlmock *m, int node, uint8_t opcode, const char *query_prefix, size_t count,
                      unsigned timeout_ms) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&m->lock);
  bool ok;
  while (!(ok = count_locked(m, node, opcode, query_prefix) >= count))
    if (pthread_cond_timedwait(&m->cond, &m->lock, &deadline) == ETIMEDOUT) {
      ok = count_locked(m, node, opcode, query_prefix) >= count;
      break;
    }
  pthread_mutex_unlock(&m->lock);
  return ok;
}

void cqlmock_log_clear(cqlmock *m, int node) {
  pthread_mutex_lock(&m->lock);
  size_t kept = 0;
  for (size_t i = 0; i < m->n_log; i++) {
    if (node < 0 || m->log[i].node == node)
      free(m->log[i].query);
    else
      m->log[kept++] = m->log[i];
  }
  m->n_log = kept;
  pthread_mutex_unlock(&m->lock);
}
