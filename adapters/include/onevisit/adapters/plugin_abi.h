/* The C ABI of onevisit adapter plugins (version 1).
 *
 * A plugin is a shared library that exports one function,
 *
 *     const onevisit_plugin* onevisit_plugin_entry(void);
 *
 * returning a static table. Only C types cross the boundary, so a plugin built with another
 * compiler or language (C, C++, Rust, Go with cgo) loads as long as it follows this header.
 * The engine calls `create` once per configured system with the system's settings as a JSON
 * object, `submit` for every call (possibly from several threads at once: make it safe), and
 * `destroy` at shutdown. Strings are UTF-8 and NUL-terminated; the plugin must not keep the
 * pointers it is given after a call returns. docs/plugins.md is the guide.
 */
#ifndef ONEVISIT_ADAPTERS_PLUGIN_ABI_H
#define ONEVISIT_ADAPTERS_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ONEVISIT_PLUGIN_ABI_VERSION 1u

typedef struct onevisit_call {
  const char* idempotency_key; /* the same on every attempt of this call */
  const char* case_id;
  const char* department;
  const char* system;    /* the adapter name the workflow gave the department */
  const char* operation; /* e.g. "submit" */
  const char* payload;   /* JSON */
  int32_t attempt;       /* 1 for the first attempt */
} onevisit_call;

typedef enum onevisit_status {
  ONEVISIT_DELIVERED = 0, /* the department has it (also when it had it already) */
  ONEVISIT_RETRY = 1,     /* a passing failure: try again later */
  ONEVISIT_REJECTED = 2   /* refused for good: park the call for a clerk */
} onevisit_status;

typedef struct onevisit_plugin {
  uint32_t abi_version; /* ONEVISIT_PLUGIN_ABI_VERSION */
  const char* name;
  /* Returns an instance, or NULL after writing a reason into `error` (NUL-terminated). */
  void* (*create)(const char* settings_json, char* error, size_t error_size);
  /* Delivers one call; may write a message (NUL-terminated) into `message`. */
  onevisit_status (*submit)(void* instance, const onevisit_call* call, char* message, size_t message_size);
  void (*destroy)(void* instance);
} onevisit_plugin;

typedef const onevisit_plugin* (*onevisit_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif
