/* bench/cql_bench: the CQL client's own overhead, measured against the cqlmock test server.
 *
 *   cql_bench --cqlmock PATH [--seconds S] [--inflight 1,8,64,256]
 *
 * Starts PATH (a release build of tests/cqlmock, without a request log) primed with the two
 * statement shapes of the Cassandra store's hot path: a prepared SELECT answering 20 message
 * rows and a prepared INSERT answering Void. One client with one connection to the one node
 * keeps N requests in flight (each completion submits the next, built and bound anew) for S
 * seconds after a short warm-up, for each N. It prints a Markdown table: requests/s, the CPU
 * time of the client process (getrusage: user + system, every thread) in cores, requests per
 * client CPU-second, and the mock's CPU (from /proc/PID/stat). The mock does almost no work per
 * request, so the client's CPU per request is its own overhead: encoding, framing, stream ids,
 * the prepared cache, routing, decoding the result and the callbacks.
 *
 * Ownership: main owns the client, the mock process and the script file (removed at exit). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cql/client.h"

#define ROWS       20
#define MAX_LEVELS 8
#define WARMUP_MS  500
#define KEYSPACE   "bench"
#define SELECT_TEXT                                                                                          \
  "SELECT message_id, sender_id, receiver_id, content FROM bench.messages_by_conversation"                   \
  " WHERE conversation_id = ? AND bucket = ? AND message_id < ? LIMIT ?"
#define INSERT_TEXT                                                                                          \
  "INSERT INTO bench.messages_by_conversation (conversation_id, bucket, message_id, sender_id,"              \
  " receiver_id, content) VALUES (?, ?, ?, ?, ?, ?)"

typedef enum workload { WL_SELECT, WL_INSERT } workload;

typedef struct run {
  cql_client *client;
  workload wl;
  atomic_bool stop;
  atomic_uint_fast64_t done, errors, seq;
  pthread_mutex_t mu; /* guards inflight */
  pthread_cond_t drained;
  unsigned inflight;
} run;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         (double)ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of pid in seconds, or -1 when unreadable. */
static double proc_cpu_s(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  unsigned long utime = 0, stime = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
    return -1;
  return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- the load ---------------------------------------------------------------------------- */

static bool submit(run *r);

static void finished_one(run *r) {
  pthread_mutex_lock(&r->mu);
  if (--r->inflight == 0) pthread_cond_broadcast(&r->drained);
  pthread_mutex_unlock(&r->mu);
}

static void on_done(cql_resultset *res, const cql_error *err, void *ud) {
  run *r = ud;
  bool ok = !err && (r->wl == WL_INSERT || cql_resultset_row_count(res) == ROWS);
  cql_resultset_free(res);
  atomic_fetch_add(ok ? &r->done : &r->errors, 1);
  if (atomic_load(&r->stop) || !submit(r)) finished_one(r);
}

/* Builds, binds and submits one request; false when it could not be submitted. */
static bool submit(run *r) {
  uint64_t seq = atomic_fetch_add(&r->seq, 1);
  cql_statement *st =
      cql_statement_new(r->wl == WL_SELECT ? SELECT_TEXT : INSERT_TEXT, r->wl == WL_SELECT ? 4 : 6, true);
  if (!st) return false;
  int64_t conversation = (int64_t)(seq % 1000) + 1;
  cql_statement_bind_int64(st, 0, conversation);
  cql_statement_bind_int32(st, 1, 2000);
  if (r->wl == WL_SELECT) {
    cql_statement_bind_int64(st, 2, INT64_C(1) << 53);
    cql_statement_bind_int32(st, 3, ROWS + 1);
    cql_statement_set_idempotent(st, true);
  } else {
    static const char content[] = "a chat message of a typical length, about eighty bytes of UTF-8 text";
    cql_statement_bind_int64(st, 2, (int64_t)seq + 1);
    cql_statement_bind_int64(st, 3, 1);
    cql_statement_bind_int64(st, 4, 2);
    cql_statement_bind_text(st, 5, content, sizeof content - 1);
  }
  cql_statement_set_consistency(st, CQL_CONSISTENCY_LOCAL_QUORUM);
  bool ok = cql_client_execute(r->client, st, on_done, r);
  cql_statement_free(st);
  return ok;
}

typedef struct result {
  double rps, client_cores, per_core, mock_cores, latency_ms;
  uint64_t errors;
} result;

static void sleep_ms(unsigned ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static result measure(cql_client *client, pid_t mock, workload wl, unsigned inflight, unsigned seconds) {
  run r = {.client = client, .wl = wl};
  pthread_mutex_init(&r.mu, NULL);
  pthread_cond_init(&r.drained, NULL);
  atomic_init(&r.stop, false);
  atomic_init(&r.done, 0);
  atomic_init(&r.errors, 0);
  atomic_init(&r.seq, 0);
  pthread_mutex_lock(&r.mu);
  r.inflight = inflight;
  pthread_mutex_unlock(&r.mu);
  for (unsigned i = 0; i < inflight; i++)
    if (!submit(&r)) finished_one(&r);
  sleep_ms(WARMUP_MS);
  uint64_t done0 = atomic_load(&r.done);
  double t0 = now_s(), cpu0 = self_cpu_s(), mock0 = proc_cpu_s(mock);
  sleep_ms(seconds * 1000);
  uint64_t done1 = atomic_load(&r.done);
  double t1 = now_s(), cpu1 = self_cpu_s(), mock1 = proc_cpu_s(mock);
  atomic_store(&r.stop, true);
  pthread_mutex_lock(&r.mu);
  while (r.inflight > 0) pthread_cond_wait(&r.drained, &r.mu);
  pthread_mutex_unlock(&r.mu);
  pthread_cond_destroy(&r.drained);
  pthread_mutex_destroy(&r.mu);
  double wall = t1 - t0, n = (double)(done1 - done0), cpu = cpu1 - cpu0;
  result out = {.rps = n / wall,
                .client_cores = cpu / wall,
                .per_core = cpu > 0 ? n / cpu : 0,
                .mock_cores = mock0 >= 0 && mock1 >= 0 ? (mock1 - mock0) / wall : -1,
                .latency_ms = n > 0 ? 1000.0 * wall * inflight / n : 0,
                .errors = atomic_load(&r.errors)};
  return out;
}

/* ---- the mock ------------------------------------------------------------------------------ */

static json_t *pairs(size_t n, const char *const names[], const char *const types[]) {
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(a, json_pack("[s, s]", names[i], types[i]));
  return a;
}

/* Writes the mock's script into a new temporary file; false on failure. */
static bool write_script(char path[64]) {
  static const char *const cols[] = {"message_id", "sender_id", "receiver_id", "content"};
  static const char *const col_types[] = {"bigint", "bigint", "bigint", "text"};
  static const char *const sel[] = {"conversation_id", "bucket", "message_id", "[limit]"};
  static const char *const sel_types[] = {"bigint", "int", "bigint", "int"};
  static const char *const ins[] = {"conversation_id", "bucket",      "message_id",
                                    "sender_id",       "receiver_id", "content"};
  static const char *const ins_types[] = {"bigint", "int", "bigint", "bigint", "bigint", "text"};
  json_t *rows = json_array();
  for (int i = 0; i < ROWS; i++)
    json_array_append_new(rows,
                          json_pack("[I, I, I, s]", (json_int_t)(9000000 - i), (json_int_t)1, (json_int_t)2,
                                    "a chat message of a typical length, about 60 bytes"));
  json_t *select =
      json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:[i, i]}", "query", SELECT_TEXT, "keyspace", KEYSPACE,
                "table", "messages_by_conversation", "columns", pairs(4, cols, col_types), "rows", rows,
                "params", pairs(4, sel, sel_types), "pk_indexes", 0, 1);
  json_t *insert = json_pack("{s:s, s:s, s:o, s:[i, i]}", "query", INSERT_TEXT, "result", "void", "params",
                             pairs(6, ins, ins_types), "pk_indexes", 0, 1);
  json_t *doc = json_pack("{s:s, s:[o, o]}", "keyspace", KEYSPACE, "primes", select, insert);
  snprintf(path, 64, "/tmp/cql_bench_XXXXXX");
  int fd = mkstemp(path);
  bool ok = doc && fd >= 0 && json_dumpfd(doc, fd, 0) == 0;
  if (fd >= 0) close(fd);
  json_decref(doc);
  return ok;
}

