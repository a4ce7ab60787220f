#include "store/sqlite/sqlite_schema.h"

#include <stdint.h>
#include <stdio.h>

#define APPLICATION_ID 0x4d534e47 /* "MSNG" */
#define SCHEMA_VERSION 2

/* Tables, in the order the writer fills them for one send:
 * - conversations: one row per pair (user1_id < user2_id), with the counters and the newest
 *   message that list and get queries return without touching messages.
 * - messages: clustered by (conversation_id, seq), seq = 1, 2, 3 ... in id order, so a page
 *   by page number is a range of seq; the (conversation_id, id) index serves cursors and
 *   "before" bounds. created_at is not stored: it is id_created_at_us(id).
 * - user_conversations: each user's conversations by recency, for the user's list, with the
 *   user's read mark and the exact number of messages sent to the user above it (kept by the
 *   writer: +1 per message received, recounted when the mark moves).
 * - user_stats: how many conversations a user is in (the list's total without COUNT(*)).
 * - idempotency: (sender, Idempotency-Key) -> the message it created. */
static const char SCHEMA_SQL[] =
    "CREATE TABLE IF NOT EXISTS conversations ("
    " id INTEGER PRIMARY KEY,"
    " user1_id INTEGER NOT NULL,"
    " user2_id INTEGER NOT NULL,"
    " message_count INTEGER NOT NULL,"
    " last_message_id INTEGER NOT NULL,"
    " last_message_content TEXT NOT NULL,"
    " UNIQUE (user1_id, user2_id));"
    "CREATE TABLE IF NOT EXISTS messages ("
    " conversation_id INTEGER NOT NULL,"
    " seq INTEGER NOT NULL,"
    " id INTEGER NOT NULL,"
    " sender_id INTEGER NOT NULL,"
    " receiver_id INTEGER NOT NULL,"
    " content TEXT NOT NULL,"
    " PRIMARY KEY (conversation_id, seq)) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX IF NOT EXISTS messages_by_id ON messages (conversation_id, id);"
    "CREATE TABLE IF NOT EXISTS user_conversations ("
    " user_id INTEGER NOT NULL,"
    " conversation_id INTEGER NOT NULL,"
    " last_message_id INTEGER NOT NULL,"
    " last_read_message_id INTEGER NOT NULL DEFAULT 0,"
    " unread_count INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (user_id, conversation_id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS user_conversations_by_recency"
    " ON user_conversations (user_id, last_message_id DESC, conversation_id DESC);"
    "CREATE TABLE IF NOT EXISTS user_stats ("
    " user_id INTEGER PRIMARY KEY,"
    " conversation_count INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS idempotency ("
    " sender_id INTEGER NOT NULL,"
    " key TEXT NOT NULL,"
    " conversation_id INTEGER NOT NULL,"
    " message_id INTEGER NOT NULL,"
    " PRIMARY KEY (sender_id, key)) WITHOUT ROWID;";

/* Version 1 -> 2: read state. Nothing has been read yet, so every received message is unread. */
static const char MIGRATE_1_TO_2_SQL[] =
    "ALTER TABLE user_conversations ADD COLUMN last_read_message_id INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE user_conversations ADD COLUMN unread_count INTEGER NOT NULL DEFAULT 0;"
    "UPDATE user_conversations SET unread_count = (SELECT count(*) FROM messages m"
    " WHERE m.conversation_id = user_conversations.conversation_id"
    " AND m.receiver_id = user_conversations.user_id);"
    "PRAGMA user_version=2;";

/* The integer result of a one-row query such as a PRAGMA; -1 on error. */
static int64_t query_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  int64_t value = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    value = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return value;
}

/* Checks the file's marks inside the open transaction and creates the schema if the file is empty. */
static int check_or_create(sqlite3 *db, char *err, size_t err_size) {
  int64_t app_id = query_int(db, "PRAGMA application_id");
  int64_t version = query_int(db, "PRAGMA user_version");
  int64_t objects = query_int(db, "SELECT count(*) FROM sqlite_schema");
  if (app_id < 0 || version < 0 || objects < 0) {
    snprintf(err, err_size, "cannot read the database header: %s", sqlite3_errmsg(db));
    return -1;
  }
  if (app_id == 0 && objects == 0) {
    char marks[96];
    snprintf(marks, sizeof marks, "PRAGMA application_id=%d; PRAGMA user_version=%d;", APPLICATION_ID,
             SCHEMA_VERSION);
    if (sqlite3_exec(db, SCHEMA_SQL, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, marks, NULL, NULL, NULL) != SQLITE_OK) {
      snprintf(err, err_size, "cannot create the schema: %s", sqlite3_errmsg(db));
      return -1;
    }
    return 0;
  }
  if (app_id != APPLICATION_ID) {
    snprintf(err, err_size, "not a messenger database (application_id %lld)", (long long)app_id);
    return -1;
  }
  if (version == 1) {
    if (sqlite3_exec(db, MIGRATE_1_TO_2_SQL, NULL, NULL, NULL) != SQLITE_OK) {
      snprintf(err, err_size, "cannot migrate the schema to version 2: %s", sqlite3_errmsg(db));
      return -1;
    }
    return 0;
  }
  if (version != SCHEMA_VERSION) {
    snprintf(err, err_size, "database schema version %lld, this program supports %d", (long long)version,
             SCHEMA_VERSION);
    return -1;
  }
  return 0;
}

int sqlite_schema_ensure(sqlite3 *db, char *err, size_t err_size) {
  /* journal_mode is persistent in the file and cannot change inside a transaction. */
  sqlite3_stmt *st = NULL;
  int ok = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK &&
           sqlite3_step(st) == SQLITE_ROW &&
           sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
  sqlite3_finalize(st);
  if (!ok) {
    snprintf(err, err_size, "cannot switch to WAL mode: %s", sqlite3_errmsg(db));
    return -1;
  }
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
    snprintf(err, err_size, "cannot lock the database: %s", sqlite3_errmsg(db));
    return -1;
  }
  if (check_or_create(db, err, err_size) != 0) {
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    snprintf(err, err_size, "cannot commit the schema: %s", sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
  }
  return 0;
}
