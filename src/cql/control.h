/* cql/control: the control connection (one per client).
 *
 * Connects to the first reachable contact point (later: any known host), negotiating the
 * protocol version (v5 first unless configured, down to v4 on the server's ProtocolError);
 * REGISTERs for TOPOLOGY_CHANGE, STATUS_CHANGE and SCHEMA_CHANGE; reads system.local,
 * system.peers_v2 (falling back to system.peers) and system_schema.keyspaces; and hands the
 * resulting hosts and token map to the client. Peer rows without host_id, data_center, tokens
 * or address are ignored; rpc_address 0.0.0.0 means "use the peer column". STATUS_CHANGE DOWN
 * marks the host down at once (its pool closes and retries after the backoff delay);
 * TOPOLOGY_CHANGE REMOVED_NODE removes it from the ring and closes its pool at once (the last
 * keyspaces rows are kept to rebuild the ring). Other events are acted on after event_delay_ms
 * (debounced): topology/schema changes re-read the tables, UP also retries the pools of hosts
 * that are down. When the control connection is lost it reconnects with exponential backoff;
 * if every contact point rejects the credentials, connecting fails with CQL_ERR_AUTH (and later
 * rounds keep to the backoff: no reconnect storm). Owned by the client; cql_control_close frees it from the
 * loop. The functions are declared in cql/client_internal.h. */
#ifndef MESSENGER_CQL_CONTROL_H
#define MESSENGER_CQL_CONTROL_H

#include "cql/client_internal.h"

#endif
