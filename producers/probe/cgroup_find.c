#include "cgroup_find.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct cg_entry {
	char id[65];
	char *path; /* relative to the root, leading '/' */
	uint64_t ino;
	int depth;
};

struct cgroup_index {
	int root_fd;
	dev_t dev;
	int max_depth;
	unsigned refresh_ms;
	bool walked;
	uint64_t last_walk_ms;
	unsigned long walks;
	struct cg_entry *e; /* sorted by id */
	size_t n;
};

struct walk {
	struct cgroup_index *ix;
	struct cg_entry *e;
	size_t n, cap;
	char path[4096];
	int err;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool is_hex64(const char *s, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* The container id a directory name stands for: [prefix]<id>[.scope] with
 * the runtimes' prefixes. 0 and id filled, or -1. */
static int name_to_id(const char *name, char id[65])
{
	static const char *const prefixes[] = {"cri-containerd-", "crio-", "docker-", ""};
	size_t n = strlen(name);

	if (n > 6 && !strcmp(name + n - 6, ".scope"))
		n -= 6;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t p = strlen(prefixes[i]);
		if (n < p || strncmp(name, prefixes[i], p) != 0)
			continue;
		if (!is_hex64(name + p, n - p))
			continue;
		memcpy(id, name + p, 64);
		id[64] = '\0';
		return 0;
	}
	return -1;
}

static int walk_add(struct walk *w, const char *id, uint64_t ino, int depth)
{
	struct cg_entry *e;

	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		e = realloc(w->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		w->e = e;
		w->cap = cap;
	}
	e = &w->e[w->n];
	memcpy(e->id, id, 65);
	e->path = strdup(w->path);
	if (!e->path)
		return -ENOMEM;
	e->ino = ino;
	e->depth = depth;
	w->n++;
	return 0;
}

/* dfd is the directory at w->path, depth levels below the root; closed
 * here. Unreadable or vanished subdirectories are skipped: cgroups come
 * and go during a walk. */
static int walk_dir(struct walk *w, int dfd, int depth)
{
	size_t len = strlen(w->path);
	struct dirent *de;
	DIR *d = fdopendir(dfd);
	int rc = 0;

	if (!d) {
		close(dfd);
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;
		char id[65];
		int sub;

		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode) || st.st_dev != w->ix->dev)
			continue;
		if (len + 1 + strlen(de->d_name) >= sizeof(w->path))
			continue;
		snprintf(w->path + len, sizeof(w->path) - len, "/%s", de->d_name);
		if (name_to_id(de->d_name, id) == 0) {
			rc = walk_add(w, id, (uint64_t)st.st_ino, depth + 1);
			if (rc < 0)
				break;
		}
		/* Containers can hold cgroups of their own (kind nodes run
		 * whole kubelets in one), so matched directories are entered too. */
		if (depth + 1 < w->ix->max_depth) {
			sub = openat(dirfd(d), de->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				rc = walk_dir(w, sub, depth + 1);
				if (rc < 0)
					break;
			}
		}
		w->path[len] = '\0';
	}
	w->path[len] = '\0';
	closedir(d);
	return rc;
}

static int entry_cmp(const void *a, const void *b)
{
	const struct cg_entry *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c)
		return c;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return strcmp(x->path, y->path);
}

static void entries_free(struct cg_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].path);
	free(e);
}

