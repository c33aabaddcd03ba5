// skiff_sys: the few Linux syscalls Node lacks and skiff needs on the job start
// path. Spawning mount(8) forks the whole Node process, which costs milliseconds
// per call; the syscall costs microseconds. Node's child_process.spawn forks too
// (libuv 1.46 uses fork(2) on Linux), so copying the page tables of a daemon with
// a few hundred MiB mapped blocks the event loop for 1-3 ms per job; posix_spawn
// uses clone(CLONE_VM|CLONE_VFORK), whose cost does not grow with the parent.
// Slow calls (mount, umount2, waitpid, rm -rf, posix_spawn) run on the libuv
// thread pool and settle promises.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/falloc.h>
#include <malloc.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sched.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <ftw.h>
#include <unistd.h>

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

static const char *errno_name(int err) {
  switch (err) {
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case EPERM: return "EPERM";
    case ENOTDIR: return "ENOTDIR";
    case EAGAIN: return "EAGAIN";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EPIPE: return "EPIPE";
    case EBADF: return "EBADF";
    case ECHILD: return "ECHILD";
    case EACCES: return "EACCES";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOTEMPTY: return "ENOTEMPTY";
    case EEXIST: return "EEXIST";
    case ENOTTY: return "ENOTTY";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EDQUOT: return "EDQUOT";
    case ENOSPC: return "ENOSPC";
    case ENOTCONN: return "ENOTCONN";
    case EMSGSIZE: return "EMSGSIZE";
    case ETIMEDOUT: return "ETIMEDOUT";
    default: return "ERRNO";
  }
}

static napi_value errno_error(napi_env env, const char *call, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", call, strerror(err));
  napi_value code, message, error, errnum;
  napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  return error;
}

static napi_value throw_errno(napi_env env, const char *call, int err) {
  napi_throw(env, errno_error(env, call, err));
  return NULL;
}

// ---- work on the thread pool, settled as a promise ----------------------------
// Every promise-returning call (the job_t ops, spawn, consoleReceive) keeps an
// async_t in its job struct: async_queue makes the promise and queues the work,
// and its complete callback ends with async_resolve or async_reject, which settle
// the promise and release the work (the caller then frees its job).

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
} async_t;

// `name` is the async resource name async_hooks reports
static napi_value async_queue(napi_env env, async_t *a, const char *name, napi_async_execute_callback execute,
                              napi_async_complete_callback complete, void *job) {
  napi_value promise, resource;
  napi_create_promise(env, &a->deferred, &promise);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource);
  napi_create_async_work(env, NULL, resource, execute, complete, job, &a->work);
  napi_queue_async_work(env, a->work);
  return promise;
}

// value NULL: resolve with undefined
static void async_resolve(napi_env env, async_t *a, napi_value value) {
  if (!value) napi_get_undefined(env, &value);
  napi_resolve_deferred(env, a->deferred, value);
  napi_delete_async_work(env, a->work);
}

static void async_reject(napi_env env, async_t *a, const char *call, int err) {
  napi_reject_deferred(env, a->deferred, errno_error(env, call, err));
  napi_delete_async_work(env, a->work);
}

// The error a complete callback settles with: the work's own, else ECANCELED when
// the work never ran (napi_cancelled is the only status other than napi_ok).
static int async_errno(napi_status status, int err) { return status != napi_ok && !err ? ECANCELED : err; }

typedef struct {
  async_t async;
  int op;  // OP_*
  char *a, *b, *c, *d;
  unsigned long flags;
  int pid;
  unsigned long long u64;
  int rc, err, status;
} job_t;

enum { OP_MOUNT, OP_UMOUNT2, OP_WAITPID, OP_RMTREE, OP_NETNS, OP_SUBVOL_CREATE, OP_SUBVOL_DELETE, OP_QGROUP_LIMIT, OP_QGROUP_DESTROY };

static void job_free(job_t *j) {
  free(j->a);
  free(j->b);
  free(j->c);
  free(j->d);
  free(j);
}

// nftw callback for rm -rf: depth-first, never following symlinks and never
// entering another filesystem (a mount left inside a container dir stays intact,
// and the rmdir of its parent then fails instead of deleting through it).
static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st;
  (void)ftw;
  int rc = (type == FTW_DP || type == FTW_D) ? rmdir(path) : unlink(path);
  return rc < 0 && errno != ENOENT ? errno : 0;
}

