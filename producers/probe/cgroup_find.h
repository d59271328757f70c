/* Container id -> its cgroup v2 directory and cgroup id.
 *
 * Container runtimes name a container's cgroup after its id:
 *   systemd driver  .../kubepods-burstable-pod<uid with _>.slice/cri-containerd-<id>.scope
 *                   (cri-o: crio-<id>.scope, docker: docker-<id>.scope)
 *   cgroupfs driver .../kubepods/burstable/pod<uid>/<id>   (cri-o: crio-<id>)
 * A directory matches when its whole name is one of these forms of the id,
 * so crio-conmon-<id>.scope (cri-o's monitor process) is never taken. crun
 * under systemd puts the processes one level down (<scope>/container): the
 * scope is still the answer, as a run's cgroup covers its descendants.
 *
 * The cgroup id is the directory's inode number on cgroup2: the kernfs node
 * id that bpf_get_current_cgroup_id() returns and that name_to_handle_at()
 * gives as the file handle (on 64-bit kernels).
 *
 * One walk indexes every container-named directory, so many lookups cost
 * one walk; a hit is checked with one fstatat (the directory must still be
 * there with the same inode), a miss walks again only when the last walk is
 * at least refresh_ms old. The walk stays on the root's filesystem, skips
 * symlinks and stops max_depth levels below the root. */
#ifndef ARMORSMITH_CGROUP_FIND_H
#define ARMORSMITH_CGROUP_FIND_H

#include <stddef.h>
#include <stdint.h>

#define CGROUP_FIND_MAX_DEPTH 12
#define CGROUP_FIND_REFRESH_MS 250

struct cgroup_index;

/* The cgroup2 mount point from /proc/self/mountinfo (e.g. /sys/fs/cgroup,
 * or /sys/fs/cgroup/unified on a hybrid host). -ENOENT when none. */
int cgroup_find_root(char *out, size_t outlen);

/* root NULL: the cgroup2 mount. max_depth <= 0: CGROUP_FIND_MAX_DEPTH.
 * Nothing is walked before the first lookup. -ENOENT/-EACCES/... when the
 * root cannot be opened, with err naming it. */
int cgroup_index_new(struct cgroup_index **out, const char *root, int max_depth,
		     unsigned refresh_ms, char *err, size_t errlen);
void cgroup_index_free(struct cgroup_index *ix);

/* The cgroup of container_id (64 hex digits). path gets it relative to the
 * root, with a leading '/', as /proc/PID/cgroup shows it ("/kubepods.slice/
 * ..."); *cgroup_id its id. Among several directories of the id, one below
 * a pod<pod_uid> directory wins (pod_uid may be NULL; '-' or '_' as the
 * driver writes it), then the shallowest, then the first in byte order.
 * -ENOENT when there is none (not started yet: ask again later), -EINVAL
 * for an id that is not 64 hex digits, -ENAMETOOLONG when path is short. */
int cgroup_find(struct cgroup_index *ix, const char *container_id, const char *pod_uid, char *path,
		size_t pathlen, uint64_t *cgroup_id);

/* How many walks the index has made: for tests and stats. */
unsigned long cgroup_index_walks(const struct cgroup_index *ix);

/* The cgroup id of a cgroup2 directory, through name_to_handle_at() (its
 * handle is the id), or its inode number where handles are unsupported. */
int cgroup_find_id(const char *dir, uint64_t *cgroup_id);

#endif
