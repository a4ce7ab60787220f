/* store/sqlite: the embedded store, SQLite in WAL mode with synchronous=FULL.
 *
 * Reads run inline on the calling thread, on a connection of that thread's own (opened on
 * first use, closed when the thread exits or the store closes), with prepared statements.
 * Writes are queued to one writer thread that commits many sends per transaction (group
 * commit) and calls each send's callback only after its transaction is durable.
 * The returned store is owned by the caller and freed by store_close(). */
#ifndef MESSENGER_STORE_SQLITE_STORE_H
#define MESSENGER_STORE_SQLITE_STORE_H

#include <stddef.h>

#include "store/store.h"

typedef struct sqlite_store_config {
  const char *path;   /* database file; created with the schema when missing */
  unsigned max_batch; /* sends per group-commit transaction; 0 = default (256) */
  unsigned max_queue; /* sends waiting for the writer before new ones get STORE_UNAVAILABLE; 0 = 65536 */
} sqlite_store_config;

/* Opens (creating if needed) the database and starts the writer thread. Returns 0 and sets
 * *out, or returns -1 with a message in err. */
int sqlite_store_open(const sqlite_store_config *cfg, store **out, char *err, size_t err_size);

#endif