// A persistent network namespace at `path`, as `ip netns add` makes one, without
// a fork: this pool thread unshares its own netns (namespaces are per thread),
// brings lo up in it, bind-mounts /proc/thread-self/ns/net onto `path` (which
// keeps it alive with no process in it) and goes back to the netns it came from.
// A thread that cannot go back must not run other pool jobs in the wrong netns.
static int netns_create(const char *path) {
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return -1;
  int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) {
    int e = errno;
    close(self);
    errno = e;
    return -1;
  }
  close(fd);
  int rc = unshare(CLONE_NEWNET), e = 0;
  if (rc == 0) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    rc = s < 0 ? -1 : ioctl(s, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
      ifr.ifr_flags |= IFF_UP;
      rc = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    e = rc < 0 ? errno : 0;
    if (s >= 0) close(s);
    if (rc == 0) {
      rc = mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL);
      e = rc < 0 ? errno : 0;
    }
    if (setns(self, CLONE_NEWNET) < 0) abort();
  } else {
    e = errno;
  }
  close(self);
  if (rc < 0) {
    unlink(path);
    errno = e;
  }
  return rc;
}

// ---- btrfs: a job's writable layer as a subvolume with a qgroup limit ----------
// The kernel enforces the limit (EDQUOT in the job) and keeps it on disk, so it
// holds with the daemon gone; all of it is ioctls on an open dir, no btrfs(8).

static int open_dir(const char *path) { return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC); }

// create (or, with destroy, delete) subvolume `name` in dir `parent`
static int subvol_op(const char *parent, const char *name, int destroy) {
  struct btrfs_ioctl_vol_args args;
  if (strlen(name) > BTRFS_PATH_NAME_MAX || strchr(name, '/')) {
    errno = EINVAL;
    return -1;
  }
  int fd = open_dir(parent);
  if (fd < 0) return -1;
  memset(&args, 0, sizeof args);
  strcpy(args.name, name);
  int rc = ioctl(fd, destroy ? BTRFS_IOC_SNAP_DESTROY : BTRFS_IOC_SUBVOL_CREATE, &args);
  int e = errno;
  close(fd);
  errno = e;
  return rc;
}

// max referenced bytes of the subvolume `path` is in; (u64)-1 clears the limit
static int qgroup_limit(const char *path, unsigned long long bytes) {
  struct btrfs_ioctl_qgroup_limit_args args;
  int fd = open_dir(path);
  if (fd < 0) return -1;
  memset(&args, 0, sizeof args);
  args.qgroupid = 0;  // 0: the subvolume of fd
  args.lim.flags = BTRFS_QGROUP_LIMIT_MAX_RFER;
  args.lim.max_rfer = bytes;
  int rc = ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &args);
  int e = errno;
  close(fd);
  errno = e;
  return rc;
}

static int qgroup_destroy(const char *path, unsigned long long id) {
  struct btrfs_ioctl_qgroup_create_args args;
  int fd = open_dir(path);
  if (fd < 0) return -1;
  memset(&args, 0, sizeof args);
  args.create = 0;
  args.qgroupid = id;
  int rc = ioctl(fd, BTRFS_IOC_QGROUP_CREATE, &args);
  int e = errno;
  close(fd);
  errno = e;
  return rc;
}

static void job_execute(napi_env env, void *data) {
  (void)env;
  job_t *j = data;
  switch (j->op) {
    case OP_MOUNT:
      j->rc = mount(j->a, j->b, j->c, j->flags, j->d);
      break;
    case OP_UMOUNT2:
      j->rc = umount2(j->b, (int)j->flags);
      break;
    case OP_RMTREE: {
      int r = nftw(j->b, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
      if (r > 0) {
        errno = r;
        j->rc = -1;
      } else if (r < 0 && errno == ENOENT) {
        j->rc = 0;
      } else {
        j->rc = r;
      }
      break;
    }
    case OP_WAITPID:
      do j->rc = waitpid(j->pid, &j->status, 0);
      while (j->rc < 0 && errno == EINTR);
      break;
    case OP_NETNS:
      j->rc = netns_create(j->b);
      break;
    case OP_SUBVOL_CREATE:
    case OP_SUBVOL_DELETE:
      j->rc = subvol_op(j->b, j->c, j->op == OP_SUBVOL_DELETE);
      break;
    case OP_QGROUP_LIMIT:
      j->rc = qgroup_limit(j->b, j->u64);
      break;
    case OP_QGROUP_DESTROY:
      j->rc = qgroup_destroy(j->b, j->u64);
      break;
  }
  j->err = j->rc < 0 ? errno : 0;
}

static void job_complete(napi_env env, napi_status status, void *data) {
  job_t *j = data;
  static const char *names[] = {"mount", "umount2", "waitpid", "rmtree", "netnsCreate", "subvolCreate", "subvolDelete", "qgroupLimit", "qgroupDestroy"};
  if (status != napi_ok) {
    async_reject(env, &j->async, names[j->op], ECANCELED);
  } else if (j->rc < 0) {
    async_reject(env, &j->async, names[j->op], j->err);
  } else if (j->op == OP_WAITPID) {
    // the exit code, or 128 + signal as shells report it
    napi_value v;
    int code = WIFEXITED(j->status) ? WEXITSTATUS(j->status) : WIFSIGNALED(j->status) ? 128 + WTERMSIG(j->status) : -1;
    napi_create_int32(env, code, &v);
    async_resolve(env, &j->async, v);
  } else {
    async_resolve(env, &j->async, NULL);
  }
  job_free(j);
}

static napi_value usage_error(napi_env env, job_t *j, const char *usage) {
  job_free(j);
  napi_throw_type_error(env, NULL, usage);
  return NULL;
}

static napi_value queue_job(napi_env env, job_t *j) { return async_queue(env, &j->async, "skiff_sys", job_execute, job_complete, j); }

// mount(source | null, target, fstype | null, flags, data | null): Promise<void>
static napi_value Mount(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "mount(source, target, fstype, flags, data)");
    return NULL;
  }
  job_t *j = calloc(1, sizeof *j);
  int n;
  j->op = OP_MOUNT;
  j->a = get_string(env, argv[0], &n);
  j->b = get_string(env, argv[1], &n);
  j->c = get_string(env, argv[2], &n);
  j->d = get_string(env, argv[4], &n);
  double flags = 0;
  napi_get_value_double(env, argv[3], &flags);
  j->flags = (unsigned long)flags;
  if (!j->b) return usage_error(env, j, "mount: target must be a string");
  return queue_job(env, j);
}

