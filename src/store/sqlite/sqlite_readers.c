#include "store/sqlite/sqlite_readers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite/sqlite_db.h"
#include "log/log.h"

#define TEXT_BUF_MIN  4096
#define TEXT_BUF_KEEP (256 * 1024) /* larger buffers are freed after use, to keep idle memory low */
/* Readers do not map the database (mmap_size): SQLite drops a connection's whole mapping
 * whenever another connection committed since its last read, and a 90/10 read/write mix ran 3x
 * slower on page faults and page-table work than with pread(2). */
#define READER_PRAGMAS "PRAGMA query_only=1;"

/* A reader as linked into its set; the public part comes first. */
typedef struct reader_node {
  sqlite_reader pub;
  sqlite_readers *owner;
  struct reader_node *prev, *next;
} reader_node;

static const char *const TRANSACTION_SQL[] = {"BEGIN", "COMMIT", "ROLLBACK"};
enum { TX_BEGIN, TX_COMMIT, TX_ROLLBACK, TX_COUNT };

struct sqlite_readers {
  char *path;
  const char *const *sql;
  size_t n_sql;
  const _Atomic uint64_t *commits;
  pthread_key_t key;
  pthread_mutex_t mu; /* guards the list */
  reader_node *all;
};

static void reader_free(reader_node *node, size_t n_sql) {
  sqlite3_stmt *tx[TX_COUNT] = {node->pub.begin, node->pub.commit, node->pub.rollback};
  sqlite_db_finalize_all(tx, TX_COUNT);
  sqlite_db_finalize_all(node->pub.st, n_sql);
  sqlite_db_close(node->pub.db);
  free(node->pub.st);
  free(node->pub.text.data);
  free(node);
}

static void unlink_node(sqlite_readers *r, reader_node *node) {
  if (node->prev)
    node->prev->next = node->next;
  else
    r->all = node->next;
  if (node->next) node->next->prev = node->prev;
}

/* pthread key destructor: the thread that owned this reader is exiting. */
static void reader_thread_exit(void *p) {
  reader_node *node = p;
  sqlite_readers *r = node->owner;
  pthread_mutex_lock(&r->mu);
  unlink_node(r, node);
  pthread_mutex_unlock(&r->mu);
  reader_free(node, r->n_sql);
}

int sqlite_readers_create(const char *path, const char *const *sql, size_t n, const _Atomic uint64_t *commits,
                          sqlite_readers **out, char *err, size_t err_size) {
  sqlite_readers *r = calloc(1, sizeof *r);
  char *copy = strdup(path);
  int rc = r && copy ? pthread_key_create(&r->key, reader_thread_exit) : -1;
  if (rc != 0) {
    snprintf(err, err_size, "cannot create the reader set: %s", rc > 0 ? strerror(rc) : "out of memory");
    free(copy);
    free(r);
    return -1;
  }
  r->path = copy;
  r->sql = sql;
  r->n_sql = n;
  r->commits = commits;
  pthread_mutex_init(&r->mu, NULL);
  *out = r;
  return 0;
}

void sqlite_readers_destroy(sqlite_readers *r) {
  pthread_key_delete(r->key); /* from now on no thread exit touches the set */
  pthread_mutex_lock(&r->mu);
  reader_node *node = r->all;
  r->all = NULL;
  pthread_mutex_unlock(&r->mu);
  while (node) {
    reader_node *next = node->next;
    reader_free(node, r->n_sql);
    node = next;
  }
  pthread_mutex_destroy(&r->mu);
  free(r->path);
  free(r);
}

static reader_node *reader_open(sqlite_readers *r) {
  char err[256] = "";
  reader_node *node = calloc(1, sizeof *node);
  sqlite3_stmt **st = calloc(r->n_sql, sizeof *st);
  if (!node || !st) {
    log_msg(LOG_ERROR, "sqlite", "cannot open a reader: out of memory");
    free(st);
    free(node);
    return NULL;
  }
  node->owner = r;
  node->pub.st = st;
  sqlite3_stmt *tx[TX_COUNT] = {0};
  if (sqlite_db_open(r->path, false, NULL, &node->pub.db, err, sizeof err) != 0 ||
      sqlite3_exec(node->pub.db, READER_PRAGMAS, NULL, NULL, NULL) != SQLITE_OK ||
      sqlite_db_prepare_all(node->pub.db, TRANSACTION_SQL, TX_COUNT, tx, err, sizeof err) != 0 ||
      sqlite_db_prepare_all(node->pub.db, r->sql, r->n_sql, st, err, sizeof err) != 0) {
    if (node->pub.db && !err[0]) snprintf(err, sizeof err, "%s", sqlite3_errmsg(node->pub.db));
    log_msg(LOG_ERROR, "sqlite", "cannot open a reader: %s", err);
    sqlite_db_finalize_all(tx, TX_COUNT);
    sqlite_db_close(node->pub.db);
    free(st);
    free(node);
    return NULL;
  }
  node->pub.begin = tx[TX_BEGIN];
  node->pub.commit = tx[TX_COMMIT];
  node->pub.rollback = tx[TX_ROLLBACK];
  return node;
}

