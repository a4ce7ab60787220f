/* store/metered: a store that forwards every operation to another one and observes how long
 * it took, from the call to its callback, in
 * messenger_store_operation_duration_seconds{store,operation} (operation = the vtable entry:
 * send_message, list_messages, list_conversations, get_conversation, mark_read, ping).
 *
 * Every operation of store_vtable must be forwarded here: a new entry without a forwarder
 * fails the unit test that checks every slot of the metered vtable is set.
 *
 * Ownership: the metered store owns `inner` (store_close closes it) and a small context per
 * operation in progress (freed when its callback returns). */
#ifndef MESSENGER_STORE_METERED_H
#define MESSENGER_STORE_METERED_H

#include "metrics/metrics.h"
#include "store/store.h"

/* Wraps `inner`, registering the histogram in `reg`. When reg is NULL (metrics off) or on
 * out of memory, returns `inner` itself, unwrapped. */
store *store_metered_wrap(store *inner, metrics_registry *reg);

#endif
