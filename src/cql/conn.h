/* cql/conn: one CQL connection on the I/O thread's libuv loop.
 *
 * Connects (with a connect timeout), runs the handshake (STARTUP -> READY, or AUTHENTICATE ->
 * AUTH_RESPONSE with SASL PLAIN -> AUTH_SUCCESS; v5 segment framing after READY/AUTHENTICATE),
 * then multiplexes requests over stream ids (cql/streams). Writes issued in the same loop turn
 * are coalesced into one socket write. Each request has its own deadline; on expiry its stream
 * is orphaned (not reused until the late response arrives) and the request fails with
 * CQL_ERR_CLIENT_TIMEOUT. Past max_orphans the connection retires: it takes no new requests,
 * lets the ones in flight finish, then closes. A ready connection that has received nothing
 * for heartbeat_interval_ms sends OPTIONS; a heartbeat unanswered within heartbeat_timeout_ms
 * kills the connection (in-flight requests fail with CQL_ERR_CONNECTION_CLOSED). A server that
 * rejects the credentials fails the connection with CQL_ERR_AUTH. EVENT frames (stream -1) go
 * to on_event.
 *
 * Ownership: cql_conn_open returns a connection owned by the loop; the owner learns it is no
 * longer usable exactly once through on_down (failure, peer close, retirement), or gives it up
 * with cql_conn_close (then on_down is not called). After either, the owner must forget the
 * pointer: the connection frees itself once its handles are closed. Requests (cql_conn_req) are
 * owned by the caller and must stay alive until on_response has been called, which happens
 * exactly once per accepted send (response, timeout, or connection closed). */
#ifndef MESSENGER_CQL_CONN_H
#define MESSENGER_CQL_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "cql/message.h"

typedef struct cql_conn cql_conn;
typedef struct cql_conn_req cql_conn_req;

/* resp: the decoded response, owned by the callee (cql_message_free it, or move the struct);
 * NULL when err is set (client-side failure: timeout, connection closed, undecodable). */
typedef void (*cql_conn_response_fn)(cql_conn_req *r, cql_message *resp, const cql_error *err);

struct cql_conn_req {
  cql_conn_response_fn on_response;
  /* private to conn */
  cql_conn *conn;
  int stream;
  uint64_t deadline; /* loop ms; 0 = none */
  cql_conn_req *tprev, *tnext;
};

typedef struct cql_conn_settings {
  int protocol_version; /* 4 or 5 */
  const char *username; /* NULL: no credentials */
  const char *password;
  unsigned connect_timeout_ms;
  unsigned heartbeat_interval_ms; /* 0: off */
  unsigned heartbeat_timeout_ms;  /* 0: connect_timeout_ms (or 5000) */
  unsigned max_requests;          /* in-flight cap */
  unsigned max_orphans;           /* retire past this */
} cql_conn_settings;

typedef struct cql_conn_handlers {
  void (*on_ready)(cql_conn *c, void *ud);
  /* err NULL: retiring (too many orphans) but healthy, replace it now; else why it failed. */
  void (*on_down)(cql_conn *c, const cql_error *err, void *ud);
  void (*on_event)(cql_conn *c, const cql_message *event, void *ud); /* may be NULL */
  /* A response or a timeout freed room under the in-flight cap (may be NULL). Runs after the
   * request's on_response; the owner may send on c from it. */
  void (*on_capacity)(cql_conn *c, void *ud);
} cql_conn_handlers;

/* Starts connecting; NULL on OOM or a socket error (reported nowhere else). The settings'
 * strings must outlive the connection. */
cql_conn *cql_conn_open(uv_loop_t *loop, const struct sockaddr *addr, const cql_conn_settings *s,
                        const cql_conn_handlers *h, void *ud);

/* Encodes m on a free stream and queues it. false (and no callback) when the connection is not
 * ready, is retiring, has no free stream, or m cannot be encoded. timeout_ms 0 = no deadline. */
bool cql_conn_send(cql_conn *c, cql_conn_req *r, const cql_message *m, unsigned timeout_ms);

/* Owner-initiated close: in-flight requests fail with err_code (e.g. CQL_ERR_CLIENT_CLOSED). */
void cql_conn_close(cql_conn *c, int32_t err_code);

bool cql_conn_is_ready(const cql_conn *c);
/* Ready, below the in-flight cap, and a stream id free: cql_conn_send will find a stream. */
bool cql_conn_has_capacity(const cql_conn *c);
unsigned cql_conn_in_flight(const cql_conn *c);
int cql_conn_protocol_version(const cql_conn *c);
/* "addr:port" of the peer. */
const char *cql_conn_address(const cql_conn *c);

#endif