// umount2(target, flags): Promise<void>
static napi_value Umount2(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int is_null;
  job_t *j = calloc(1, sizeof *j);
  j->op = OP_UMOUNT2;
  j->b = argc > 0 ? get_string(env, argv[0], &is_null) : NULL;
  int32_t flags = 0;
  if (argc > 1) napi_get_value_int32(env, argv[1], &flags);
  j->flags = (unsigned long)flags;
  if (!j->b) return usage_error(env, j, "umount2(target, flags)");
  return queue_job(env, j);
}

// waitpid(pid): Promise<number> — reaps a child started by spawn()
static napi_value Waitpid(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  job_t *j = calloc(1, sizeof *j);
  j->op = OP_WAITPID;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &j->pid) != napi_ok || j->pid <= 0) return usage_error(env, j, "waitpid(pid)");
  return queue_job(env, j);
}

// rmtree(path): Promise<void> — rm -rf in one thread-pool job instead of an
// async call per entry; a missing path is not an error
static napi_value Rmtree(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int is_null;
  job_t *j = calloc(1, sizeof *j);
  j->op = OP_RMTREE;
  j->b = argc > 0 ? get_string(env, argv[0], &is_null) : NULL;
  if (!j->b || j->b[0] != '/') return usage_error(env, j, "rmtree(absolutePath)");
  return queue_job(env, j);
}

// netnsCreate(path): Promise<void> — a new network namespace with lo up, bound at
// `path` (which must not exist); removed with umount2(path, MNT_DETACH) + unlink
static napi_value NetnsCreate(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int is_null;
  job_t *j = calloc(1, sizeof *j);
  j->op = OP_NETNS;
  j->b = argc > 0 ? get_string(env, argv[0], &is_null) : NULL;
  if (!j->b || j->b[0] != '/') return usage_error(env, j, "netnsCreate(absolutePath)");
  return queue_job(env, j);
}

// subvolCreate(parent, name) / subvolDelete(parent, name): Promise<void>
static napi_value subvol_call(napi_env env, napi_callback_info info, int op, const char *usage) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int is_null;
  job_t *j = calloc(1, sizeof *j);
  j->op = op;
  j->b = argc > 0 ? get_string(env, argv[0], &is_null) : NULL;
  j->c = argc > 1 ? get_string(env, argv[1], &is_null) : NULL;
  if (!j->b || j->b[0] != '/' || !j->c || !j->c[0]) return usage_error(env, j, usage);
  return queue_job(env, j);
}
static napi_value SubvolCreate(napi_env env, napi_callback_info info) { return subvol_call(env, info, OP_SUBVOL_CREATE, "subvolCreate(absoluteParent, name)"); }
static napi_value SubvolDelete(napi_env env, napi_callback_info info) { return subvol_call(env, info, OP_SUBVOL_DELETE, "subvolDelete(absoluteParent, name)"); }

