/* `messenger seed`: deterministic test data through the store interface: users 1..N,
 * conversations between distinct random pairs, and messages with realistic timestamps
 * spread over past days, sent in time order so ids grow with time. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "core/timestamp.h"
#include "log/log.h"

#define SEED_IN_FLIGHT 512

typedef struct rng {
  uint64_t state;
} rng;

/* splitmix64: small, fast, and the same sequence on every platform for a given seed. */
static uint64_t rng_next(rng *r) {
  uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static int64_t rng_range(rng *r, int64_t lo, int64_t hi) { /* inclusive */
  return lo + (int64_t)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

typedef struct seed_pair {
  int64_t a, b;
} seed_pair;

typedef struct seed_event {
  int64_t at_ms;
  uint32_t pair;
} seed_event;

static int by_time(const void *x, const void *y) {
  const seed_event *a = x, *b = y;
  if (a->at_ms != b->at_ms) return a->at_ms < b->at_ms ? -1 : 1;
  return a->pair < b->pair ? -1 : a->pair > b->pair;
}

static const char *const openers[] = {"hey", "hi", "ok", "so", "lol", "btw", "hmm", "yes", "sure", "wait"};
static const char *const phrases[] = {"are we still on for lunch tomorrow?",
                                      "running ten minutes late, sorry",
                                      "did you see the game last night",
                                      "sending the slides now",
                                      "can you call me when you're free?",
                                      "that sounds great",
                                      "I'll be there around 7",
                                      "thanks for the help today",
                                      "the build is green again",
                                      "where did you park?",
                                      "happy birthday! 🎉",
                                      "let me check and get back to you",
                                      "see you at the station",
                                      "the meeting moved to 3pm",
                                      "good night 😴",
                                      "who's bringing the snacks?",
                                      "just landed ✈️",
                                      "merci, à demain !",
                                      "¿vienes a la fiesta?",
                                      "お疲れ様です",
                                      "on my way"};

typedef struct seed_progress seed_progress;

/* One send in flight: the request and the bytes it points to. */
typedef struct seed_slot {
  send_request req;
  char content[160];
  seed_progress *progress;
} seed_slot;

/* A window of SEED_IN_FLIGHT slots (a stack of free ones; stores may complete sends in any
 * order), and the first error. */
struct seed_progress {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  seed_slot *free_slots[SEED_IN_FLIGHT];
  int n_free;
  int64_t failed;
  char first_error[256];
};

static void on_seed_sent(void *arg, store_status status, const char *detail, const send_result *result) {
  (void)result;
  seed_slot *slot = arg;
  seed_progress *p = slot->progress;
  pthread_mutex_lock(&p->lock);
  if (status != STORE_OK && p->failed++ == 0) snprintf(p->first_error, sizeof p->first_error, "%s", detail);
  p->free_slots[p->n_free++] = slot;
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->lock);
}

static void seed_usage(FILE *out) {
  fprintf(out, "usage: messenger seed [options]\n\n"
               "  --seed N            random seed; the same seed gives the same data (1)\n"
               "  --users N           users 1..N (10)\n"
               "  --conversations N   conversations between distinct random pairs (15)\n"
               "  --messages N        at most N messages per conversation (50)\n"
               "  --min-messages N    at least N messages per conversation (1)\n"
               "  --days N            spread messages over the past N days (30)\n" STORE_OPTIONS_HELP);
}

static bool parse_seed_args(int argc, char **argv, seed_settings *sd, store_settings *st, int *exit_code) {
  enum { OPT_SEED = 1, OPT_USERS, OPT_CONVS, OPT_MSGS, OPT_MIN, OPT_DAYS, OPT_HELP };
  static const struct option options[] = {
      {"seed", required_argument, NULL, OPT_SEED},
      {"users", required_argument, NULL, OPT_USERS},
      {"conversations", required_argument, NULL, OPT_CONVS},
      {"messages", required_argument, NULL, OPT_MSGS},
      {"min-messages", required_argument, NULL, OPT_MIN},
      {"days", required_argument, NULL, OPT_DAYS},
      {"help", no_argument, NULL, OPT_HELP},
      STORE_LONG_OPTIONS,
      {NULL, 0, NULL, 0},
  };
  int opt;
  uint64_t v = 0;
  optind = 1;
  while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
    bool ok = true;
    switch (opt) {
    case OPT_SEED:
      ok = parse_unsigned(optarg, 0, UINT64_MAX, &v);
      sd->seed = v;
      break;
    case OPT_USERS:
      ok = parse_unsigned(optarg, 2, 100000000, &v);
      sd->users = (int64_t)v;
      break;
    case OPT_CONVS:
      ok = parse_unsigned(optarg, 0, 10000000, &v);
      sd->conversations = (int64_t)v;
      break;
    case OPT_MSGS:
      ok = parse_unsigned(optarg, 1, 10000000, &v);
      sd->max_messages = (int64_t)v;
      break;
    case OPT_MIN:
      ok = parse_unsigned(optarg, 1, 10000000, &v);
      sd->min_messages = (int64_t)v;
      break;
    case OPT_DAYS:
      ok = parse_unsigned(optarg, 1, 3650, &v);
      sd->days = (int)v;
      break;
    case OPT_HELP:
      seed_usage(stdout);
      *exit_code = 0;
      return false;
    default:
      ok = store_option(st, opt, optarg, "messenger seed") && st->node_id >= 0;
      break;
    }
    if (!ok) return reject_option("messenger seed", opt, seed_usage, exit_code);
  }
  if (sd->min_messages > sd->max_messages) sd->min_messages = sd->max_messages;
  int64_t possible = sd->users * (sd->users - 1) / 2;
  if (sd->conversations > possible) {
    log_msg(LOG_ERROR, "seed", "%lld users make at most %lld pairs", (long long)sd->users,
            (long long)possible);
    *exit_code = 2;
    return false;
  }
  return true;
}

