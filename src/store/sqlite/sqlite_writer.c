#include "store/sqlite/sqlite_writer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/timestamp.h"
#include "core/validate.h"
#include "metrics/global.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_wal_vfs.h"
#include "store/sqlite/sqlite_schema.h"

#define DEFAULT_MAX_BATCH 256
#define DEFAULT_MAX_QUEUE 65536
#define STALL_LIMIT_US    (INT64_C(10) * 1000 * 1000)
/* The writer's own settings, measured with make bench on a 100 MB database (durable sends/s):
 * - a 16 MiB page cache keeps the B-tree pages sends touch in memory between batches instead
 *   of reading them again (+20%);
 * - checkpoints: SQLite's automatic one runs inside the committing thread every 1,000 WAL
 *   pages, stalling that batch. The writer instead checkpoints when no send is waiting, from
 *   IDLE_CHECKPOINT_PAGES on (short, in idle time), and inside a commit only once the WAL
 *   reaches SATURATED_CHECKPOINT_PAGES (64 MiB), which happens only under sustained
 *   saturation (+50% at saturation: 4.4k/s -> 6.8k/s). A separate checkpoint thread was tried
 *   and was slower on two cores: its copying competes with the requests.
 * - the per-send savepoints keep the pages they change in a sub-journal: in memory
 *   (temp_store=MEMORY). On disk, as it is once a batch's sub-journal passes 64 KiB, it cost
 *   two pwrite(2) calls per page changed, as many as the WAL itself.
 * - cache_spill=OFF: a transaction writes WAL frames only when it commits (a batch's pages,
 *   bounded by max_batch, stay in memory until then), which the WAL write shim relies on
 *   (sqlite_wal_vfs.h). */
#define WRITER_PRAGMAS             "PRAGMA cache_size=-16384; PRAGMA temp_store=MEMORY; PRAGMA cache_spill=OFF"
#define IDLE_CHECKPOINT_PAGES      1000
#define SATURATED_CHECKPOINT_PAGES 16000

enum {
  W_BEGIN,
  W_COMMIT,
  W_ROLLBACK,
  W_SAVEPOINT,
  W_RELEASE,
  W_ROLLBACK_TO,
  W_IDEM_GET,
  W_CONV_GET,
  W_CONV_INSERT,
  W_STATS_BUMP,
  W_MSG_INSERT,
  W_CONV_UPDATE,
  W_UC_UPSERT,
  W_IDEM_INSERT,
  W_MARK_PARTICIPANTS,
  W_MARK_MESSAGE,
  W_MARK_GET,
  W_MARK_SET,
  W_COUNT
};

static const char *const WRITER_SQL[W_COUNT] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_SAVEPOINT] = "SAVEPOINT send",
    [W_RELEASE] = "RELEASE send",
    [W_ROLLBACK_TO] = "ROLLBACK TO send",
    [W_IDEM_GET] =
        "SELECT m.id, m.conversation_id, m.sender_id, m.receiver_id, m.content"
        " FROM idempotency i JOIN messages m ON m.conversation_id = i.conversation_id AND m.id = i.message_id"
        " WHERE i.sender_id = ?1 AND i.key = ?2",
    [W_CONV_GET] =
        "SELECT id, message_count, last_message_id FROM conversations WHERE user1_id = ?1 AND user2_id = ?2",
    [W_CONV_INSERT] = "INSERT INTO conversations (user1_id, user2_id, message_count, last_message_id,"
                      " last_message_content) VALUES (?1, ?2, 0, 0, '')",
    [W_STATS_BUMP] = "INSERT INTO user_stats (user_id, conversation_count) VALUES (?1, 1)"
                     " ON CONFLICT (user_id) DO UPDATE SET conversation_count = conversation_count + 1",
    [W_MSG_INSERT] = "INSERT INTO messages (conversation_id, seq, id, sender_id, receiver_id, content)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [W_CONV_UPDATE] =
        "UPDATE conversations SET message_count = ?2, last_message_id = ?3, last_message_content = ?4"
        " WHERE id = ?1",
    [W_UC_UPSERT] =
        "INSERT INTO user_conversations (user_id, conversation_id, last_message_id, unread_count)"
        " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user_id, conversation_id) DO UPDATE SET"
        " last_message_id = excluded.last_message_id, unread_count = unread_count + excluded.unread_count",
    [W_IDEM_INSERT] =
        "INSERT INTO idempotency (sender_id, key, conversation_id, message_id) VALUES (?1, ?2, ?3, ?4)",
    [W_MARK_PARTICIPANTS] = "SELECT user1_id, user2_id FROM conversations WHERE id = ?1",
    [W_MARK_MESSAGE] = "SELECT 1 FROM messages WHERE conversation_id = ?1 AND id = ?2",
    [W_MARK_GET] =
        "SELECT last_read_message_id FROM user_conversations WHERE user_id = ?1 AND conversation_id = ?2",
    /* The recount reads the messages above the new mark (usually none or a few: marks follow
     * the newest message) through the (conversation_id, id) index. */
    [W_MARK_SET] = "UPDATE user_conversations SET last_read_message_id = ?3, unread_count = (SELECT count(*)"
                   " FROM messages WHERE conversation_id = ?2 AND id > ?3 AND receiver_id = ?1)"
                   " WHERE user_id = ?1 AND conversation_id = ?2",
};

