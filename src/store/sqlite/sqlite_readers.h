/* store/sqlite/sqlite_readers: one read connection per thread, opened on first use.
 *
 * A sqlite_readers set owns every reader connection of one store. A thread's reader (its
 * connection, its prepared statements and a reusable text buffer) is found through a
 * pthread key; it is closed when the thread exits or when the set is destroyed, whichever
 * comes first. Threads that read must not exit while the set is being destroyed (join
 * them before, or let them live on: after destruction their exit does nothing).
 * Readers open their connection read-only in effect (PRAGMA query_only). Private to
 * store/sqlite. */
#ifndef MESSENGER_STORE_SQLITE_READERS_H
#define MESSENGER_STORE_SQLITE_READERS_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

typedef struct sqlite_readers sqlite_readers;

/* A growable byte buffer for the text a result points into. */
typedef struct sqlite_text_buf {
  char *data;
  size_t len, cap;
} sqlite_text_buf;

typedef struct sqlite_reader {
  sqlite3 *db;
  sqlite3_stmt **st; /* the set's statements, in the order given to sqlite_readers_create */
  sqlite_text_buf text;
  bool busy; /* a call on this thread is using `text` (a callback may read again) */
} sqlite_reader;

/* Creates an empty set for `path`; sql[0..n) are prepared on every reader connection and
 * must outlive the set. Returns 0, or -1 with a message in err. */
int sqlite_readers_create(const char *path, const char *const *sql, size_t n, sqlite_readers **out, char *err,
                          size_t err_size);

/* Closes every reader connection and frees the set. */
void sqlite_readers_destroy(sqlite_readers *r);

/* The calling thread's reader, opened on first use; NULL (and a logged reason) if it cannot
 * be opened, in which case the next call tries again. */
sqlite_reader *sqlite_readers_get(sqlite_readers *r);

/* Appends bytes to a text buffer and sets *offset to where they start. Returns false when
 * out of memory. */
bool sqlite_text_append(sqlite_text_buf *buf, const void *bytes, size_t len, size_t *offset);

/* The buffer a call should use: the reader's own (emptied) unless a call further up this
 * thread's stack is using it, in which case `spare` (zeroed by the caller). Pair with
 * sqlite_reader_release_text. */
sqlite_text_buf *sqlite_reader_take_text(sqlite_reader *rd, sqlite_text_buf *spare);
void sqlite_reader_release_text(sqlite_reader *rd, sqlite_text_buf *used);

#endif