/* Distinct random pairs, found by rejection with a hash set of the pairs taken. */
static seed_pair *pick_pairs(rng *r, const seed_settings *sd) {
  size_t n = (size_t)sd->conversations, cap = 16;
  while (cap < n * 2) cap *= 2;
  seed_pair *pairs = malloc((n ? n : 1) * sizeof *pairs);
  uint64_t *taken = calloc(cap, sizeof *taken); /* key = a * 2^32 + b + 1; 0 = empty */
  if (!pairs || !taken) {
    free(pairs);
    free(taken);
    return NULL;
  }
  for (size_t i = 0; i < n;) {
    int64_t a = rng_range(r, 1, sd->users), b = rng_range(r, 1, sd->users);
    if (a == b) continue;
    if (a > b) {
      int64_t t = a;
      a = b;
      b = t;
    }
    uint64_t key = ((uint64_t)a << 32) + (uint64_t)b + 1, slot = (key * 0x9e3779b97f4a7c15ULL) & (cap - 1);
    while (taken[slot] && taken[slot] != key) slot = (slot + 1) & (cap - 1);
    if (taken[slot]) continue;
    taken[slot] = key;
    pairs[i++] = (seed_pair){a, b};
  }
  free(taken);
  return pairs;
}

/* Message times: each conversation starts at a random moment of the period, and replies
 * follow after seconds to minutes, with the occasional pause of hours. */