/* One queued write: a send or a read mark. The request is a copy of the caller's struct; its
 * strings stay the caller's. */
typedef enum job_kind { JOB_SEND, JOB_MARK_READ } job_kind;

typedef struct write_job {
  struct write_job *next;
  job_kind kind;
  send_request req;
  store_send_cb cb;
  read_mark_request mark_req;
  store_read_mark_cb mark_cb;
  void *arg;
  store_status status;
  const char *detail;
  send_result result;
  read_mark mark;
  char *replay_content; /* owned copy of a replayed message's content */
} write_job;

struct sqlite_writer {
  sqlite3 *db;
  sqlite3_stmt *st[W_COUNT];
  id_generator ids;
  int wal_pages;            /* the WAL's size after the last commit (writer thread only) */
  _Atomic uint64_t commits; /* see sqlite_writer_commits */
  unsigned max_batch;
  unsigned max_queue;

  pthread_t thread;
  pthread_mutex_t mu; /* guards the queue and `stopping` */
  pthread_cond_t cv;
  write_job *head, *tail;
  unsigned queued;
  bool stopping;
  _Atomic int64_t batch_started_us; /* 0 when idle */
};

static void fail_job(write_job *job, int rc) {
  job->status = STORE_UNAVAILABLE;
  job->detail = sqlite_db_error_detail(rc);
}

/* Looks up (sender, key). Returns SQLITE_ROW with the original message in job->result,
 * SQLITE_DONE when the key is new, or an error. */
static int find_replay(sqlite_writer *w, write_job *job) {
  sqlite3_stmt *st = w->st[W_IDEM_GET];
  sqlite3_bind_int64(st, 1, job->req.sender_id);
  sqlite3_bind_text(st, 2, job->req.idempotency_key, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    message *m = &job->result.message;
    m->id = sqlite3_column_int64(st, 0);
    m->conversation_id = sqlite3_column_int64(st, 1);
    m->sender_id = sqlite3_column_int64(st, 2);
    m->receiver_id = sqlite3_column_int64(st, 3);
    m->created_at_us = id_created_at_us(m->id);
    const void *text = sqlite3_column_blob(st, 4);
    m->content_len = (size_t)sqlite3_column_bytes(st, 4);
    job->replay_content = malloc(m->content_len + 1);
    if (!job->replay_content) {
      rc = SQLITE_NOMEM;
    } else {
      if (m->content_len) memcpy(job->replay_content, text, m->content_len);
      job->replay_content[m->content_len] = '\0';
      m->content = job->replay_content;
      job->result.replayed = true;
    }
  }
  sqlite_db_reset(st);
  return rc;
}

/* Finds the pair's conversation or creates it (and counts it for both users). */
static int upsert_conversation(sqlite_writer *w, int64_t low, int64_t high, int64_t *id, int64_t *count,
                               int64_t *last_id) {
  sqlite3_stmt *st = w->st[W_CONV_GET];
  sqlite3_bind_int64(st, 1, low);
  sqlite3_bind_int64(st, 2, high);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *id = sqlite3_column_int64(st, 0);
    *count = sqlite3_column_int64(st, 1);
    *last_id = sqlite3_column_int64(st, 2);
  }
  sqlite_db_reset(st);
  if (rc == SQLITE_ROW) return SQLITE_OK;
  if (rc != SQLITE_DONE) return rc;

  st = w->st[W_CONV_INSERT];
  sqlite3_bind_int64(st, 1, low);
  sqlite3_bind_int64(st, 2, high);
  if ((rc = sqlite_db_exec(st)) != SQLITE_DONE) return rc;
  *id = sqlite3_last_insert_rowid(w->db);
  *count = 0;
  *last_id = 0;
  int64_t users[2] = {low, high};
  for (int i = 0; i < 2; i++) {
    sqlite3_bind_int64(w->st[W_STATS_BUMP], 1, users[i]);
    if ((rc = sqlite_db_exec(w->st[W_STATS_BUMP])) != SQLITE_DONE) return rc;
  }
  return SQLITE_OK;
}