sqlite_reader *sqlite_readers_get(sqlite_readers *r) {
  reader_node *node = pthread_getspecific(r->key);
  if (node) return &node->pub;
  if (!(node = reader_open(r))) return NULL;
  int rc = pthread_setspecific(r->key, node);
  if (rc != 0) {
    log_msg(LOG_ERROR, "sqlite", "cannot register a reader: %s", strerror(rc));
    reader_free(node, r->n_sql);
    return NULL;
  }
  pthread_mutex_lock(&r->mu);
  node->next = r->all;
  if (r->all) r->all->prev = node;
  r->all = node;
  pthread_mutex_unlock(&r->mu);
  return &node->pub;
}

/* Commits the shared read transaction (it has read nothing that needs keeping). */
static void end_snapshot(sqlite_reader *rd) {
  rd->in_snapshot = false;
  int rc = sqlite_db_exec(rd->commit);
  if (rc == SQLITE_DONE) return;
  sqlite_db_log_error(rd->db, "read snapshot", rc);
  if (!sqlite3_get_autocommit(rd->db)) sqlite_db_exec(rd->rollback);
}

int sqlite_reader_begin(sqlite_readers *r, sqlite_reader *rd) {
  /* read before the transaction takes its snapshot: a commit counted later is in it or
   * makes the next call start a new one */
  uint64_t commits = atomic_load_explicit(r->commits, memory_order_acquire);
  if (rd->in_snapshot) {
    if (commits == rd->snapshot_since) return SQLITE_DONE;
    end_snapshot(rd);
  }
  int rc = sqlite_db_exec(rd->begin);
  if (rc == SQLITE_DONE) rd->snapshot_since = commits;
  return rc;
}

int sqlite_reader_end(sqlite_reader *rd, int rc) {
  if (rc == SQLITE_OK) {
    if (rd->shares) {
      rd->in_snapshot = true;
      return SQLITE_OK;
    }
    int end = sqlite_db_exec(rd->commit);
    if (end == SQLITE_DONE) return SQLITE_OK;
    rc = end;
  }
  rd->in_snapshot = false;
  sqlite_db_log_error(rd->db, "read", rc);
  if (!sqlite3_get_autocommit(rd->db)) sqlite_db_exec(rd->rollback);
  return rc;
}

void sqlite_readers_end_snapshot(sqlite_readers *r) {
  reader_node *node = pthread_getspecific(r->key);
  if (!node) return;
  node->pub.shares = true;
  if (node->pub.in_snapshot) end_snapshot(&node->pub);
}

bool sqlite_text_append(sqlite_text_buf *buf, const void *bytes, size_t len, size_t *offset) {
  if (len > buf->cap - buf->len) {
    size_t cap = buf->cap ? buf->cap : TEXT_BUF_MIN;
    while (cap - buf->len < len) cap *= 2;
    char *data = realloc(buf->data, cap);
    if (!data) return false;
    buf->data = data;
    buf->cap = cap;
  }
  if (len) memcpy(buf->data + buf->len, bytes, len);
  *offset = buf->len;
  buf->len += len;
  return true;
}

sqlite_text_buf *sqlite_reader_take_text(sqlite_reader *rd, sqlite_text_buf *spare) {
  if (rd->busy) return spare;
  rd->busy = true;
  rd->text.len = 0;
  return &rd->text;
}

void sqlite_reader_release_text(sqlite_reader *rd, sqlite_text_buf *used) {
  if (used == &rd->text) {
    rd->busy = false;
    if (used->cap <= TEXT_BUF_KEEP) return;
  }
  free(used->data);
  *used = (sqlite_text_buf){0};
}
