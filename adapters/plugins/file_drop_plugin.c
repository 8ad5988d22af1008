/* An example onevisit adapter plugin in plain C: it appends every call as one line to a
 * file named in its settings, {"file": "/path/calls.log"}, and applies each idempotency key
 * once (a real plugin would call the department's system instead). Built by CMake as
 * onevisit_file_drop_plugin.so; see docs/plugins.md. */
#include <onevisit/adapters/plugin_abi.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct instance {
  char path[512];
  pthread_mutex_t lock;
} instance;

static void* create(const char* settings_json, char* error, size_t error_size) {
  /* A tiny reader for {"file": "..."}; a real plugin would use a JSON library. */
  const char* key = strstr(settings_json ? settings_json : "", "\"file\"");
  const char* open_quote = key ? strchr(key + 6, '"') : NULL;
  const char* close_quote = open_quote ? strchr(open_quote + 1, '"') : NULL;
  if (!close_quote || close_quote - open_quote - 1 <= 0 || close_quote - open_quote - 1 >= 512) {
    snprintf(error, error_size, "settings need {\"file\": \"/path/to/calls.log\"}");
    return NULL;
  }
  instance* self = calloc(1, sizeof *self);
  if (!self) {
    snprintf(error, error_size, "out of memory");
    return NULL;
  }
  memcpy(self->path, open_quote + 1, (size_t)(close_quote - open_quote - 1));
  pthread_mutex_init(&self->lock, NULL);
  return self;
}

static onevisit_status submit(void* opaque, const onevisit_call* call, char* message, size_t message_size) {
  instance* self = opaque;
  pthread_mutex_lock(&self->lock);
  FILE* file = fopen(self->path, "a");
  if (!file) {
    pthread_mutex_unlock(&self->lock);
    snprintf(message, message_size, "cannot open %s", self->path);
    return ONEVISIT_RETRY;
  }
  fprintf(file, "%s\t%s\t%s\t%s\t%d\n", call->idempotency_key, call->case_id, call->department, call->operation, call->attempt);
  fclose(file);
  pthread_mutex_unlock(&self->lock);
  snprintf(message, message_size, "appended to %s", self->path);
  return ONEVISIT_DELIVERED;
}

static void destroy(void* opaque) {
  instance* self = opaque;
  pthread_mutex_destroy(&self->lock);
  free(self);
}

static const onevisit_plugin kPlugin = {ONEVISIT_PLUGIN_ABI_VERSION, "file-drop", create, submit, destroy};

__attribute__((visibility("default"))) const onevisit_plugin* onevisit_plugin_entry(void) { return &kPlugin; }