static seed_event *plan_events(rng *r, const seed_settings *sd, size_t *count) {
  int64_t now_ms = timestamp_now_us() / 1000, span_ms = (int64_t)sd->days * 86400000;
  size_t total = 0, cap = 1024;
  seed_event *events = malloc(cap * sizeof *events);
  for (uint32_t c = 0; events && c < (uint32_t)sd->conversations; c++) {
    int64_t n = rng_range(r, sd->min_messages, sd->max_messages); /* >= 1: parse_seed_args */
    if (n < 1) n = 1;
    int64_t at = now_ms - span_ms + rng_range(r, 0, span_ms / 2);
    int64_t budget = (now_ms - 60000 - at) / n; /* keeps the conversation in the past */
    for (int64_t i = 0; i < n; i++) {
      int64_t gap = rng_next(r) % 10 == 0 ? rng_range(r, 0, budget * 4) : rng_range(r, 1000, 240000);
      at += gap < budget * 2 ? gap : budget;
      if (total == cap) {
        seed_event *grown = realloc(events, (cap *= 2) * sizeof *events);
        if (!grown) {
          free(events);
          return NULL;
        }
        events = grown;
      }
      events[total++] = (seed_event){.at_ms = at, .pair = c};
    }
  }
  if (events) qsort(events, total, sizeof *events, by_time);
  *count = total;
  return events;
}

static void compose(rng *r, char *out, size_t size) {
  const char *opener = openers[rng_next(r) % (sizeof openers / sizeof openers[0])];
  const char *phrase = phrases[rng_next(r) % (sizeof phrases / sizeof phrases[0])];
  if (rng_next(r) % 3 == 0)
    snprintf(out, size, "%s, %s", opener, phrase);
  else
    snprintf(out, size, "%s", phrase);
}

static int run_seed(store *st, const seed_settings *sd) {
  rng r = {.state = sd->seed};
  seed_pair *pairs = pick_pairs(&r, sd);
  size_t count = 0;
  seed_event *events = pairs ? plan_events(&r, sd, &count) : NULL;
  seed_slot *slots = calloc(SEED_IN_FLIGHT, sizeof *slots);
  if (!pairs || !events || !slots) {
    log_msg(LOG_ERROR, "seed", "out of memory");
    free(pairs);
    free(events);
    free(slots);
    return 1;
  }
  seed_progress progress = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
  for (int k = 0; k < SEED_IN_FLIGHT; k++) {
    slots[k].progress = &progress;
    progress.free_slots[progress.n_free++] = &slots[k];
  }
  for (size_t i = 0; i < count; i++) {
    pthread_mutex_lock(&progress.lock);
    while (progress.n_free == 0) pthread_cond_wait(&progress.cond, &progress.lock);
    seed_slot *slot = progress.free_slots[--progress.n_free];
    pthread_mutex_unlock(&progress.lock);
    const seed_pair *p = &pairs[events[i].pair];
    bool forward = rng_next(&r) & 1;
    compose(&r, slot->content, sizeof slot->content);
    slot->req = (send_request){.sender_id = forward ? p->a : p->b,
                               .receiver_id = forward ? p->b : p->a,
                               .content = slot->content,
                               .content_len = strlen(slot->content),
                               .sent_at_ms = events[i].at_ms};
    store_send_message(st, &slot->req, on_seed_sent, slot);
  }
  pthread_mutex_lock(&progress.lock);
  while (progress.n_free < SEED_IN_FLIGHT) pthread_cond_wait(&progress.cond, &progress.lock);
  pthread_mutex_unlock(&progress.lock);
  free(pairs);
  free(events);
  free(slots);
  if (progress.failed) {
    log_msg(LOG_ERROR, "seed", "%lld of %zu messages failed: %s", (long long)progress.failed, count,
            progress.first_error);
    return 1;
  }
  log_msg(LOG_INFO, "seed", "%lld users, %lld conversations, %zu messages", (long long)sd->users,
          (long long)sd->conversations, count);
  return 0;
}

int cmd_seed(int argc, char **argv) {
  seed_settings sd = {
      .seed = 1, .users = 10, .conversations = 15, .min_messages = 1, .max_messages = 50, .days = 30};
  store_settings st_cfg;
  store_settings_from_env(&st_cfg);
  if (!config_check_env("messenger seed")) return 2;
  int exit_code = 0;
  if (!parse_seed_args(argc, argv, &sd, &st_cfg, &exit_code)) return exit_code;
  store *st = open_store(&st_cfg);
  if (!st) return 1;
  int rc = run_seed(st, &sd);
  store_close(st);
  return rc;
}
