/* store/sqlite/sqlite_reads: the store's read queries, run inline on the calling thread.
 *
 * Each query runs in one read transaction on the thread's own connection (sqlite_readers;
 * on an event loop, one shared by the calls of a loop iteration while nothing commits), so a
 * page and its total come from one snapshot, then calls the callback before returning.
 * Every read is an index range scan of the page it returns: messages by (conversation_id,
 * seq), bounds by (conversation_id, id), a user's conversations by (user_id,
 * last_message_id DESC, conversation_id DESC) with a row-value cursor; totals are stored
 * counters. Page numbers on the user's list use OFFSET on that index (users are in few
 * conversations). Results point into the reader's buffers, valid during the callback.
 * Private to store/sqlite. */
#ifndef MESSENGER_STORE_SQLITE_READS_H
#define MESSENGER_STORE_SQLITE_READS_H

#include "store/sqlite/sqlite_readers.h"
#include "store/store.h"

/* Creates the reader set of the database at `path` with the statements below; `commits` is the
 * writer's commit count (sqlite_writer_commits). */
int sqlite_reads_create(const char *path, const _Atomic uint64_t *commits, sqlite_readers **out, char *err,
                        size_t err_size);

void sqlite_reads_list_messages(sqlite_readers *r, const message_query *q, store_message_page_cb cb,
                                void *arg);
void sqlite_reads_list_conversations(sqlite_readers *r, const conversation_query *q,
                                     store_conversation_page_cb cb, void *arg);
void sqlite_reads_get_conversation(sqlite_readers *r, int64_t conversation_id, store_conversation_cb cb,
                                   void *arg);

/* A cheap read. Returns true, or false with a client-safe *detail. */
bool sqlite_reads_ping(sqlite_readers *r, const char **detail);

#endif