/* Starts the mock; fills its pid and contact points. false on failure (printed). */
static bool start_mock(const char *bin, const char *script, pid_t *pid, char *contacts, size_t size) {
  int out[2];
  if (pipe(out) != 0) return false;
  pid_t child = fork();
  if (child < 0) return false;
  if (child == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl(bin, bin, "--script", script, "--no-log", (char *)NULL);
    perror("cql_bench: exec cqlmock");
    _exit(127);
  }
  close(out[1]);
  FILE *f = fdopen(out[0], "r");
  char line[512] = "";
  bool ok = f && fgets(line, sizeof line, f) && strncmp(line, "cqlmock: listening on ", 22) == 0;
  if (f) fclose(f);
  if (!ok) {
    fprintf(stderr, "cql_bench: cqlmock did not start (%s)\n", line);
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    return false;
  }
  line[strcspn(line, "\r\n")] = '\0';
  snprintf(contacts, size, "%s", line + 22);
  *pid = child;
  return true;
}

/* ---- main ---------------------------------------------------------------------------------- */

static size_t parse_levels(const char *text, unsigned levels[MAX_LEVELS]) {
  size_t n = 0;
  for (const char *p = text; *p && n < MAX_LEVELS;) {
    char *end;
    unsigned long v = strtoul(p, &end, 10);
    if (end == p || v < 1 || v > 1024) return 0;
    levels[n++] = (unsigned)v;
    p = *end == ',' ? end + 1 : end;
    if (*end && *end != ',') return 0;
  }
  return n;
}