// qgroupLimit(path, bytes | null): Promise<void> — null clears the limit
// qgroupDestroy(pathOnFs, qgroupId): Promise<void>
static napi_value qgroup_call(napi_env env, napi_callback_info info, int op, const char *usage) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int is_null;
  job_t *j = calloc(1, sizeof *j);
  j->op = op;
  j->b = argc > 0 ? get_string(env, argv[0], &is_null) : NULL;
  napi_valuetype t = napi_undefined;
  if (argc > 1) napi_typeof(env, argv[1], &t);
  double v = 0;
  if (t == napi_number) napi_get_value_double(env, argv[1], &v);
  if (!j->b || j->b[0] != '/' || (t != napi_number && !(op == OP_QGROUP_LIMIT && t == napi_null)) || v < 0) return usage_error(env, j, usage);
  j->u64 = t == napi_null ? (unsigned long long)-1 : (unsigned long long)v;
  return queue_job(env, j);
}
static napi_value QgroupLimit(napi_env env, napi_callback_info info) { return qgroup_call(env, info, OP_QGROUP_LIMIT, "qgroupLimit(absolutePath, bytes | null)"); }
static napi_value QgroupDestroy(napi_env env, napi_callback_info info) { return qgroup_call(env, info, OP_QGROUP_DESTROY, "qgroupDestroy(absolutePath, qgroupId)"); }

// btrfsInfo(path): { fsid, subvolId } — synchronous: two ioctls that read in-memory state
static napi_value BtrfsInfo(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int is_null;
  char *path = argc > 0 ? get_string(env, argv[0], &is_null) : NULL;
  if (!path || path[0] != '/') {
    free(path);
    napi_throw_type_error(env, NULL, "btrfsInfo(absolutePath)");
    return NULL;
  }
  int fd = open_dir(path);
  free(path);
  if (fd < 0) return throw_errno(env, "btrfsInfo", errno);
  struct btrfs_ioctl_fs_info_args fi;
  struct btrfs_ioctl_ino_lookup_args il;
  memset(&fi, 0, sizeof fi);
  memset(&il, 0, sizeof il);
  il.objectid = BTRFS_FIRST_FREE_OBJECTID;  // treeid 0 in: the tree (subvolume) of fd out
  if (ioctl(fd, BTRFS_IOC_FS_INFO, &fi) < 0 || ioctl(fd, BTRFS_IOC_INO_LOOKUP, &il) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "btrfsInfo", e);
  }
  close(fd);
  char uuid[37];
  const unsigned char *u = fi.fsid;
  snprintf(uuid, sizeof uuid, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  napi_value out, v;
  napi_create_object(env, &out);
  napi_create_string_utf8(env, uuid, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, out, "fsid", v);
  napi_create_double(env, (double)il.treeid, &v);
  napi_set_named_property(env, out, "subvolId", v);
  return out;
}

// ---- spawn ---------------------------------------------------------------------

static char **get_string_array(napi_env env, napi_value arr) {
  uint32_t n = 0;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return NULL;
  char **out = calloc(n + 1, sizeof(char *));
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    int is_null;
    napi_get_element(env, arr, i, &v);
    out[i] = get_string(env, v, &is_null);
    if (!out[i]) out[i] = strdup("");
  }
  return out;
}

static void free_string_array(char **a) {
  if (!a) return;
  for (char **p = a; *p; p++) free(*p);
  free(a);
}

typedef struct {
  async_t async;
  char *file, *cwd, *stdin_path;
  char **args, **envp;
  int n, child_fd[8], rd[8], wr[8];
  pid_t pid;
  int err;
} spawn_t;