static int index_walk(struct cgroup_index *ix)
{
	struct walk w = {.ix = ix};
	int fd, rc;

	ix->walks++;
	ix->last_walk_ms = now_ms();
	ix->walked = true;
	fd = openat(ix->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = walk_dir(&w, fd, 0);
	if (rc < 0) {
		entries_free(w.e, w.n);
		return rc;
	}
	if (w.n)
		qsort(w.e, w.n, sizeof(*w.e), entry_cmp);
	entries_free(ix->e, ix->n);
	ix->e = w.e;
	ix->n = w.n;
	return 0;
}

int cgroup_find_root(char *out, size_t outlen)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");
		char mnt[2048], fstype[64];

		if (!sep || sscanf(sep, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		/* id parent major:minor root mount-point: cgroup mounts have no
		 * spaces, so no \040 escapes to undo */
		if (sscanf(line, "%*s %*s %*s %*s %2047s", mnt) != 1)
			continue;
		if (strlen(mnt) >= outlen) {
			rc = -ENAMETOOLONG;
			break;
		}
		strcpy(out, mnt);
		rc = 0;
		break;
	}
	fclose(f);
	return rc;
}

int cgroup_index_new(struct cgroup_index **out, const char *root, int max_depth,
		     unsigned refresh_ms, char *err, size_t errlen)
{
	struct cgroup_index *ix;
	char found[2048];
	struct stat st;
	int rc;

	*out = NULL;
	if (!root) {
		rc = cgroup_find_root(found, sizeof(found));
		if (rc < 0) {
			set_err(err, errlen, "no cgroup2 mount in /proc/self/mountinfo");
			return rc;
		}
		root = found;
	}
	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	ix->max_depth = max_depth > 0 ? max_depth : CGROUP_FIND_MAX_DEPTH;
	ix->refresh_ms = refresh_ms;
	ix->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ix->root_fd < 0 || fstat(ix->root_fd, &st) < 0) {
		rc = -errno;
		set_err(err, errlen, "cannot open cgroup root %s: %s", root, strerror(errno));
		if (ix->root_fd >= 0)
			close(ix->root_fd);
		free(ix);
		return rc;
	}
	ix->dev = st.st_dev;
	*out = ix;
	return 0;
}

void cgroup_index_free(struct cgroup_index *ix)
{
	if (!ix)
		return;
	entries_free(ix->e, ix->n);
	close(ix->root_fd);
	free(ix);
}

unsigned long cgroup_index_walks(const struct cgroup_index *ix)
{
	return ix->walks;
}

/* Whether path names a directory of pod uid, as "pod<uid>" with the uid's
 * '-' kept (cgroupfs) or turned into '_' (systemd escaping). */
static bool under_pod(const char *path, const char *uid)
{
	char want[80], esc[80];

	if (!uid || !*uid || strlen(uid) > 64)
		return false;
	snprintf(want, sizeof(want), "pod%s", uid);
	snprintf(esc, sizeof(esc), "pod%s", uid);
	for (char *p = esc; *p; p++)
		if (*p == '-')
			*p = '_';
	return strstr(path, want) || strstr(path, esc);
}

/* The entries of id are sorted shallowest first; the best one that still
 * exists with the same inode, or NULL. */
static const struct cg_entry *index_lookup(struct cgroup_index *ix, const char *id,
					   const char *pod_uid)
{
	const struct cg_entry *best = NULL;
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(ix->e[mid].id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < ix->n && !strcmp(ix->e[i].id, id); i++) {
		const struct cg_entry *e = &ix->e[i];
		struct stat st;

		if (fstatat(ix->root_fd, e->path + 1, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode) || (uint64_t)st.st_ino != e->ino)
			continue;
		if (under_pod(e->path, pod_uid))
			return e;
		if (!best)
			best = e;
	}
	return best;
}

int cgroup_find(struct cgroup_index *ix, const char *container_id, const char *pod_uid, char *path,
		size_t pathlen, uint64_t *cgroup_id)
{
	const struct cg_entry *e = NULL;
	int rc;

	if (!container_id || !is_hex64(container_id, strlen(container_id)))
		return -EINVAL;
	if (ix->walked)
		e = index_lookup(ix, container_id, pod_uid);
	if (!e && (!ix->walked || now_ms() - ix->last_walk_ms >= ix->refresh_ms)) {
		rc = index_walk(ix);
		if (rc < 0)
			return rc;
		e = index_lookup(ix, container_id, pod_uid);
	}
	if (!e)
		return -ENOENT;
	if (strlen(e->path) >= pathlen)
		return -ENAMETOOLONG;
	strcpy(path, e->path);
	*cgroup_id = e->ino;
	return 0;
}

int cgroup_find_id(const char *dir, uint64_t *cgroup_id)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + 128];
	} h;
	struct stat st;
	int mount_id;

	h.fh.handle_bytes = 128;
	if (name_to_handle_at(AT_FDCWD, dir, &h.fh, &mount_id, 0) == 0 &&
	    h.fh.handle_bytes == sizeof(uint64_t)) {
		memcpy(cgroup_id, h.fh.f_handle, sizeof(uint64_t));
		return 0;
	}
	if (stat(dir, &st) < 0)
		return -errno;
	*cgroup_id = (uint64_t)st.st_ino;
	return 0;
}
