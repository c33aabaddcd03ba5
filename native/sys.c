// skiff_sys: the few Linux syscalls Node's fs lacks and skiff needs on the job
// start path (mount/umount2). Spawning mount(8) forks the whole Node process,
// which costs milliseconds per call; the syscall costs microseconds.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

static char *get_string(napi_env env, napi_value v, int *is_null) {
  napi_valuetype t;
  *is_null = 0;
  if (napi_typeof(env, v, &t) != napi_ok) return NULL;
  if (t == napi_null || t == napi_undefined) {
    *is_null = 1;
    return NULL;
  }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static napi_value throw_errno(napi_env env, const char *call, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", call, strerror(err));
  napi_value code, message, error;
  const char *name = err == EBUSY ? "EBUSY" : err == EINVAL ? "EINVAL" : err == ENOENT ? "ENOENT" : err == EPERM ? "EPERM" : err == ENOTDIR ? "ENOTDIR" : "ERRNO";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_value errnum;
  napi_create_int32(env, err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  napi_throw(env, error);
  return NULL;
}

// mount(source | null, target, fstype | null, flags, data | null)
static napi_value Mount(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "mount(source, target, fstype, flags, data)");
    return NULL;
  }
  int n1, n2, n3, n5;
  char *source = get_string(env, argv[0], &n1);
  char *target = get_string(env, argv[1], &n2);
  char *fstype = get_string(env, argv[2], &n3);
  char *data = get_string(env, argv[4], &n5);
  double flags = 0;
  napi_get_value_double(env, argv[3], &flags);
  int rc = target ? mount(source, target, fstype, (unsigned long)flags, data) : -1;
  int err = target ? errno : EINVAL;
  free(source);
  free(target);
  free(fstype);
  free(data);
  if (rc != 0) return throw_errno(env, "mount", err);
  return NULL;
}

// umount2(target, flags)
static napi_value Umount2(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int is_null;
  char *target = argc > 0 ? get_string(env, argv[0], &is_null) : NULL;
  int32_t flags = 0;
  if (argc > 1) napi_get_value_int32(env, argv[1], &flags);
  if (!target) {
    napi_throw_type_error(env, NULL, "umount2(target, flags)");
    return NULL;
  }
  int rc = umount2(target, flags);
  int err = errno;
  free(target);
  if (rc != 0) return throw_errno(env, "umount2", err);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"mount", NULL, Mount, NULL, NULL, NULL, napi_default, NULL},
      {"umount2", NULL, Umount2, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
