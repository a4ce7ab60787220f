/* store/sqlite/sqlite_schema: the on-disk schema of the SQLite store and its versioning.
 *
 * The file is marked with PRAGMA application_id (this program) and user_version (schema
 * version). Opening an empty file creates the schema in one transaction; opening a file of
 * another application or of a newer schema version fails. Private to store/sqlite. */
#ifndef MESSENGER_STORE_SQLITE_SCHEMA_H
#define MESSENGER_STORE_SQLITE_SCHEMA_H

#include <stddef.h>

#include <sqlite3.h>

/* Switches the file to WAL and creates the schema when missing. Returns 0, or -1 with a
 * message in err. */
int sqlite_schema_ensure(sqlite3 *db, char *err, size_t err_size);

#endif
