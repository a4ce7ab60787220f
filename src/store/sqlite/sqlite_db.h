/* store/sqlite/sqlite_db: connection and statement plumbing shared by the store's modules.
 *
 * Opens a connection with the store's pragmas (WAL, synchronous=FULL, busy timeout),
 * prepares and finalizes fixed sets of statements, steps statements to completion, and maps
 * SQLite result codes to client-safe details. A connection is owned by whoever opened it
 * and used by one thread at a time (opened with SQLITE_OPEN_NOMUTEX). Nothing here keeps
 * state of its own. Private to store/sqlite. */
#ifndef MESSENGER_STORE_SQLITE_DB_H
#define MESSENGER_STORE_SQLITE_DB_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

/* Opens `path` (creating the file when `create`) through the VFS named `vfs` (NULL: the
 * default), applies the pragmas. Returns 0 and sets *out, or -1 with a message in err (and
 * *out NULL). */
int sqlite_db_open(const char *path, bool create, const char *vfs, sqlite3 **out, char *err, size_t err_size);

/* Closes a connection whose statements are all finalized; NULL is a no-op. */
void sqlite_db_close(sqlite3 *db);

/* Prepares sql[0..n) into stmts[0..n) (persistent). On failure finalizes what it prepared,
 * writes a message into err and returns -1. */
int sqlite_db_prepare_all(sqlite3 *db, const char *const *sql, size_t n, sqlite3_stmt **stmts, char *err,
                          size_t err_size);

/* Finalizes stmts[0..n) and sets them to NULL. */
void sqlite_db_finalize_all(sqlite3_stmt **stmts, size_t n);

/* Steps a statement that returns no rows to completion and resets it (bindings cleared).
 * Returns SQLITE_DONE or the error code. */
int sqlite_db_exec(sqlite3_stmt *st);

/* Resets a statement and clears its bindings so that it holds no locks or strings. */
void sqlite_db_reset(sqlite3_stmt *st);

/* A detail safe to show clients for a failing result code ("Storage is full", ...). */
const char *sqlite_db_error_detail(int rc);

/* Logs an unexpected failure (`what` and SQLite's message) on stderr for operators. */
void sqlite_db_log_error(sqlite3 *db, const char *what, int rc);

#endif
