/* store/sqlite/sqlite_writer: the single writer thread of the SQLite store (group commit).
 *
 * Sends and read marks are queued (bounded) and taken by one thread in batches; each batch is one
 * transaction in which every send has its own savepoint, so a failing send rolls back alone.
 * Callbacks run on the writer thread after the batch's COMMIT returned (durable: WAL with
 * synchronous=FULL), or with STORE_UNAVAILABLE when the batch could not be committed, in
 * which case nothing of it is visible. The writer owns its connection, its statements and
 * the message id generator; the queued send_request (and its strings) stay owned by the
 * caller, who keeps them valid until the callback. Private to store/sqlite. */
#ifndef MESSENGER_STORE_SQLITE_WRITER_H
#define MESSENGER_STORE_SQLITE_WRITER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct sqlite_writer sqlite_writer;

/* Opens the writer's connection to `path` (creating file and schema when missing), seeds the
 * id generator above every stored id and starts the thread. Returns 0 and sets *out, or -1
 * with a message in err. */
int sqlite_writer_start(const char *path, unsigned max_batch, unsigned max_queue, sqlite_writer **out,
                        char *err, size_t err_size);

/* Queues a send. When the queue is full or the writer is stopping, the callback runs at once
 * on the calling thread with STORE_UNAVAILABLE. */
void sqlite_writer_submit(sqlite_writer *w, const send_request *req, store_send_cb cb, void *arg);

/* Queues a read mark (same queue, same transactions and durability as sends). */
void sqlite_writer_submit_mark(sqlite_writer *w, const read_mark_request *req, store_read_mark_cb cb,
                               void *arg);

/* False when the writer is stopping or has been inside one batch for too long (stalled disk,
 * lock held by another process). Sets *detail when false. */
bool sqlite_writer_healthy(sqlite_writer *w, const char **detail);

/* The number of transactions the writer has committed; it grows after each commit is visible
 * to readers and before its callbacks run. Valid until sqlite_writer_stop. */
const _Atomic uint64_t *sqlite_writer_commits(const sqlite_writer *w);

/* Stops accepting, completes every queued send, joins the thread, checkpoints the WAL,
 * closes the connection and frees the writer. */
void sqlite_writer_stop(sqlite_writer *w);

#endif