static void spawn_execute(napi_env env, void *data) {
  (void)env;
  spawn_t *j = data;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, j->stdin_path ? j->stdin_path : "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  // dup2 clears O_CLOEXEC on the target; the originals close on exec
  int top = 2;
  for (int i = 0; i < j->n; i++) {
    posix_spawn_file_actions_adddup2(&fa, j->wr[i], j->child_fd[i]);
    if (j->child_fd[i] > top) top = j->child_fd[i];
  }
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
  // an fd some library opened without O_CLOEXEC must not live on in a monitor
  // that outlives us (it would hold pipes and sockets of the daemon open)
  posix_spawn_file_actions_addclosefrom_np(&fa, top + 1);
#endif
  if (j->cwd) posix_spawn_file_actions_addchdir_np(&fa, j->cwd);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
  j->err = posix_spawn(&j->pid, j->file, &fa, &attr, j->args, j->envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  for (int i = 0; i < j->n; i++) close(j->wr[i]);
}

static void spawn_free(spawn_t *j) {
  free(j->file);
  free(j->cwd);
  free(j->stdin_path);
  free_string_array(j->args);
  free_string_array(j->envp);
  free(j);
}

static void spawn_complete(napi_env env, napi_status status, void *data) {
  spawn_t *j = data;
  int err = async_errno(status, j->err);
  if (err) {
    for (int i = 0; i < j->n; i++) close(j->rd[i]);
    async_reject(env, &j->async, "posix_spawn", err);
  } else {
    napi_value result, vpid, fds;
    napi_create_object(env, &result);
    napi_create_int32(env, j->pid, &vpid);
    napi_set_named_property(env, result, "pid", vpid);
    napi_create_array_with_length(env, j->n, &fds);
    for (int i = 0; i < j->n; i++) {
      napi_value v;
      napi_create_int32(env, j->rd[i], &v);
      napi_set_element(env, fds, i, v);
    }
    napi_set_named_property(env, result, "fds", fds);
    async_resolve(env, &j->async, result);
  }
  spawn_free(j);
}

// spawn(file, argv[], envp[], cwd | null, pipeFds[], stdinPath?): Promise<{pid, fds[]}>
// On the thread pool: the calling thread is suspended until the child execs.
// The child gets /dev/null (or the file stdinPath) on 0, /dev/null on 1, a new session, default signal
// dispositions and an empty signal mask (Node ignores SIGPIPE, and an ignored
// disposition would survive exec). Each child fd in pipeFds is the write end of
// a new pipe whose read end (O_CLOEXEC) is returned in the same order. The caller
// must reap the child with waitpid(): libuv only reaps the children it spawned.
static napi_value Spawn(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "spawn(file, argv, envp, cwd, pipeFds, stdinPath?)");
    return NULL;
  }
  int is_null;
  spawn_t *j = calloc(1, sizeof *j);
  j->file = get_string(env, argv[0], &is_null);
  if (argc > 5) j->stdin_path = get_string(env, argv[5], &is_null);
  j->args = get_string_array(env, argv[1]);
  j->envp = get_string_array(env, argv[2]);
  j->cwd = get_string(env, argv[3], &is_null);
  uint32_t npipes = 0;
  napi_get_array_length(env, argv[4], &npipes);
  int err = j->file && j->args && j->envp && npipes <= 8 ? 0 : EINVAL;
  for (uint32_t i = 0; i < npipes && !err; i++) {
    napi_value v;
    napi_get_element(env, argv[4], i, &v);
    napi_get_value_int32(env, v, &j->child_fd[i]);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) {
      err = errno;
      break;
    }
    j->rd[i] = p[0];
    j->wr[i] = p[1];
    j->n++;
  }
  if (err) {
    for (int i = 0; i < j->n; i++) {
      close(j->rd[i]);
      close(j->wr[i]);
    }
    spawn_free(j);
    return throw_errno(env, "spawn", err);
  }
  return async_queue(env, &j->async, "skiff_spawn", spawn_execute, spawn_complete, j);
}

// ---- unix sockets: shared by the attach and the console socket -------------------

// A path too long for sockaddr_un is reached through /proc/self/fd/<dir>; *dirfd
// is then an fd the caller closes after the bind/connect.
static int unix_addr(const char *path, struct sockaddr_un *addr, int *dirfd) {
  *dirfd = -1;
  if (strlen(path) < sizeof addr->sun_path) {
    strcpy(addr->sun_path, path);
    return 0;
  }
  const char *slash = strrchr(path, '/');
  if (!slash || slash == path) return ENAMETOOLONG;
  char *dir = strndup(path, slash - path);
  *dirfd = open(dir, O_PATH | O_CLOEXEC | O_DIRECTORY);
  free(dir);
  if (*dirfd < 0) return errno;
  if ((size_t)snprintf(addr->sun_path, sizeof addr->sun_path, "/proc/self/fd/%d/%s", *dirfd, slash + 1) >= sizeof addr->sun_path) return ENAMETOOLONG;
  return 0;
}

typedef enum { UNIX_CONNECT, UNIX_LISTEN } unix_role;

// A unix socket of `type` (SOCK_CLOEXEC is added) connected to `path`, or bound
// and listening there: 0 and the fd in *out, or an errno.
static int unix_socket(const char *path, int type, unix_role role, int *out) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  int dirfd = -1, fd = -1;
  int err = unix_addr(path, &addr, &dirfd);
  if (!err) {
    fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0) err = errno;
    else if (role == UNIX_LISTEN ? bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 4) < 0
                                 : connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
      err = errno;
      close(fd);
    }
  }
  // only now: the /proc/self/fd/<dirfd> path must resolve during the bind/connect
  if (dirfd >= 0) close(dirfd);
  if (!err) *out = fd;
  return err;
}

// Waits until fd is readable (or at EOF or in error, which poll also reports):
// 0, ETIMEDOUT after timeout_ms (-1: no timeout), or poll's errno. Signals that
// interrupt the wait do not end it.
static int wait_readable(int fd, int timeout_ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int rc;
  do rc = poll(&p, 1, timeout_ms);
  while (rc < 0 && errno == EINTR);
  return rc < 0 ? errno : rc == 0 ? ETIMEDOUT : 0;
}

