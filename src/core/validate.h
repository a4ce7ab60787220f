/* core/validate: the domain's input rules, shared by the API and the stores.
 *
 * Limits are the documented defaults of API.md. Nothing allocates. */
#ifndef MESSENGER_CORE_VALIDATE_H
#define MESSENGER_CORE_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONTENT_MAX_CODE_POINTS 4096
#define PAGE_LIMIT_DEFAULT      20
#define PAGE_LIMIT_MAX          100
#define IDEMPOTENCY_KEY_MAX     128

/* Number of Unicode code points in valid UTF-8 text, or -1 if the bytes are not valid UTF-8
 * (overlongs, surrogates and values above U+10FFFF are invalid). */
long utf8_code_points(const char *text, size_t len);

/* 1..IDEMPOTENCY_KEY_MAX visible ASCII characters (0x21..0x7e). */
bool idempotency_key_is_valid(const char *key, size_t len);

/* The two users of a conversation in canonical order: *low < *high. False when a == b. */
bool conversation_pair(int64_t a, int64_t b, int64_t *low, int64_t *high);

#endif
