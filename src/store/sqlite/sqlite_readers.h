/* store/sqlite/sqlite_readers: one read connection per thread, opened on first use.
 *
 * A sqlite_readers set owns every reader connection of one store. A thread's reader (its
 * connection, its prepared statements and a reusable text buffer) is found through a
 * pthread key; it is closed when the thread exits or when the set is destroyed, whichever
 * comes first. Threads that read must not exit while the set is being destroyed (join
 * them before, or let them live on: after destruction their exit does nothing).
 * Readers open their connection read-only in effect (PRAGMA query_only).
 *
 * Read snapshots: every read call runs in a read transaction (sqlite_reader_begin/_end). On a
 * thread that has called sqlite_readers_end_snapshot at least once (an event loop that calls
 * it before it waits for I/O), consecutive calls share one transaction until the next
 * sqlite_readers_end_snapshot or until a write commits: the writer counts its commits in a
 * counter the set reads, so a call never sees less than every write committed before it
 * began. Starting and ending a read transaction costs file-lock system calls and a lock
 * shared with the other readers; a loop iteration serving many requests pays it once.
 * Private to store/sqlite. */
#ifndef MESSENGER_STORE_SQLITE_READERS_H
#define MESSENGER_STORE_SQLITE_READERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
  /* the read transaction (see the top of this file) */
  sqlite3_stmt *begin, *commit, *rollback;
  bool shares;             /* this thread ends snapshots itself: calls may share one */
  bool in_snapshot;        /* a shared read transaction is open */
  uint64_t snapshot_since; /* the writer's commit count when it began */
} sqlite_reader;

/* Creates an empty set for `path`; sql[0..n) are prepared on every reader connection and
 * must outlive the set. `commits` is the writer's count of commits (it must outlive the set).
 * Returns 0, or -1 with a message in err. */
int sqlite_readers_create(const char *path, const char *const *sql, size_t n, const _Atomic uint64_t *commits,
                          sqlite_readers **out, char *err, size_t err_size);

/* Closes every reader connection and frees the set. */
void sqlite_readers_destroy(sqlite_readers *r);

/* The calling thread's reader, opened on first use; NULL (and a logged reason) if it cannot
 * be opened, in which case the next call tries again. */
sqlite_reader *sqlite_readers_get(sqlite_readers *r);

/* Starts a call's read transaction, or goes on in the thread's shared one when no write has
 * committed since it began. Returns SQLITE_DONE or an error (then no transaction is open). */
int sqlite_reader_begin(sqlite_readers *r, sqlite_reader *rd);

/* Ends a call's use of its read transaction: `rc` is the call's outcome (SQLITE_OK or an
 * error). The transaction is committed, or kept open when the thread shares snapshots; after an
 * error it is rolled back (and the error logged). Returns SQLITE_OK or the error. */
int sqlite_reader_end(sqlite_reader *rd, int rc);

/* Ends the calling thread's shared read transaction, if one is open, and from now on lets the
 * thread's calls share one until the next call of this function. Opens no reader. */
void sqlite_readers_end_snapshot(sqlite_readers *r);

/* Appends bytes to a text buffer and sets *offset to where they start. Returns false when
 * out of memory. */
bool sqlite_text_append(sqlite_text_buf *buf, const void *bytes, size_t len, size_t *offset);

/* The buffer a call should use: the reader's own (emptied) unless a call further up this
 * thread's stack is using it, in which case `spare` (zeroed by the caller). Pair with
 * sqlite_reader_release_text. */
sqlite_text_buf *sqlite_reader_take_text(sqlite_reader *rd, sqlite_text_buf *spare);
void sqlite_reader_release_text(sqlite_reader *rd, sqlite_text_buf *used);

#endif