// ---- attach: a writer on conmon's attach socket ---------------------------------
//
// conmon (-i) copies everything it reads from an attach connection into the
// container's stdin, and closes that stdin when the connection reaches EOF. It
// also copies the container's output to every connection, with blocking writes:
// a connection nobody reads would stall the container's output. And if such a
// write fails, conmon 2.1.x frees the connection and then reads it again
// (terminate_remote_sock after remote_sock_shutdown), so it never closes stdin.
// Hence: one detached thread per connection reads and discards the output
// (skiff reads output from the log file), sends are non-blocking, EOF for the job
// is shutdown(SHUT_WR), and the fd is closed when both sides are done with it.
// Node's net only speaks SOCK_STREAM; this socket is SOCK_SEQPACKET.

typedef struct {
  pthread_mutex_t mu;
  int fd;
  int refs;   // the drain thread + the JS handle
  int gone;   // peer closed or failed
} attach_t;

static void attach_unref(attach_t *a) {
  pthread_mutex_lock(&a->mu);
  int left = --a->refs;
  if (!left && a->fd >= 0) {
    close(a->fd);
    a->fd = -1;
  }
  pthread_mutex_unlock(&a->mu);
  if (!left) {
    pthread_mutex_destroy(&a->mu);
    free(a);
  }
}

static void *attach_drain(void *arg) {
  attach_t *a = arg;
  char buf[64 * 1024];
  for (;;) {
    if (wait_readable(a->fd, -1)) break;
    ssize_t n = recv(a->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) break;
    if (n < 0 && errno != EAGAIN && errno != EINTR) break;
  }
  pthread_mutex_lock(&a->mu);
  a->gone = 1;
  pthread_mutex_unlock(&a->mu);
  attach_unref(a);
  return NULL;
}

static void attach_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  attach_t *a = data;
  pthread_mutex_lock(&a->mu);
  if (a->fd >= 0) shutdown(a->fd, SHUT_RDWR);  // wakes the drain thread
  pthread_mutex_unlock(&a->mu);
  attach_unref(a);
}

static attach_t *get_attach(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok) return NULL;
  return data;
}

// attachOpen(path): handle. A path too long for sockaddr_un goes through /proc/self/fd.
static napi_value AttachOpen(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int is_null;
  char *path = argc > 0 ? get_string(env, argv[0], &is_null) : NULL;
  if (!path) {
    napi_throw_type_error(env, NULL, "attachOpen(path)");
    return NULL;
  }
  int fd = -1;
  int err = unix_socket(path, SOCK_SEQPACKET | SOCK_NONBLOCK, UNIX_CONNECT, &fd);
  free(path);
  if (err) return throw_errno(env, "connect", err);
  attach_t *a = calloc(1, sizeof *a);
  pthread_mutex_init(&a->mu, NULL);
  a->fd = fd;
  a->refs = 2;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 128 * 1024);
  pthread_t t;
  err = pthread_create(&t, &attr, attach_drain, a);
  pthread_attr_destroy(&attr);
  if (err) {
    close(fd);
    pthread_mutex_destroy(&a->mu);
    free(a);
    return throw_errno(env, "pthread_create", err);
  }
  napi_value v;
  napi_create_external(env, a, attach_finalize, NULL, &v);
  return v;
}

// attachSend(handle, buffer): bytes sent, or throws (EAGAIN: the job's stdin is
// full; EPIPE: the job or its monitor is gone). One SEQPACKET message per call.
static napi_value AttachSend(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  attach_t *a = argc > 1 ? get_attach(env, argv[0]) : NULL;
  void *data = NULL;
  size_t len = 0;
  if (!a || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "attachSend(handle, buffer)");
    return NULL;
  }
  pthread_mutex_lock(&a->mu);
  ssize_t n = -1;
  int err = EPIPE;
  if (a->fd >= 0 && !a->gone) {
    n = send(a->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    err = errno;
  }
  pthread_mutex_unlock(&a->mu);
  if (n < 0) return throw_errno(env, "send", err);
  napi_value v;
  napi_create_int64(env, n, &v);
  return v;
}

// attachShutdown(handle, both): EOF for the job's stdin (SHUT_WR); with both,
// drop the connection entirely (the drain thread then closes it).
static napi_value AttachShutdown(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  attach_t *a = argc > 0 ? get_attach(env, argv[0]) : NULL;
  bool both = false;
  if (argc > 1) napi_get_value_bool(env, argv[1], &both);
  if (!a) {
    napi_throw_type_error(env, NULL, "attachShutdown(handle, both)");
    return NULL;
  }
  pthread_mutex_lock(&a->mu);
  if (a->fd >= 0) shutdown(a->fd, both ? SHUT_RDWR : SHUT_WR);
  pthread_mutex_unlock(&a->mu);
  return NULL;
}

