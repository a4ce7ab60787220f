/* redis: a generic asynchronous Redis client (hiredis on libuv). It knows nothing
 * about messages: commands in, replies out.
 *
 * A client owns one libuv loop on a thread of its own and two connections to one server: one
 * for commands (pipelined, replies in order) and one for pub/sub. Both reconnect by themselves
 * with exponential backoff (and AUTH / SELECT again); pub/sub channels are subscribed again
 * after every reconnect.
 *
 * Threads: every submitting function may be called from any thread, including from inside a
 * callback. Every callback runs on the client's thread, never inline in the submitting call;
 * callbacks must not block. redis_client_close() must not be called from a callback.
 *
 * The pub/sub connection is PINGed while idle, so a hung server is noticed there too.
 *
 * Requests: a command accepted by redis_client_command() (return 0) gets its callback exactly
 * once: with the reply, or with a failure status (timeout, connection lost after sending,
 * client closed). A request waits for a connection while there is none, up to the request
 * timeout. A request still unanswered when its timeout expires is answered TIMEOUT and, when it
 * had been sent, the command connection is dropped and re-established (a stuck pipeline would
 * delay everything behind it). A command that failed with TIMEOUT or DISCONNECTED may or may
 * not have run on the server. The number of unanswered requests is bounded (max_pending):
 * past it submission fails at once.
 *
 * Ownership: argument bytes are copied at submission (binary-safe: lengths, not NULs). A reply
 * handed to a callback is owned by hiredis and valid only during the callback. A redis_script
 * is owned by the caller and must outlive every request that uses it. A subscription is owned
 * by the client: it is freed after its REDIS_SUB_ENDED callback (after redis_client_unsubscribe
 * or at close), and its `user` pointer is not touched after that callback. */
#ifndef MESSENGER_REDIS_REDIS_H
#define MESSENGER_REDIS_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define REDIS_URL_HOST_MAX     255
#define REDIS_URL_USER_MAX     128
#define REDIS_URL_PASSWORD_MAX 256

/* redis://[[user]:password@]host[:port][/db]; host may be [IPv6]; port 6379, db 0 by default.
 * The user name and password are taken as written (no percent-decoding). */
typedef struct redis_url {
  char host[REDIS_URL_HOST_MAX + 1];
  int port;
  int db;
  char user[REDIS_URL_USER_MAX + 1];         /* "" = none (AUTH password) */
  char password[REDIS_URL_PASSWORD_MAX + 1]; /* "" = no AUTH */
} redis_url;

/* false with *err (a static string) when the URL is not of that form. */
bool redis_url_parse(const char *url, redis_url *out, const char **err);

typedef struct redis_client_options {
  unsigned request_timeout_ms; /* 0 = 2000: from submission to reply */
  unsigned connect_timeout_ms; /* 0 = 2000: TCP connect + AUTH/SELECT */
  unsigned reconnect_min_ms;   /* 0 = 50: first delay after a failure, doubling ... */
  unsigned reconnect_max_ms;   /* 0 = 5000: ... up to this (each with +-15% jitter) */
  size_t max_pending;          /* 0 = 65536: accepted requests not yet answered */
  unsigned pubsub_ping_ms;     /* 0 = 5000: PING on the pub/sub connection this long after the last
                                  answer; no PONG within the request timeout drops it */
} redis_client_options;

typedef enum redis_status {
  REDIS_STATUS_OK = 0,       /* reply != NULL; it may be an error reply (REDIS_REPLY_ERROR) */
  REDIS_STATUS_TIMEOUT,      /* no reply within the request timeout */
  REDIS_STATUS_DISCONNECTED, /* the connection was lost after the command was sent */
  REDIS_STATUS_CLOSED,       /* the client closed before the command could be sent */
} redis_status;

const char *redis_status_name(redis_status status);

/* Submission results (redis_client_command, redis_client_evalsha). */
enum { REDIS_SUBMIT_OK = 0, REDIS_SUBMIT_FULL = -1, REDIS_SUBMIT_CLOSED = -2, REDIS_SUBMIT_INVALID = -3 };

typedef struct redis_client redis_client;
typedef struct redis_script redis_script;
typedef struct redis_subscription redis_subscription;

typedef void (*redis_reply_cb)(void *user, redis_status status, const redisReply *reply);

/* Parses the URL, starts the client thread and begins connecting; does not wait for the server
 * (commands wait for the connection). NULL with *err (static string) on a bad URL or when the
 * thread cannot start. `opts` may be NULL. */
redis_client *redis_client_open(const char *url, const redis_client_options *opts, const char **err);

/* Stops accepting requests, lets every accepted one finish (each within its timeout), ends every
 * subscription (REDIS_SUB_ENDED), disconnects and frees. Not from a client callback. */
void redis_client_close(redis_client *c);

/* One command, argv-style: argv[i] has argvlen[i] bytes. Returns REDIS_SUBMIT_OK (cb will be
 * called once), or FULL (max_pending reached, or out of memory) / CLOSED / INVALID (argc < 1 or
 * > 1024); then cb will not be called. */
int redis_client_command(redis_client *c, int argc, const char *const *argv, const size_t *argvlen,
                         redis_reply_cb cb, void *user);

/* A Lua script, identified by its SHA1 (computed here). NULL when out of memory. */
redis_script *redis_script_new(const char *source, size_t len);
void redis_script_free(redis_script *s);
const char *redis_script_sha1(const redis_script *s); /* 40 lowercase hex digits */

/* EVALSHA sha numkeys keys... args...: argv holds the numkeys keys and then the arguments.
 * On a NOSCRIPT error (script cache flushed, server restarted) the client sends SCRIPT LOAD and
 * the EVALSHA again on the same connection, once; the callback gets the second reply. */
int redis_client_evalsha(redis_client *c, const redis_script *script, int numkeys, int argc,
                         const char *const *argv, const size_t *argvlen, redis_reply_cb cb, void *user);

typedef enum redis_sub_event {
  REDIS_SUB_ACTIVE,      /* subscribed (first time or again after a reconnect): messages from now on */
  REDIS_SUB_MESSAGE,     /* a message: payload/len */
  REDIS_SUB_INTERRUPTED, /* connection lost: messages published until the next ACTIVE are lost */
  REDIS_SUB_ENDED,       /* last callback of this subscription */
} redis_sub_event;

typedef void (*redis_sub_cb)(void *user, redis_sub_event event, const char *payload, size_t len);

/* Subscribes to one channel (several subscriptions may share a channel; each gets every
 * message). NULL when the client is closed, the channel is empty or longer than 1024 bytes, or
 * out of memory (cb will not be called). */
redis_subscription *redis_client_subscribe(redis_client *c, const char *channel, size_t len, redis_sub_cb cb,
                                           void *user);
/* Ends the subscription asynchronously: cb gets REDIS_SUB_ENDED, then no further call. */
void redis_client_unsubscribe(redis_client *c, redis_subscription *sub);

#endif
