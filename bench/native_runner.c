/* The "plain process" peer of native functions: load the shared object, call
 * sprout_handler once with stdin as payload, print the result. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "sprout/native.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  void* library = dlopen(argv[1], RTLD_NOW);
  if (!library) {
    fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  sprout_init_fn init = (sprout_init_fn)dlsym(library, "sprout_init");
  if (init && init() != 0) return 1;
  sprout_handler_fn handler = (sprout_handler_fn)dlsym(library, "sprout_handler");
  if (!handler) return 1;
  char payload[4096];
  size_t size = fread(payload, 1, sizeof payload, stdin);
  sprout_context context = {SPROUT_NATIVE_ABI_VERSION, "peer", "1", "peer", 128, 0};
  sprout_buffer response = {0, 0};
  int rc = handler(&context, payload, size, &response);
  fwrite(response.data, 1, response.size, stdout);
  free(response.data);
  return rc;
}