// flockExclusive(fd): flock(fd, LOCK_EX | LOCK_NB). The lock belongs to the open
// file description, so the kernel drops it when the process dies (kill -9
// included) and no pid file can go stale. Throws EAGAIN (= EWOULDBLOCK) when held elsewhere.
static napi_value FlockExclusive(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "flockExclusive(fd)");
    return NULL;
  }
  int rc;
  do rc = flock(fd, LOCK_EX | LOCK_NB);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return throw_errno(env, "flock", errno);
  return NULL;
}

// punchHole(fd, offset, length): fallocate(PUNCH_HOLE | KEEP_SIZE): the blocks are
// freed, file positions stay. The log cap's compaction; fallocate(1) was a fork
// per compaction.
static napi_value PunchHole(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  int64_t off = -1, len = -1;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &off) != napi_ok ||
      napi_get_value_int64(env, argv[2], &len) != napi_ok || fd < 0 || off < 0 || len < 0) {
    napi_throw_type_error(env, NULL, "punchHole(fd, offset, length)");
    return NULL;
  }
  if (len == 0) return NULL;
  int rc;
  do rc = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return throw_errno(env, "fallocate", errno);
  return NULL;
}

// mallocTrim(): glibc keeps freed heap in its arenas (one per thread that allocated,
// the thread pool's included) and gives only the top of the main one back by itself.
// The daemon calls this when it goes idle; returns whether memory was released.
static napi_value MallocTrim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_get_boolean(env, malloc_trim(0) == 1, &r);
  return r;
}

// ---- console socket: a pseudo-terminal for exec -t ---------------------------------
//
// `crun exec --tty --console-socket PATH` makes the pty in the container and sends
// its master over PATH (one SCM_RIGHTS message), then waits for the command as a
// foreground exec does. Node cannot receive a file descriptor over a socket, so the
// listen, accept and recvmsg are here; the master is then an ordinary fd for Node
// (a TTY handle), and its window size is set with TIOCSWINSZ (setWinsize).

typedef struct {
  async_t async;
  int lfd, timeout_ms, fd, err;
} console_t;

static void console_execute(napi_env env, void *data) {
  (void)env;
  console_t *j = data;
  if ((j->err = wait_readable(j->lfd, j->timeout_ms))) return;
  int c = accept4(j->lfd, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0) {
    j->err = errno;
    return;
  }
  if ((j->err = wait_readable(c, j->timeout_ms))) {
    close(c);
    return;
  }
  char buf[256];
  union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } ctrl;
  struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.b, .msg_controllen = sizeof ctrl.b};
  ssize_t n;
  do n = recvmsg(c, &m, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) j->err = errno;
  for (struct cmsghdr *h = n < 0 ? NULL : CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
    if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS && h->cmsg_len >= CMSG_LEN(sizeof(int))) {
      memcpy(&j->fd, CMSG_DATA(h), sizeof(int));
      break;
    }
  // a connection without a descriptor: the caller woke us (its runtime exited first)
  if (j->fd < 0 && !j->err) j->err = ENOENT;
  close(c);
}

static void console_complete(napi_env env, napi_status status, void *data) {
  console_t *j = data;
  close(j->lfd);
  int err = async_errno(status, j->err);
  if (err) {
    if (j->fd >= 0) close(j->fd);
    async_reject(env, &j->async, "console socket", err);
  } else {
    napi_value v;
    napi_create_int32(env, j->fd, &v);
    async_resolve(env, &j->async, v);
  }
  free(j);
}

// consoleReceive(path, timeoutMs): Promise<fd>. Listens on `path` before it returns
// (so the runtime can be started right after), then on the thread pool accepts one
// connection and takes the descriptor it sends. A connection that sends none (the
// caller's own, once its runtime exited without connecting) rejects with ENOENT, a
// quiet socket with ETIMEDOUT. The caller unlinks `path`.
static napi_value ConsoleReceive(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int is_null;
  int32_t timeout = -1;
  char *path = argc > 0 ? get_string(env, argv[0], &is_null) : NULL;
  if (!path || path[0] != '/' || argc < 2 || napi_get_value_int32(env, argv[1], &timeout) != napi_ok || timeout <= 0) {
    free(path);
    napi_throw_type_error(env, NULL, "consoleReceive(absolutePath, timeoutMs)");
    return NULL;
  }
  int fd = -1;
  int err = unix_socket(path, SOCK_STREAM, UNIX_LISTEN, &fd);
  free(path);
  if (err) return throw_errno(env, "console socket", err);
  console_t *j = calloc(1, sizeof *j);
  j->lfd = fd;
  j->fd = -1;
  j->timeout_ms = timeout;
  return async_queue(env, &j->async, "skiff_console", console_execute, console_complete, j);
}