/* Writes one send inside the open savepoint. Returns SQLITE_OK or the failing code. */
static int write_send(sqlite_writer *w, write_job *job) {
  const send_request *req = &job->req;
  int rc;
  if (req->idempotency_key) {
    rc = find_replay(w, job);
    if (rc == SQLITE_ROW) return SQLITE_OK;
    if (rc != SQLITE_DONE) return rc;
  }
  int64_t low = 0, high = 0, conv_id = 0, count = 0, last_id = 0;
  conversation_pair(req->sender_id, req->receiver_id, &low, &high); /* distinct: checked on submit */
  if ((rc = upsert_conversation(w, low, high, &conv_id, &count, &last_id)) != SQLITE_OK) return rc;

  int64_t now_ms = req->sent_at_ms ? req->sent_at_ms : timestamp_now_us() / 1000;
  int64_t id = id_generator_next_after(&w->ids, now_ms, last_id);
  sqlite3_stmt *st = w->st[W_MSG_INSERT];
  sqlite3_bind_int64(st, 1, conv_id);
  sqlite3_bind_int64(st, 2, count + 1);
  sqlite3_bind_int64(st, 3, id);
  sqlite3_bind_int64(st, 4, req->sender_id);
  sqlite3_bind_int64(st, 5, req->receiver_id);
  sqlite3_bind_text64(st, 6, req->content, req->content_len, SQLITE_STATIC, SQLITE_UTF8);
  if ((rc = sqlite_db_exec(st)) != SQLITE_DONE) return rc;

  st = w->st[W_CONV_UPDATE];
  sqlite3_bind_int64(st, 1, conv_id);
  sqlite3_bind_int64(st, 2, count + 1);
  sqlite3_bind_int64(st, 3, id);
  sqlite3_bind_text64(st, 4, req->content, req->content_len, SQLITE_STATIC, SQLITE_UTF8);
  if ((rc = sqlite_db_exec(st)) != SQLITE_DONE) return rc;

  /* A new message's id is above every stored one, so above any read mark: unread for the receiver. */
  int64_t users[2] = {low, high};
  for (int i = 0; i < 2; i++) {
    st = w->st[W_UC_UPSERT];
    sqlite3_bind_int64(st, 1, users[i]);
    sqlite3_bind_int64(st, 2, conv_id);
    sqlite3_bind_int64(st, 3, id);
    sqlite3_bind_int64(st, 4, users[i] == req->receiver_id ? 1 : 0);
    if ((rc = sqlite_db_exec(st)) != SQLITE_DONE) return rc;
  }
  if (req->idempotency_key) {
    st = w->st[W_IDEM_INSERT];
    sqlite3_bind_int64(st, 1, req->sender_id);
    sqlite3_bind_text(st, 2, req->idempotency_key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, conv_id);
    sqlite3_bind_int64(st, 4, id);
    if ((rc = sqlite_db_exec(st)) != SQLITE_DONE) return rc;
  }
  job->result = (send_result){
      .message = {.id = id,
                  .conversation_id = conv_id,
                  .sender_id = req->sender_id,
                  .receiver_id = req->receiver_id,
                  .created_at_us = id_created_at_us(id),
                  .content = req->content,
                  .content_len = req->content_len},
      .replayed = false,
  };
  return SQLITE_OK;
}