static cql_client *connect_client(const char *contacts) {
  cql_config cfg;
  cql_config_init(&cfg);
  cfg.contact_points = contacts;
  cfg.connections_per_host = 1;
  cfg.request_timeout_ms = 5000;
  const char *why = NULL;
  cql_client *c = cql_client_new(&cfg, &why);
  if (!c) {
    fprintf(stderr, "cql_bench: %s\n", why ? why : "cannot create the client");
    return NULL;
  }
  char err[256];
  if (cql_client_connect_wait(c, err, sizeof err) != 0) {
    fprintf(stderr, "cql_bench: connect: %s\n", err);
    cql_client_close(c);
    return NULL;
  }
  return c;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"cqlmock", required_argument, NULL, 'm'},
                                       {"seconds", required_argument, NULL, 's'},
                                       {"inflight", required_argument, NULL, 'n'},
                                       {NULL, 0, NULL, 0}};
  const char *mock_bin = NULL;
  unsigned seconds = 3, levels[MAX_LEVELS] = {1, 8, 64, 256};
  size_t n_levels = 4;
  int opt;
  while ((opt = getopt_long(argc, argv, "m:s:n:", opts, NULL)) != -1) {
    if (opt == 'm')
      mock_bin = optarg;
    else if (opt == 's')
      seconds = (unsigned)atoi(optarg);
    else if (opt == 'n')
      n_levels = parse_levels(optarg, levels);
    else
      n_levels = 0;
  }
  if (!mock_bin || !n_levels || seconds < 1 || seconds > 600) {
    fprintf(stderr, "usage: cql_bench --cqlmock PATH [--seconds 1..600] [--inflight N,N,...]\n");
    return 2;
  }
  char script[64];
  if (!write_script(script)) {
    fprintf(stderr, "cql_bench: cannot write the cqlmock script\n");
    return 1;
  }
  pid_t mock = 0;
  char contacts[512];
  bool started = start_mock(mock_bin, script, &mock, contacts, sizeof contacts);
  unlink(script);
  if (!started) return 1;
  cql_client *client = connect_client(contacts);
  int rc = client ? 0 : 1;
  if (client) {
    printf("| workload | in flight | requests/s | client CPU (cores) | requests/s per client core |"
           " client CPU µs/request | mock CPU (cores) | mean latency (ms) |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    fflush(stdout);
    for (int w = WL_SELECT; w <= WL_INSERT; w++)
      for (size_t i = 0; i < n_levels; i++) {
        result res = measure(client, mock, (workload)w, levels[i], seconds);
        printf("| %s | %u | %.0f | %.2f | %.0f | %.1f | %.2f | %.3f |\n",
               w == WL_SELECT ? "prepared SELECT, 20 rows" : "prepared INSERT", levels[i], res.rps,
               res.client_cores, res.per_core, res.per_core > 0 ? 1e6 / res.per_core : 0, res.mock_cores,
               res.latency_ms);
        fflush(stdout);
        if (res.errors) {
          fprintf(stderr, "cql_bench: %llu failed requests\n", (unsigned long long)res.errors);
          rc = 1;
        }
      }
    cql_client_close(client);
  }
  kill(mock, SIGTERM);
  waitpid(mock, NULL, 0);
  return rc;
}