// setWinsize(fd, rows, cols): TIOCSWINSZ on a pty master; the kernel sends the
// terminal's foreground process group SIGWINCH.
static napi_value SetWinsize(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1, rows = 0, cols = 0;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[1], &rows) != napi_ok ||
      napi_get_value_int32(env, argv[2], &cols) != napi_ok || fd < 0 || rows <= 0 || cols <= 0 || rows > 65535 || cols > 65535) {
    napi_throw_type_error(env, NULL, "setWinsize(fd, rows, cols)");
    return NULL;
  }
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  if (ioctl(fd, TIOCSWINSZ, &ws) < 0) return throw_errno(env, "ioctl(TIOCSWINSZ)", errno);
  return NULL;
}

// ---- execve ----------------------------------------------------------------------
// execve(file, argv, envp): replace this process (same pid, same stdio) with another
// program. `skiff daemon` uses it once at start to re-run itself with the V8 flags a
// long-running daemon wants (a small young generation: node's 16 MiB semi-spaces are
// ~30 MiB of resident memory the daemon never needs), however it was started.
// Returns only on failure (throws).
static napi_value Execve(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int is_null = 0;
  char *file = argc > 0 ? get_string(env, argv[0], &is_null) : NULL;
  bool a1 = false, a2 = false;
  if (argc > 2) {
    napi_is_array(env, argv[1], &a1);
    napi_is_array(env, argv[2], &a2);
  }
  if (!file || file[0] != '/' || !a1 || !a2) {
    free(file);
    napi_throw_type_error(env, NULL, "execve(absoluteFile, argv[], envp[])");
    return NULL;
  }
  char **args = get_string_array(env, argv[1]);
  char **envp = get_string_array(env, argv[2]);
  // node marks its stdio close-on-exec at startup: the new image must keep them
  for (int fd = 0; fd <= 2; fd++) {
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0) fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
  }
  execve(file, args, envp);
  int err = errno;
  free(file);
  free_string_array(args);
  free_string_array(envp);
  return throw_errno(env, "execve", err);
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"mount", NULL, Mount, NULL, NULL, NULL, napi_default, NULL},
      {"umount2", NULL, Umount2, NULL, NULL, NULL, napi_default, NULL},
      {"spawn", NULL, Spawn, NULL, NULL, NULL, napi_default, NULL},
      {"waitpid", NULL, Waitpid, NULL, NULL, NULL, napi_default, NULL},
      {"rmtree", NULL, Rmtree, NULL, NULL, NULL, napi_default, NULL},
      {"attachOpen", NULL, AttachOpen, NULL, NULL, NULL, napi_default, NULL},
      {"attachSend", NULL, AttachSend, NULL, NULL, NULL, napi_default, NULL},
      {"attachShutdown", NULL, AttachShutdown, NULL, NULL, NULL, napi_default, NULL},
      {"flockExclusive", NULL, FlockExclusive, NULL, NULL, NULL, napi_default, NULL},
      {"punchHole", NULL, PunchHole, NULL, NULL, NULL, napi_default, NULL},
      {"netnsCreate", NULL, NetnsCreate, NULL, NULL, NULL, napi_default, NULL},
      {"execve", NULL, Execve, NULL, NULL, NULL, napi_default, NULL},
      {"subvolCreate", NULL, SubvolCreate, NULL, NULL, NULL, napi_default, NULL},
      {"subvolDelete", NULL, SubvolDelete, NULL, NULL, NULL, napi_default, NULL},
      {"qgroupLimit", NULL, QgroupLimit, NULL, NULL, NULL, napi_default, NULL},
      {"qgroupDestroy", NULL, QgroupDestroy, NULL, NULL, NULL, napi_default, NULL},
      {"btrfsInfo", NULL, BtrfsInfo, NULL, NULL, NULL, napi_default, NULL},
      {"consoleReceive", NULL, ConsoleReceive, NULL, NULL, NULL, napi_default, NULL},
      {"setWinsize", NULL, SetWinsize, NULL, NULL, NULL, napi_default, NULL},
      {"mallocTrim", NULL, MallocTrim, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  // what this build can do beyond the base set (an older build lacks them; callers fall back)
  static const char *names[] = {"spawn-stdin", "netns", "execve", "btrfs-quota", "console", "malloc-trim"};
  const uint32_t n = sizeof names / sizeof names[0];
  napi_value features, f;
  napi_create_array_with_length(env, n, &features);
  for (uint32_t i = 0; i < n; i++) {
    napi_create_string_utf8(env, names[i], NAPI_AUTO_LENGTH, &f);
    napi_set_element(env, features, i, f);
  }
  napi_set_named_property(env, exports, "features", features);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
