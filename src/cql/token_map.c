#include "cql/token_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ring_entry {
  int64_t token;
  int node;
} ring_entry;

typedef struct tm_keyspace {
  char *name;
  size_t per_pos; /* replicas per ring position (same for every position) */
  int *replicas;  /* ring_len * per_pos */
} tm_keyspace;

struct cql_token_map {
  size_t n_nodes;
  int *node_dc;   /* dc id per node */
  int *node_rack; /* rack id per node (unique per dc+rack string), -1 when unknown */
  char **dc_names;
  size_t n_dcs;
  size_t n_racks;
  ring_entry *ring;
  size_t ring_len;
  tm_keyspace *keyspaces;
  size_t n_keyspaces;
};

/* ---- replication parsing ---------------------------------------------------------------- */

static int parse_rf(const char *v) {
  if (!v) return 0;
  char *end;
  long rf = strtol(v, &end, 10);
  if (end == v || rf < 0 || rf > 1000) return 0;
  return (int)rf;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

void cql_replication_clear(cql_replication *r) {
  for (size_t i = 0; i < r->n_dcs; i++) free(r->dcs[i].dc);
  free(r->dcs);
  memset(r, 0, sizeof(*r));
}

bool cql_replication_parse(const char *const *keys, const char *const *values, size_t n,
                           cql_replication *out) {
  memset(out, 0, sizeof(*out));
  const char *cls = NULL;
  for (size_t i = 0; i < n; i++)
    if (strcmp(keys[i], "class") == 0) cls = values[i];
  if (!cls) return true;
  if (ends_with(cls, "SimpleStrategy")) {
    out->cls = CQL_REPL_SIMPLE;
    for (size_t i = 0; i < n; i++)
      if (strcmp(keys[i], "replication_factor") == 0) out->rf = parse_rf(values[i]);
    return true;
  }
  if (!ends_with(cls, "NetworkTopologyStrategy")) return true;
  out->cls = CQL_REPL_NTS;
  out->dcs = calloc(n ? n : 1, sizeof(*out->dcs));
  if (!out->dcs) return false;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(keys[i], "class") == 0 || strcmp(keys[i], "replication_factor") == 0) continue;
    int rf = parse_rf(values[i]);
    if (rf <= 0) continue;
    char *dc = strdup(keys[i]);
    if (!dc) {
      cql_replication_clear(out);
      return false;
    }
    out->dcs[out->n_dcs].dc = dc;
    out->dcs[out->n_dcs].rf = rf;
    out->n_dcs++;
  }
  return true;
}

/* ---- building ----------------------------------------------------------------------------- */

static int cmp_ring(const void *a, const void *b) {
  const ring_entry *x = a, *y = b;
  if (x->token != y->token) return x->token < y->token ? -1 : 1;
  return x->node - y->node;
}

/* Index of `s` in names[0..*n), appending it when absent; -1 on OOM. */
static int intern(char ***names, size_t *n, const char *s) {
  for (size_t i = 0; i < *n; i++)
    if (strcmp((*names)[i], s) == 0) return (int)i;
  char **grown = realloc(*names, (*n + 1) * sizeof(**names));
  if (!grown) return -1;
  *names = grown;
  if (!(grown[*n] = strdup(s))) return -1;
  return (int)(*n)++;
}

