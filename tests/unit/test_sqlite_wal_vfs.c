/* store/sqlite/sqlite_wal_vfs: a database written through the shim (small and large writes,
 * rows updated again within a transaction, checkpoints, WAL restarts and truncation) reads
 * back whole, commit by commit, from a connection of the default VFS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/sqlite/sqlite_wal_vfs.h"

typedef struct fixture {
  char dir[64];
  char path[96];
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  snprintf(f->dir, sizeof f->dir, "/tmp/messenger-walvfs-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  static const char *const suffixes[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
    char p[128];
    snprintf(p, sizeof p, "%s%s", f->path, suffixes[i]);
    unlink(p);
  }
  rmdir(f->dir);
  free(f);
  return 0;
}

static sqlite3 *open_db(const char *path, const char *vfs) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", NULL, NULL, NULL),
                   SQLITE_OK);
  return db;
}

static int64_t one_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* Rows of sizes 1 .. 200,000 bytes (a blob larger than the shim's buffer is a direct write),
 * some updated again in the same transaction (SQLite may rewrite their frames in place). */
static int64_t write_rows(sqlite3 *db, int from, int to) {
  static unsigned char blob[200000];
  sqlite3_stmt *ins = NULL, *upd = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t (id, b) VALUES (?1, ?2)", -1, &ins, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, "UPDATE t SET n = n + 1 WHERE id = ?1", -1, &upd, NULL), SQLITE_OK);
  int64_t bytes = 0;
  assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
  for (int i = from; i < to; i++) {
    int len = i % 97 == 0 ? (int)sizeof blob : 1 + (i * 7919) % 3000;
    memset(blob, (unsigned char)i, (size_t)len);
    sqlite3_bind_int(ins, 1, i);
    sqlite3_bind_blob(ins, 2, blob, len, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
    sqlite3_reset(ins);
    if (i % 5 == 0) {
      sqlite3_bind_int(upd, 1, i / 2);
      assert_int_equal(sqlite3_step(upd), SQLITE_DONE);
      sqlite3_reset(upd);
    }
    bytes += len;
    if (i % 300 == 299) {
      assert_int_equal(sqlite3_exec(db, "COMMIT; BEGIN", NULL, NULL, NULL), SQLITE_OK);
    }
  }
  assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_finalize(ins);
  sqlite3_finalize(upd);
  return bytes;
}

static void check_contents(const char *path, int rows, int64_t bytes) {
  sqlite3 *db = open_db(path, NULL);
  assert_int_equal(one_int(db, "SELECT count(*) FROM t"), rows);
  assert_int_equal(one_int(db, "SELECT sum(length(b)) FROM t"), bytes);
  assert_int_equal(one_int(db, "SELECT count(*) FROM t WHERE length(b) > 0 AND"
                               " substr(b, 1, 1) != substr(b, length(b), 1)"),
                   0);
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
  sqlite3_finalize(st);
  assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void writes_through_the_shim_read_back_whole(void **state) {
  fixture *f = *state;
  assert_int_equal(sqlite_wal_vfs_register(), SQLITE_OK);
  assert_int_equal(sqlite_wal_vfs_register(), SQLITE_OK); /* once only */
  assert_non_null(sqlite3_vfs_find(WAL_VFS_NAME));
  assert_true(sqlite3_vfs_find(NULL) != sqlite3_vfs_find(WAL_VFS_NAME)); /* not the default */
  sqlite3 *w = open_db(f->path, WAL_VFS_NAME);
  assert_int_equal(sqlite3_exec(w, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER DEFAULT 0, b BLOB)",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  int64_t bytes = write_rows(w, 0, 1500);
  check_contents(f->path, 1500, bytes); /* a reader sees every commit, WAL not checkpointed */
  assert_int_equal(sqlite3_wal_checkpoint_v2(w, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL), SQLITE_OK);
  bytes += write_rows(w, 1500, 3000); /* the WAL starts again from its beginning */
  check_contents(f->path, 3000, bytes);
  assert_int_equal(sqlite3_wal_checkpoint_v2(w, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL), SQLITE_OK);
  bytes += write_rows(w, 3000, 3600);
  check_contents(f->path, 3600, bytes);
  assert_int_equal(sqlite3_close(w), SQLITE_OK);
  check_contents(f->path, 3600, bytes);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(writes_through_the_shim_read_back_whole, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
