/* cql/control: the control connection (one per client).
 *
 * Connects to the first reachable contact point (later: any known host), negotiating the
 * protocol version (v5 first unless configured, down to v4 on the server's ProtocolError);
 * REGISTERs for TOPOLOGY_CHANGE, STATUS_CHANGE and SCHEMA_CHANGE; reads system.local,
 * system.peers_v2 (falling back to system.peers) and system_schema.keyspaces; and hands the
 * resulting hosts and token map to the client. Peer rows without host_id, data_center, tokens
 * or address are ignored; rpc_address 0.0.0.0 means "use the peer column". Events are acted on
 * after event_delay_ms (debounced): topology/schema changes re-read the tables, UP also retries
 * the pools of hosts that are down. When the control connection is lost it reconnects with
 * exponential backoff. Owned by the client; cql_control_close frees it from the loop.
 * The functions are declared in cql/client_internal.h. */
#ifndef MESSENGER_CQL_CONTROL_H
#define MESSENGER_CQL_CONTROL_H

#include "cql/client_internal.h"

#endif