/* Steps a one-row query; *found tells whether it had a row, column 0 (and 1) go to out[]. */
static int query_row(sqlite3_stmt *st, bool *found, int64_t *out, int columns) {
  int rc = sqlite3_step(st);
  *found = rc == SQLITE_ROW;
  for (int i = 0; *found && i < columns; i++) out[i] = sqlite3_column_int64(st, i);
  sqlite_db_reset(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* A read mark refused for what it names; the transaction goes on. */
static int refuse(write_job *job, store_status status, const char *detail) {
  job->status = status;
  job->detail = detail;
  return SQLITE_OK;
}

/* Validates and moves one read mark inside the open savepoint. A refused mark (not found,
 * invalid) is not an error of the transaction: it returns SQLITE_OK with the job's status set. */
static int write_mark(sqlite_writer *w, write_job *job) {
  const read_mark_request *req = &job->mark_req;
  bool found = false;
  int64_t row[2] = {0, 0};
  sqlite3_stmt *st = w->st[W_MARK_PARTICIPANTS];
  sqlite3_bind_int64(st, 1, req->conversation_id);
  int rc = query_row(st, &found, row, 2);
  if (rc != SQLITE_OK) return rc;
  if (!found || (row[0] != req->user_id && row[1] != req->user_id))
    return refuse(job, STORE_NOT_FOUND, "Conversation not found");
  int64_t other = row[0] == req->user_id ? row[1] : row[0];
  st = w->st[W_MARK_MESSAGE];
  sqlite3_bind_int64(st, 1, req->conversation_id);
  sqlite3_bind_int64(st, 2, req->message_id);
  if ((rc = query_row(st, &found, row, 0)) != SQLITE_OK) return rc;
  if (!found) return refuse(job, STORE_INVALID, "Message is not in this conversation");
  st = w->st[W_MARK_GET];
  sqlite3_bind_int64(st, 1, req->user_id);
  sqlite3_bind_int64(st, 2, req->conversation_id);
  if ((rc = query_row(st, &found, row, 1)) != SQLITE_OK) return rc;
  int64_t current = found ? row[0] : 0;
  job->mark = (read_mark){.conversation_id = req->conversation_id,
                          .user_id = req->user_id,
                          .other_user_id = other,
                          .last_read_message_id = current > req->message_id ? current : req->message_id,
                          .advanced = req->message_id > current};
  if (!job->mark.advanced) return SQLITE_OK;
  st = w->st[W_MARK_SET];
  sqlite3_bind_int64(st, 1, req->user_id);
  sqlite3_bind_int64(st, 2, req->conversation_id);
  sqlite3_bind_int64(st, 3, req->message_id);
  rc = sqlite_db_exec(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Runs one send in its own savepoint; a failing send is rolled back alone and marked failed.
 * Returns SQLITE_OK while the enclosing transaction is intact, else the code that broke it. */
static int run_job(sqlite_writer *w, write_job *job) {
  int rc = sqlite_db_exec(w->st[W_SAVEPOINT]);
  if (rc != SQLITE_DONE) return rc;
  rc = job->kind == JOB_SEND ? write_send(w, job) : write_mark(w, job);
  if (rc == SQLITE_OK) {
    rc = sqlite_db_exec(w->st[W_RELEASE]);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  sqlite_db_log_error(w->db, job->kind == JOB_SEND ? "send" : "read mark", rc);
  fail_job(job, rc);
  if (sqlite3_get_autocommit(w->db)) return rc; /* SQLite rolled the whole transaction back */
  int undo = sqlite_db_exec(w->st[W_ROLLBACK_TO]);
  if (undo == SQLITE_DONE) undo = sqlite_db_exec(w->st[W_RELEASE]);
  return undo == SQLITE_DONE ? SQLITE_OK : undo;
}

/* Writes and commits a batch; when the transaction is lost every job fails and nothing is visible. */
static void run_batch(sqlite_writer *w, write_job *jobs) {
  int rc = sqlite_db_exec(w->st[W_BEGIN]);
  if (rc == SQLITE_DONE) {
    rc = SQLITE_OK;
    for (write_job *job = jobs; job && rc == SQLITE_OK; job = job->next) rc = run_job(w, job);
    if (rc == SQLITE_OK) rc = sqlite_db_exec(w->st[W_COMMIT]);
    if (rc == SQLITE_DONE) return;
  }
  sqlite_db_log_error(w->db, "write transaction", rc);
  if (!sqlite3_get_autocommit(w->db)) sqlite_db_exec(w->st[W_ROLLBACK]);
  for (write_job *job = jobs; job; job = job->next) fail_job(job, rc);
}

/* Calls the job's callback with its outcome. */
static void answer_job(const write_job *job) {
  bool ok = job->status == STORE_OK;
  if (job->kind == JOB_MARK_READ)
    job->mark_cb(job->arg, job->status, ok ? NULL : job->detail, ok ? &job->mark : NULL);
  else
    job->cb(job->arg, job->status, ok ? NULL : job->detail, ok ? &job->result : NULL);
}

/* Calls every job's callback and frees the jobs. */
static void complete_batch(write_job *jobs) {
  while (jobs) {
    write_job *next = jobs->next;
    answer_job(jobs);
    free(jobs->replay_content);
    free(jobs);
    jobs = next;
  }
}

/* Takes up to max_batch jobs (*count) off the queue, waiting for one; NULL when stopping and drained. */
static write_job *take_batch(sqlite_writer *w, unsigned *count) {
  pthread_mutex_lock(&w->mu);
  while (!w->head && !w->stopping) pthread_cond_wait(&w->cv, &w->mu);
  write_job *first = w->head;
  if (first) {
    write_job *last = first;
    unsigned n = 1;
    while (n < w->max_batch && last->next) {
      last = last->next;
      n++;
    }
    w->head = last->next;
    if (!w->head) w->tail = NULL;
    last->next = NULL;
    w->queued -= n;
    *count = n;
    metrics_sqlite_queue_depth(w->queued);
  }
  pthread_mutex_unlock(&w->mu);
  return first;
}

/* SQLite's WAL hook, after every commit (it replaces the automatic checkpoint). */
static int on_wal_commit(void *writer, sqlite3 *db, const char *name, int wal_pages) {
  (void)name;
  sqlite_writer *w = writer;
  atomic_fetch_add_explicit(&w->commits, 1, memory_order_release); /* the commit is visible now */
  w->wal_pages = wal_pages;
  if (wal_pages >= SATURATED_CHECKPOINT_PAGES) {
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc == SQLITE_OK) w->wal_pages = 0;
  }
  return SQLITE_OK;
}

/* When no send is waiting, copies the WAL back into the database while it is still small,
 * so that the automatic checkpoint (a long stall of the sends of one batch) only runs under
 * sustained saturation. Nothing else writes meanwhile, so the checkpoint completes and the
 * next transaction starts the WAL from its beginning. */
static void checkpoint_if_idle(sqlite_writer *w) {
  if (w->wal_pages < IDLE_CHECKPOINT_PAGES) return;
  pthread_mutex_lock(&w->mu);
  bool idle = w->head == NULL;
  pthread_mutex_unlock(&w->mu);
  if (!idle) return;
  int rc = sqlite3_wal_checkpoint_v2(w->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  if (rc == SQLITE_OK)
    w->wal_pages = 0;
  else if (rc != SQLITE_BUSY)
    sqlite_db_log_error(w->db, "checkpoint", rc);
}

static void *writer_main(void *p) {
  sqlite_writer *w = p;
  write_job *jobs;
  unsigned count = 0;
  while ((jobs = take_batch(w, &count))) {
    atomic_store(&w->batch_started_us, timestamp_now_us());
    uint64_t started_us = metrics_now_us();
    run_batch(w, jobs);
    metrics_sqlite_batch(count, metrics_now_us() - started_us);
    atomic_store(&w->batch_started_us, 0);
    complete_batch(jobs);
    checkpoint_if_idle(w);
  }
  return NULL;
}

/* Queues a job, or fails it at once (callback on the calling thread) when the writer is
 * stopping or the queue is full; the job is freed then. */
static void enqueue(sqlite_writer *w, write_job *job) {
  const char *refused = NULL;
  pthread_mutex_lock(&w->mu);
  if (w->stopping) {
    refused = "Store is closing";
  } else if (w->queued >= w->max_queue) {
    refused = "Too many pending writes";
  } else {
    if (w->tail)
      w->tail->next = job;
    else
      w->head = job;
    w->tail = job;
    w->queued++;
    metrics_sqlite_queue_depth(w->queued);
    pthread_cond_signal(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  if (!refused) return;
  job->status = STORE_UNAVAILABLE;
  job->detail = refused;
  complete_batch(job);
}

/* Queues a copy of `init`, or answers it at once (on the calling thread) when the request is
 * invalid (`invalid` says why) or memory is short. */
static void submit(sqlite_writer *w, write_job init, const char *invalid) {
  write_job *job = invalid ? NULL : malloc(sizeof *job);
  if (!job) {
    init.status = STORE_UNAVAILABLE;
    init.detail = invalid ? invalid : "Out of memory";
    answer_job(&init);
    return;
  }
  *job = init;
  enqueue(w, job);
}

void sqlite_writer_submit(sqlite_writer *w, const send_request *req, store_send_cb cb, void *arg) {
  submit(w, (write_job){.kind = JOB_SEND, .req = *req, .cb = cb, .arg = arg, .status = STORE_OK},
         send_request_is_valid(req) ? NULL : "Invalid message");
}

void sqlite_writer_submit_mark(sqlite_writer *w, const read_mark_request *req, store_read_mark_cb cb,
                               void *arg) {
  submit(w,
         (write_job){.kind = JOB_MARK_READ, .mark_req = *req, .mark_cb = cb, .arg = arg, .status = STORE_OK},
         read_mark_request_is_valid(req) ? NULL : "Invalid read mark");
}

bool sqlite_writer_healthy(sqlite_writer *w, const char **detail) {
  pthread_mutex_lock(&w->mu);
  bool stopping = w->stopping;
  pthread_mutex_unlock(&w->mu);
  int64_t started = atomic_load(&w->batch_started_us);
  if (stopping) {
    *detail = "Store is closing";
    return false;
  }
  if (started && timestamp_now_us() - started > STALL_LIMIT_US) {
    *detail = "Storage is not responding";
    return false;
  }
  return true;
}

/* Opens the connection, the schema and the statements; seeds the id generator. */
static int open_connection(sqlite_writer *w, const char *path, char *err, size_t err_size) {
  /* synchronous=FULL (sqlite_db_open): the WAL shim's condition */
  if (sqlite_wal_vfs_register() != SQLITE_OK) {
    snprintf(err, err_size, "cannot register the WAL write shim");
    return -1;
  }
  if (sqlite_db_open(path, true, WAL_VFS_NAME, &w->db, err, err_size) != 0) return -1;
  if (sqlite_schema_ensure(w->db, err, err_size) != 0 ||
      sqlite_db_prepare_all(w->db, WRITER_SQL, W_COUNT, w->st, err, err_size) != 0)
    return -1;
  /* Every conversation's last_message_id is its largest id: start above all of them, so ids
   * stay unique and growing after a restart even if the clock went back. */
  sqlite3_stmt *st = NULL;
  int rc =
      sqlite3_prepare_v2(w->db, "SELECT COALESCE(MAX(last_message_id), 0) FROM conversations", -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  int64_t max_id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW) {
    snprintf(err, err_size, "cannot read the largest message id: %s", sqlite3_errmsg(w->db));
    return -1;
  }
  id_generator_init(&w->ids, 0);
  if (max_id > 0) id_generator_next_after(&w->ids, 0, max_id);
  if (sqlite3_exec(w->db, WRITER_PRAGMAS, NULL, NULL, NULL) != SQLITE_OK) {
    snprintf(err, err_size, "cannot configure the writer: %s", sqlite3_errmsg(w->db));
    return -1;
  }
  sqlite3_wal_hook(w->db, on_wal_commit, w);
  return 0;
}

static void close_connection(sqlite_writer *w) {
  if (w->db && sqlite3_wal_checkpoint_v2(w->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL) != SQLITE_OK)
    sqlite_db_log_error(w->db, "checkpoint", sqlite3_errcode(w->db));
  sqlite_db_finalize_all(w->st, W_COUNT);
  sqlite_db_close(w->db);
  w->db = NULL;
}

int sqlite_writer_start(const char *path, unsigned max_batch, unsigned max_queue, sqlite_writer **out,
                        char *err, size_t err_size) {
  sqlite_writer *w = calloc(1, sizeof *w);
  if (!w) {
    snprintf(err, err_size, "out of memory");
    return -1;
  }
  w->max_batch = max_batch ? max_batch : DEFAULT_MAX_BATCH;
  w->max_queue = max_queue ? max_queue : DEFAULT_MAX_QUEUE;
  atomic_init(&w->batch_started_us, 0);
  if (open_connection(w, path, err, err_size) != 0) {
    close_connection(w);
    free(w);
    return -1;
  }
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  int rc = pthread_create(&w->thread, NULL, writer_main, w);
  if (rc != 0) {
    snprintf(err, err_size, "cannot start the writer thread: %s", strerror(rc));
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    close_connection(w);
    free(w);
    return -1;
  }
  *out = w;
  return 0;
}

const _Atomic uint64_t *sqlite_writer_commits(const sqlite_writer *w) { return &w->commits; }

void sqlite_writer_stop(sqlite_writer *w) {
  pthread_mutex_lock(&w->mu);
  w->stopping = true;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  close_connection(w);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w);
}