static void free_names(char **names, size_t n) {
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

cql_token_map *cql_token_map_new(const cql_tm_node *nodes, size_t n_nodes) {
  cql_token_map *tm = calloc(1, sizeof(*tm));
  if (!tm) return NULL;
  tm->n_nodes = n_nodes;
  size_t ring_len = 0;
  for (size_t i = 0; i < n_nodes; i++) ring_len += nodes[i].n_tokens;
  tm->node_dc = calloc(n_nodes ? n_nodes : 1, sizeof(int));
  tm->node_rack = calloc(n_nodes ? n_nodes : 1, sizeof(int));
  tm->ring = calloc(ring_len ? ring_len : 1, sizeof(ring_entry));
  char **racks = NULL; /* "dc\x1frack" strings, for rack ids */
  size_t n_racks = 0;
  bool ok = tm->node_dc && tm->node_rack && tm->ring;
  for (size_t i = 0; ok && i < n_nodes; i++) {
    int dc = intern(&tm->dc_names, &tm->n_dcs, nodes[i].dc ? nodes[i].dc : "");
    tm->node_dc[i] = dc;
    tm->node_rack[i] = -1;
    if (dc < 0) ok = false;
    if (ok && nodes[i].rack) {
      size_t len = strlen(tm->dc_names[dc]) + strlen(nodes[i].rack) + 2;
      char *key = malloc(len);
      if (!key) {
        ok = false;
        break;
      }
      snprintf(key, len, "%s\x1f%s", tm->dc_names[dc], nodes[i].rack);
      tm->node_rack[i] = intern(&racks, &n_racks, key);
      free(key);
      if (tm->node_rack[i] < 0) ok = false;
    }
    for (size_t t = 0; ok && t < nodes[i].n_tokens; t++)
      tm->ring[tm->ring_len++] = (ring_entry){nodes[i].tokens[t], (int)i};
  }
  free_names(racks, n_racks);
  tm->n_racks = n_racks;
  if (!ok) {
    cql_token_map_free(tm);
    return NULL;
  }
  qsort(tm->ring, tm->ring_len, sizeof(ring_entry), cmp_ring);
  return tm;
}

void cql_token_map_free(cql_token_map *tm) {
  if (!tm) return;
  for (size_t i = 0; i < tm->n_keyspaces; i++) {
    free(tm->keyspaces[i].name);
    free(tm->keyspaces[i].replicas);
  }
  free(tm->keyspaces);
  free_names(tm->dc_names, tm->n_dcs);
  free(tm->node_dc);
  free(tm->node_rack);
  free(tm->ring);
  free(tm);
}

size_t cql_token_map_ring_size(const cql_token_map *tm) { return tm->ring_len; }

/* ---- replica placement -------------------------------------------------------------------- */

static bool contains(const int *a, size_t n, int v) {
  for (size_t i = 0; i < n; i++)
    if (a[i] == v) return true;
  return false;
}

/* SimpleStrategy: the next `want` distinct nodes from ring position `pos`. */
static size_t place_simple(const cql_token_map *tm, size_t pos, size_t want, int *out) {
  size_t got = 0;
  for (size_t k = 0; k < tm->ring_len && got < want; k++) {
    int node = tm->ring[(pos + k) % tm->ring_len].node;
    if (!contains(out, got, node)) out[got++] = node;
  }
  return got;
}

/* Per-DC state of the NTS walk. */
typedef struct nts_dc {
  int want;        /* replicas still to place in this dc */
  size_t n_racks;  /* distinct racks in the dc */
  bool *rack_seen; /* by global rack id */
  size_t racks_seen;
  int *skipped; /* nodes passed over because their rack already had a replica */
  size_t n_skipped;
} nts_dc;

/* NetworkTopologyStrategy, as Cassandra: walk the ring; in each dc take nodes on unseen racks
 * first, remember the others, and once every rack of the dc is used take the remembered ones
 * in ring order. `dcs` holds the wanted count per dc id (0 = not replicated). */
static size_t place_nts(const cql_token_map *tm, size_t pos, nts_dc *dcs, int *out) {
  size_t got = 0;
  int remaining = 0;
  for (size_t d = 0; d < tm->n_dcs; d++) remaining += dcs[d].want;
  for (size_t k = 0; k < tm->ring_len && remaining > 0; k++) {
    int node = tm->ring[(pos + k) % tm->ring_len].node;
    nts_dc *dc = &dcs[tm->node_dc[node]];
    if (dc->want <= 0 || contains(out, got, node) || contains(dc->skipped, dc->n_skipped, node)) continue;
    int rack = tm->node_rack[node];
    if (rack < 0 || dc->racks_seen >= dc->n_racks) {
      out[got++] = node;
      dc->want--;
      remaining--;
    } else if (dc->rack_seen[rack]) {
      dc->skipped[dc->n_skipped++] = node;
    } else {
      out[got++] = node;
      dc->want--;
      remaining--;
      dc->rack_seen[rack] = true;
      if (++dc->racks_seen == dc->n_racks) {
        for (size_t s = 0; s < dc->n_skipped && dc->want > 0; s++) {
          out[got++] = dc->skipped[s];
          dc->want--;
          remaining--;
        }
      }
    }
  }
  return got;
}

bool cql_token_map_add_keyspace(cql_token_map *tm, const char *keyspace, const cql_replication *repl) {
  /* Wanted replicas per dc, capped at the dc's node count. */
  size_t per_pos = 0;
  int *want = calloc(tm->n_dcs ? tm->n_dcs : 1, sizeof(int));
  size_t *nodes_in_dc = calloc(tm->n_dcs ? tm->n_dcs : 1, sizeof(size_t));
  size_t *racks_in_dc = calloc(tm->n_dcs ? tm->n_dcs : 1, sizeof(size_t));
  bool *rack_counted = calloc(tm->n_racks ? tm->n_racks : 1, sizeof(bool));
  bool ok = want && nodes_in_dc && racks_in_dc && rack_counted;
  /* Only nodes that own tokens count: a node without tokens can never be reached. */
  bool *on_ring = calloc(tm->n_nodes ? tm->n_nodes : 1, sizeof(bool));
  ok = ok && on_ring;
  for (size_t i = 0; ok && i < tm->ring_len; i++) on_ring[tm->ring[i].node] = true;
  size_t ring_nodes = 0;
  for (size_t n = 0; ok && n < tm->n_nodes; n++) {
    if (!on_ring[n]) continue;
    ring_nodes++;
    nodes_in_dc[tm->node_dc[n]]++;
    int r = tm->node_rack[n];
    if (r >= 0 && !rack_counted[r]) {
      rack_counted[r] = true;
      racks_in_dc[tm->node_dc[n]]++;
    }
  }
  if (ok && repl->cls == CQL_REPL_SIMPLE) {
    per_pos = (size_t)repl->rf < ring_nodes ? (size_t)repl->rf : ring_nodes;
  } else if (ok && repl->cls == CQL_REPL_NTS) {
    for (size_t i = 0; i < repl->n_dcs; i++)
      for (size_t d = 0; d < tm->n_dcs; d++)
        if (strcmp(tm->dc_names[d], repl->dcs[i].dc) == 0) {
          want[d] = (size_t)repl->dcs[i].rf < nodes_in_dc[d] ? repl->dcs[i].rf : (int)nodes_in_dc[d];
          per_pos += (size_t)want[d];
        }
  }
  int *replicas = NULL;
  if (ok && per_pos > 0) {
    replicas = calloc(tm->ring_len * per_pos, sizeof(int));
    nts_dc *dcs = calloc(tm->n_dcs ? tm->n_dcs : 1, sizeof(nts_dc));
    bool *seen = calloc((tm->n_dcs ? tm->n_dcs : 1) * (tm->n_racks ? tm->n_racks : 1), sizeof(bool));
    int *skipped = calloc((tm->n_dcs ? tm->n_dcs : 1) * (tm->n_nodes ? tm->n_nodes : 1), sizeof(int));
    ok = replicas && dcs && seen && skipped;
    for (size_t pos = 0; ok && pos < tm->ring_len; pos++) {
      int *out = replicas + pos * per_pos;
      size_t got;
      if (repl->cls == CQL_REPL_SIMPLE) {
        got = place_simple(tm, pos, per_pos, out);
      } else {
        for (size_t d = 0; d < tm->n_dcs; d++) {
          dcs[d] = (nts_dc){.want = want[d],
                            .n_racks = racks_in_dc[d],
                            .rack_seen = seen + d * (tm->n_racks ? tm->n_racks : 1),
                            .skipped = skipped + d * (tm->n_nodes ? tm->n_nodes : 1)};
          memset(dcs[d].rack_seen, 0, (tm->n_racks ? tm->n_racks : 1) * sizeof(bool));
        }
        got = place_nts(tm, pos, dcs, out);
      }
      /* Every dc's quota is reachable (capped by its node count), so got == per_pos. */
      if (got != per_pos) ok = false;
    }
    free(dcs);
    free(seen);
    free(skipped);
  }
  free(want);
  free(nodes_in_dc);
  free(racks_in_dc);
  free(rack_counted);
  free(on_ring);
  char *name = ok ? strdup(keyspace) : NULL;
  if (!name) {
    free(replicas);
    return false;
  }
  for (size_t i = 0; i < tm->n_keyspaces; i++)
    if (strcmp(tm->keyspaces[i].name, keyspace) == 0) {
      free(tm->keyspaces[i].name);
      free(tm->keyspaces[i].replicas);
      tm->keyspaces[i] = (tm_keyspace){name, per_pos, replicas};
      return true;
    }
  tm_keyspace *grown = realloc(tm->keyspaces, (tm->n_keyspaces + 1) * sizeof(*grown));
  if (!grown) {
    free(name);
    free(replicas);
    return false;
  }
  tm->keyspaces = grown;
  tm->keyspaces[tm->n_keyspaces++] = (tm_keyspace){name, per_pos, replicas};
  return true;
}

const int *cql_token_map_replicas(const cql_token_map *tm, const char *keyspace, int64_t token,
                                  size_t *count) {
  *count = 0;
  if (!tm || !keyspace || tm->ring_len == 0) return NULL;
  const tm_keyspace *ks = NULL;
  for (size_t i = 0; i < tm->n_keyspaces && !ks; i++)
    if (strcmp(tm->keyspaces[i].name, keyspace) == 0) ks = &tm->keyspaces[i];
  if (!ks || ks->per_pos == 0) return NULL;
  /* first ring entry with token >= `token`, wrapping to 0 */
  size_t lo = 0, hi = tm->ring_len;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (tm->ring[mid].token < token)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == tm->ring_len) lo = 0;
  *count = ks->per_pos;
  return ks->replicas + lo * ks->per_pos;
}
