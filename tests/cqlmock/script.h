/* cqlmock scripts: the JSON form of a cluster config and of primes, and the one-line control
 * commands of the standalone `cqlmock` binary (see main.c for the syntax).
 *
 * Ownership: cqlmock_script_config() fills cfg with pointers into `doc`, so doc must outlive
 * cqlmock_start(cfg) (which copies them). Everything else copies what it needs. */
#ifndef MESSENGER_TESTS_CQLMOCK_SCRIPT_H
#define MESSENGER_TESTS_CQLMOCK_SCRIPT_H

#include <jansson.h>
#include <stddef.h>

#include "cqlmock.h"

/* {"nodes": 3, "port": 0, "first_host": 1, "cluster_name": "..", "username": "..", "password": "..",
 *  "keyspace": "..", "replication": "{'class': ..}", "min_protocol_version": 4,
 *  "max_protocol_version": 4, "node_config": [{"datacenter": "..", "rack": "..", "tokens": ".."}]}
 * Unknown keys are ignored (so "primes" may sit in the same document). 0 or -1 (err filled). */
int cqlmock_script_config(json_t *doc, cqlmock_config *cfg, char *err, size_t err_size);

/* One prime: {"query": "..", "match": "exact|prefix|any", "on": ["query", "execute", "prepare",
 *  "batch"], "node": 0, "times": 1, "delay_ms": 0, "keyspace": "ks", "table": "t",
 *  "columns": [["name", "type"], ..], "rows": [[cell, ..], ..], "params": [["name", "type"], ..],
 *  "pk_indexes": [0], "result": "rows|void|set_keyspace|schema_change|error|unavailable|
 *  read_timeout|write_timeout|already_exists|unprepared|close|no_answer", "code": 8704,
 *  "message": "..", "consistency": "QUORUM", "required": 3, "alive": 1, "received": 1,
 *  "blockfor": 2, "data_present": false, "write_type": "SIMPLE", "change": "CREATED",
 *  "target": "TABLE", "name": "t"}. Cells: JSON scalars, null, or arrays/objects for
 * collections. Adds it to m; 0 or -1 (err filled). */
int cqlmock_script_prime(cqlmock *m, json_t *prime, char *err, size_t err_size);

/* Runs one control command line; writes a one-line answer ("ok ..." / "error ...") into
 * reply. Returns 1 for "quit", 0 otherwise. */
int cqlmock_script_command(cqlmock *m, const char *line, char *reply, size_t reply_size);

#endif
