/* A native sprout function: answers {"message":"hello from C","bytes":N}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sprout/native.h"

static int initialized_value;

int sprout_init(void) {
  initialized_value = 42; /* runs once, in the function snapshot */
  return 0;
}

int sprout_handler(const sprout_context* context, const char* payload, size_t payload_size,
                   sprout_buffer* response) {
  (void)payload;
  char* out = malloc(256);
  if (!out) return 1;
  int n = snprintf(out, 256,
                   "{\"message\":\"hello from C\",\"bytes\":%zu,\"init\":%d,\"function\":\"%s\"}",
                   payload_size, initialized_value, context->function_name);
  response->data = out;
  response->size = (size_t)n;
  return 0;
}
