/* store/sqlite/sqlite_wal_vfs: a VFS shim that gathers a connection's WAL writes.
 *
 * SQLite writes a commit's WAL frames one by one: two pwrite(2) calls per frame (its 24-byte
 * head, then the page), then one fsync. Profiled under load, those calls were a third of the
 * writer thread's time (each system call is dear on a virtual machine). This shim, registered
 * over the default VFS, keeps the writes of a WAL file that continue one another in a buffer
 * (up to WAL_VFS_BUFFER_BYTES) and hands them to the file as one write before anything that
 * must see them: a sync, a read, a size or truncate, a file control, a lock change, a write
 * elsewhere, the close. Every other file (database, shared memory, journals) is the default
 * VFS's own.
 *
 * Durability is unchanged for a connection with synchronous=FULL and cache_spill=OFF (the
 * store's writer): a commit is durable once its sync returned, and the sync writes the buffer
 * first; SQLite publishes the frames to readers (the wal-index) only after that sync, and with
 * no spill every WAL write belongs to a commit, so nothing stays buffered once the WAL write
 * lock is released (frames spilled by a transaction that then rolled back would stay in the
 * buffer and could later land on another process's frames). A connection that commits without
 * syncing (synchronous=NORMAL or OFF) or spills must not use it. A write error surfaces at the call that
 * flushes (the sync of the commit), which then fails like the write itself would have.
 *
 * Threads: the registration is done once (pthread_once); a file is used by its connection's
 * thread only, like any SQLite file. Private to store/sqlite. */
#ifndef MESSENGER_STORE_SQLITE_WAL_VFS_H
#define MESSENGER_STORE_SQLITE_WAL_VFS_H

#define WAL_VFS_NAME "messenger-wal"
/* The unix VFS writes at most 2^17 - 1 bytes per pwrite(2) (it masks the length to 17 bits
 * and gives up on a remainder that masks to 0): a flush is one write of at most this. */
#define WAL_VFS_BUFFER_BYTES (64 * 1024)

/* Registers the shim (not as the default). Returns SQLITE_OK or an error code. */
int sqlite_wal_vfs_register(void);

#endif
