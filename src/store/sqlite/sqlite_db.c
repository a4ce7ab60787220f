#include "store/sqlite/sqlite_db.h"
#include "log/log.h"

#include <stdio.h>

#define BUSY_TIMEOUT_MS 5000

static const char PRAGMAS[] = "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;";

int sqlite_db_open(const char *path, bool create, const char *vfs, sqlite3 **out, char *err,
                   size_t err_size) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2(path, &db, flags, vfs);
  if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, PRAGMAS, NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    snprintf(err, err_size, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    *out = NULL;
    return -1;
  }
  sqlite3_extended_result_codes(db, 1);
  *out = db;
  return 0;
}

void sqlite_db_close(sqlite3 *db) {
  int rc = sqlite3_close(db);
  if (rc != SQLITE_OK) sqlite_db_log_error(db, "close", rc);
}

int sqlite_db_prepare_all(sqlite3 *db, const char *const *sql, size_t n, sqlite3_stmt **stmts, char *err,
                          size_t err_size) {
  for (size_t i = 0; i < n; i++) {
    int rc = sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &stmts[i], NULL);
    if (rc != SQLITE_OK) {
      snprintf(err, err_size, "cannot prepare statement %zu: %s", i, sqlite3_errmsg(db));
      sqlite_db_finalize_all(stmts, i + 1);
      return -1;
    }
  }
  return 0;
}

void sqlite_db_finalize_all(sqlite3_stmt **stmts, size_t n) {
  for (size_t i = 0; i < n; i++) {
    sqlite3_finalize(stmts[i]);
    stmts[i] = NULL;
  }
}

int sqlite_db_exec(sqlite3_stmt *st) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) continue;
  sqlite_db_reset(st);
  return rc;
}

void sqlite_db_reset(sqlite3_stmt *st) {
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

const char *sqlite_db_error_detail(int rc) {
  switch (rc & 0xff) {
  case SQLITE_FULL:
    return "Storage is full";
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return "Storage is busy";
  default:
    return "Storage error";
  }
}

void sqlite_db_log_error(sqlite3 *db, const char *what, int rc) {
  log_msg(LOG_ERROR, "sqlite", "%s failed: %s (%s)", what, sqlite3_errstr(rc),
          db ? sqlite3_errmsg(db) : "no connection");
}
