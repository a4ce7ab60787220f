#include "store/sqlite/sqlite_store.h"

#include <stdio.h>
#include <stdlib.h>

#include "store/sqlite/sqlite_reads.h"
#include "store/sqlite/sqlite_writer.h"

typedef struct sqlite_store {
  store base; /* first: a store * is a sqlite_store * */
  sqlite_writer *writer;
  sqlite_readers *readers;
} sqlite_store;

static sqlite_store *from_base(store *s) { return (sqlite_store *)s; }

static void send_message(store *s, const send_request *req, store_send_cb cb, void *arg) {
  sqlite_writer_submit(from_base(s)->writer, req, cb, arg);
}

static void list_messages(store *s, const message_query *q, store_message_page_cb cb, void *arg) {
  sqlite_reads_list_messages(from_base(s)->readers, q, cb, arg);
}

static void list_conversations(store *s, const conversation_query *q, store_conversation_page_cb cb,
                               void *arg) {
  sqlite_reads_list_conversations(from_base(s)->readers, q, cb, arg);
}

static void get_conversation(store *s, int64_t conversation_id, store_conversation_cb cb, void *arg) {
  sqlite_reads_get_conversation(from_base(s)->readers, conversation_id, cb, arg);
}

static void mark_read(store *s, const read_mark_request *req, store_read_mark_cb cb, void *arg) {
  sqlite_writer_submit_mark(from_base(s)->writer, req, cb, arg);
}

static void end_read_snapshot(store *s) { sqlite_readers_end_snapshot(from_base(s)->readers); }

static void ping(store *s, store_ping_cb cb, void *arg) {
  sqlite_store *ss = from_base(s);
  const char *detail = NULL;
  if (sqlite_reads_ping(ss->readers, &detail) && sqlite_writer_healthy(ss->writer, &detail))
    cb(arg, STORE_OK, NULL);
  else
    cb(arg, STORE_UNAVAILABLE, detail);
}

static void close_store(store *s) {
  sqlite_store *ss = from_base(s);
  sqlite_writer_stop(ss->writer); /* every accepted send completes first */
  sqlite_readers_destroy(ss->readers);
  free(ss);
}

static const store_vtable SQLITE_VTABLE = {
    .backend = "sqlite",
    .send_message = send_message,
    .list_messages = list_messages,
    .list_conversations = list_conversations,
    .get_conversation = get_conversation,
    .mark_read = mark_read,
    .ping = ping,
    .end_read_snapshot = end_read_snapshot,
    .close = close_store,
};

int sqlite_store_open(const sqlite_store_config *cfg, store **out, char *err, size_t err_size) {
  sqlite_store *ss = calloc(1, sizeof *ss);
  if (!ss) {
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  ss->base.vt = &SQLITE_VTABLE;
  if (sqlite_writer_start(cfg->path, cfg->max_batch, cfg->max_queue, &ss->writer, err, err_size) != 0) {
    free(ss);
    return -1;
  }
  if (sqlite_reads_create(cfg->path, sqlite_writer_commits(ss->writer), &ss->readers, err, err_size) != 0) {
    sqlite_writer_stop(ss->writer);
    free(ss);
    return -1;
  }
  *out = &ss->base;
  return 0;
}
