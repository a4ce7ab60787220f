/* A quick benchmark of store/sqlite alone (no HTTP): durable sends/s with 8 submitting
 * threads, and reads/s of a 20-message page. Prints figures, asserts nothing.
 * Usage: sqlite_store_bench [DIR]   (a temporary database is created in DIR, default /tmp). */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/sqlite/sqlite_store.h"

enum { SENDERS = 8, USERS = 30, READ_SECONDS = 3 };

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct send_run {
  store *s;
  int per_thread;
  int window;
  unsigned seed;
  _Atomic int *failed;
} send_run;

static void on_send(void *arg, store_status status, const char *detail, const send_result *r) {
  (void)detail;
  (void)r;
  send_run *run = ((void **)arg)[0];
  if (status != STORE_OK) atomic_fetch_add(run->failed, 1);
  sem_post(((void **)arg)[1]);
}

static void *sender(void *p) {
  send_run *run = p;
  sem_t window;
  sem_init(&window, 0, (unsigned)run->window);
  void *ctx[2] = {run, &window};
  send_request *reqs = calloc((size_t)run->per_thread, sizeof *reqs);
  static const char text[] = "a benchmark message of a typical chat length, about sixty bytes";
  for (int i = 0; i < run->per_thread; i++) {
    int64_t from = 1 + rand_r(&run->seed) % USERS, to = 1 + rand_r(&run->seed) % (USERS - 1);
    if (to >= from) to++;
    reqs[i] =
        (send_request){.sender_id = from, .receiver_id = to, .content = text, .content_len = sizeof text - 1};
    sem_wait(&window);
    store_send_message(run->s, &reqs[i], on_send, ctx);
  }
  for (int i = 0; i < run->window; i++) sem_wait(&window);
  sem_destroy(&window);
  free(reqs);
  return NULL;
}

static void bench_sends(store *s, int per_thread, int window) {
  _Atomic int failed = 0;
  send_run runs[SENDERS];
  pthread_t threads[SENDERS];
  double t0 = now_s();
  for (int i = 0; i < SENDERS; i++) {
    runs[i] = (send_run){
        .s = s, .per_thread = per_thread, .window = window, .seed = 7u + (unsigned)i, .failed = &failed};
    pthread_create(&threads[i], NULL, sender, &runs[i]);
  }
  for (int i = 0; i < SENDERS; i++) pthread_join(threads[i], NULL);
  double dt = now_s() - t0;
  int total = SENDERS * per_thread;
  printf("sends: %d threads x %d outstanding each: %d durable sends in %.2f s = %.0f sends/s (%d failed)\n",
         SENDERS, window, total, dt, total / dt, atomic_load(&failed));
}

typedef struct read_run {
  store *s;
  int64_t conversations;
  unsigned seed;
  long reads;
  long bad;
} read_run;

static void on_page(void *arg, store_status status, const char *detail, const message_page *p) {
  (void)detail;
  read_run *run = arg;
  if (status != STORE_OK || p->count != (p->total < 20 ? (size_t)p->total : 20)) run->bad++;
}

static void *reader(void *p) {
  read_run *run = p;
  double end = now_s() + READ_SECONDS;
  while (now_s() < end) {
    for (int i = 0; i < 256; i++) {
      message_query q = {.conversation_id = 1 + rand_r(&run->seed) % run->conversations,
                         .page = {.page = 1, .limit = 20}};
      store_list_messages(run->s, &q, on_page, run);
      run->reads++;
    }
  }
  return NULL;
}

static void bench_reads(store *s, int64_t conversations, int threads) {
  read_run runs[8];
  pthread_t t[8];
  for (int i = 0; i < threads; i++) {
    runs[i] = (read_run){.s = s, .conversations = conversations, .seed = 100u + (unsigned)i};
    pthread_create(&t[i], NULL, reader, &runs[i]);
  }
  long reads = 0, bad = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(t[i], NULL);
    reads += runs[i].reads;
    bad += runs[i].bad;
  }
  printf("reads: %d thread(s), page of 20 newest messages of a random conversation: %.0f reads/s (%ld bad)\n",
         threads, (double)reads / READ_SECONDS, bad);
}

int main(int argc, char **argv) {
  char dir[256];
  snprintf(dir, sizeof dir, "%s/sqlite-bench-XXXXXX", argc > 1 ? argv[1] : "/tmp");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  char path[300];
  snprintf(path, sizeof path, "%s/bench.db", dir);
  sqlite_store_config cfg = {.path = path};
  store *s = NULL;
  char err[256];
  if (sqlite_store_open(&cfg, &s, err, sizeof err) != 0) {
    fprintf(stderr, "open: %s\n", err);
    return 1;
  }
  bench_sends(s, 200, 1);
  bench_sends(s, 5000, 64);
  int64_t conversations = USERS * (USERS - 1) / 2;
  bench_reads(s, conversations, 1);
  bench_reads(s, conversations, 2);
  store_close(s);
  static const char *const suffixes[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    char p[320];
    snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
    unlink(p);
  }
  rmdir(dir);
  return 0;
}
