#include "store/sqlite/sqlite_wal_vfs.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

/* A WAL file: the real one (of the default VFS) lives right after this struct. */
typedef struct wal_file {
  sqlite3_file base; /* first: SQLite's view */
  sqlite3_file *real;
  unsigned char *buf; /* writes not yet handed to the real file, contiguous from buf_offset */
  size_t buf_len;
  sqlite3_int64 buf_offset;
} wal_file;

static sqlite3_vfs wal_vfs;
static sqlite3_vfs *default_vfs;
static sqlite3_io_methods wal_methods;
static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static int register_rc = SQLITE_OK;

static wal_file *as_wal(sqlite3_file *f) { return (wal_file *)f; }

/* Hands what is buffered to the real file. */
static int flush(wal_file *w) {
  if (!w->buf_len) return SQLITE_OK;
  int rc = w->real->pMethods->xWrite(w->real, w->buf, (int)w->buf_len, w->buf_offset);
  w->buf_len = 0;
  return rc;
}

static int wal_close(sqlite3_file *f) {
  wal_file *w = as_wal(f);
  int rc = flush(w);
  int closed = w->real->pMethods ? w->real->pMethods->xClose(w->real) : SQLITE_OK;
  free(w->buf);
  w->buf = NULL;
  return rc != SQLITE_OK ? rc : closed;
}

static int wal_read(sqlite3_file *f, void *out, int n, sqlite3_int64 offset) {
  wal_file *w = as_wal(f);
  int rc = flush(w);
  return rc != SQLITE_OK ? rc : w->real->pMethods->xRead(w->real, out, n, offset);
}

static int wal_write(sqlite3_file *f, const void *data, int n, sqlite3_int64 offset) {
  wal_file *w = as_wal(f);
  size_t len = (size_t)n;
  bool continues = w->buf_len && offset == w->buf_offset + (sqlite3_int64)w->buf_len;
  if (!continues || w->buf_len + len > WAL_VFS_BUFFER_BYTES) {
    int rc = flush(w);
    if (rc != SQLITE_OK) return rc;
  }
  if (len > WAL_VFS_BUFFER_BYTES) return w->real->pMethods->xWrite(w->real, data, n, offset);
  if (!w->buf && !(w->buf = malloc(WAL_VFS_BUFFER_BYTES)))
    return w->real->pMethods->xWrite(w->real, data, n, offset); /* unbuffered, still correct */
  if (!w->buf_len) w->buf_offset = offset;
  memcpy(w->buf + w->buf_len, data, len);
  w->buf_len += len;
  return SQLITE_OK;
}

static int wal_truncate(sqlite3_file *f, sqlite3_int64 size) {
  wal_file *w = as_wal(f);
  int rc = flush(w);
  return rc != SQLITE_OK ? rc : w->real->pMethods->xTruncate(w->real, size);
}

static int wal_sync(sqlite3_file *f, int flags) {
  wal_file *w = as_wal(f);
  int rc = flush(w);
  return rc != SQLITE_OK ? rc : w->real->pMethods->xSync(w->real, flags);
}

static int wal_file_size(sqlite3_file *f, sqlite3_int64 *size) {
  wal_file *w = as_wal(f);
  int rc = flush(w);
  return rc != SQLITE_OK ? rc : w->real->pMethods->xFileSize(w->real, size);
}

static int wal_lock(sqlite3_file *f, int level) {
  wal_file *w = as_wal(f);
  int rc = flush(w);
  return rc != SQLITE_OK ? rc : w->real->pMethods->xLock(w->real, level);
}

static int wal_unlock(sqlite3_file *f, int level) {
  wal_file *w = as_wal(f);
  int rc = flush(w);
  return rc != SQLITE_OK ? rc : w->real->pMethods->xUnlock(w->real, level);
}

static int wal_check_reserved_lock(sqlite3_file *f, int *out) {
  wal_file *w = as_wal(f);
  return w->real->pMethods->xCheckReservedLock(w->real, out);
}

static int wal_file_control(sqlite3_file *f, int op, void *arg) {
  wal_file *w = as_wal(f);
  int rc = flush(w);
  return rc != SQLITE_OK ? rc : w->real->pMethods->xFileControl(w->real, op, arg);
}

static int wal_sector_size(sqlite3_file *f) {
  wal_file *w = as_wal(f);
  return w->real->pMethods->xSectorSize(w->real);
}

static int wal_device_characteristics(sqlite3_file *f) {
  wal_file *w = as_wal(f);
  return w->real->pMethods->xDeviceCharacteristics(w->real);
}

static int wal_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags) {
  (void)vfs;
  if (!(flags & SQLITE_OPEN_WAL)) /* every other file is the default VFS's own */
    return default_vfs->xOpen(default_vfs, name, f, flags, out_flags);
  wal_file *w = as_wal(f);
  memset(w, 0, sizeof *w);
  w->real = (sqlite3_file *)(w + 1);
  int rc = default_vfs->xOpen(default_vfs, name, w->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (w->real->pMethods) w->real->pMethods->xClose(w->real);
    w->base.pMethods = NULL; /* SQLite closes nothing that failed to open */
    return rc;
  }
  w->base.pMethods = &wal_methods;
  return SQLITE_OK;
}

static void do_register(void) {
  default_vfs = sqlite3_vfs_find(NULL);
  if (!default_vfs) {
    register_rc = SQLITE_ERROR;
    return;
  }
  wal_methods = (sqlite3_io_methods){
      .iVersion = 1, /* no shared memory or mapping on a WAL file: SQLite asks those of the database */
      .xClose = wal_close,
      .xRead = wal_read,
      .xWrite = wal_write,
      .xTruncate = wal_truncate,
      .xSync = wal_sync,
      .xFileSize = wal_file_size,
      .xLock = wal_lock,
      .xUnlock = wal_unlock,
      .xCheckReservedLock = wal_check_reserved_lock,
      .xFileControl = wal_file_control,
      .xSectorSize = wal_sector_size,
      .xDeviceCharacteristics = wal_device_characteristics,
  };
  wal_vfs = *default_vfs; /* the default's own functions for everything but xOpen */
  wal_vfs.zName = WAL_VFS_NAME;
  wal_vfs.pNext = NULL;
  wal_vfs.szOsFile = (int)sizeof(wal_file) + default_vfs->szOsFile;
  wal_vfs.xOpen = wal_open;
  register_rc = sqlite3_vfs_register(&wal_vfs, 0);
}

int sqlite_wal_vfs_register(void) {
  pthread_once(&register_once, do_register);
  return register_rc;
}
