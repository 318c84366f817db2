/* sprout native function ABI, version 1.
 *
 * A native function is a shared object with this entry point:
 *
 *   int sprout_handler(const sprout_context* context,
 *                      const char* payload, size_t payload_size,
 *                      sprout_buffer* response);
 *
 * Return 0 and fill `response` with the result (any bytes; JSON by
 * convention), or return non-zero and fill `response` with an error message:
 * the invocation then ends as FUNCTION_ERROR. `response->data` must come from
 * malloc(); sprout frees it.
 *
 * Optional, run once in the function snapshot before any invocation (the
 * "init phase"; global state set here is seen by every invocation):
 *
 *   int sprout_init(void);      non-zero fails the deploy with INIT_ERROR
 *
 * Each invocation runs in a fresh sandbox forked from the snapshot: what one
 * invocation changes in memory is never seen by the next.
 */
#ifndef SPROUT_NATIVE_H_
#define SPROUT_NATIVE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPROUT_NATIVE_ABI_VERSION 1

typedef struct sprout_context {
  uint32_t abi_version; /* SPROUT_NATIVE_ABI_VERSION */
  const char* function_name;
  const char* function_version;
  const char* request_id;
  uint32_t memory_limit_mb;
  uint64_t deadline_monotonic_ns; /* CLOCK_MONOTONIC at which the call is killed */
} sprout_context;

typedef struct sprout_buffer {
  char* data; /* malloc()ed by the function */
  size_t size;
} sprout_buffer;

typedef int (*sprout_handler_fn)(const sprout_context* context, const char* payload,
                                 size_t payload_size, sprout_buffer* response);
typedef int (*sprout_init_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* SPROUT_NATIVE_H_ */
