/* Container cgroups on a real cgroup2 tree: a test tree under the cgroup2
 * mount mimics the systemd and cgroupfs drivers of containerd, cri-o and
 * docker; a process moved into a container's cgroup shows the path found,
 * and the id found is the one the kernel gives for that cgroup. */
#include "cgroup_find.h"
#include "testing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char cg_root[2048]; /* the cgroup2 mount */
static char cg_base[2400]; /* our tree in it */
static char rel_base[256]; /* the same, relative to the mount */
static char tmp_base[256]; /* a plain-directory tree for symlinks */

/* Removes a tree depth-first: cgroup directories go with rmdir (their
 * files are the kernel's), plain ones after unlinking what they hold. */
static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (d) {
		while ((de = readdir(d))) {
			char sub[4096];
			struct stat st;
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			if (lstat(sub, &st) < 0)
				continue;
			if (S_ISDIR(st.st_mode))
				remove_tree(sub);
			else if (strncmp(path, "/tmp/", 5) == 0)
				unlink(sub);
		}
		closedir(d);
	}
	for (int i = 0; i < 100 && rmdir(path) < 0 && errno == EBUSY; i++)
		usleep(10000); /* a reaped task leaves its cgroup a moment later */
}

static void cleanup(void)
{
	if (*cg_base)
		remove_tree(cg_base);
	if (*tmp_base)
		remove_tree(tmp_base);
}

/* Trees left by a run that crashed: their pid is gone. */
static void sweep_stale(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		int pid;
		char proc[64], path[4096];
		if (sscanf(de->d_name, "armorsmith-podmatch-test-%d", &pid) != 1 || pid == getpid())
			continue;
		snprintf(proc, sizeof(proc), "/proc/%d", pid);
		if (access(proc, F_OK) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		remove_tree(path);
	}
	closedir(d);
}

/* mkdir -p below base; rel has no leading '/'. */
static int mkdirs(const char *base, const char *rel)
{
	char path[4096];
	size_t n = (size_t)snprintf(path, sizeof(path), "%s/%s", base, rel);

	for (size_t i = strlen(base) + 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			fprintf(stderr, "mkdir %s: %s\n", path, strerror(errno));
			return -errno;
		}
		if (i < n)
			path[i] = '/';
	}
	return 0;
}

static void random_id(char id[65])
{
	unsigned char b[32];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(rand() & 0xff);
	for (size_t i = 0; i < 32; i++)
		snprintf(id + 2 * i, 3, "%02x", b[i]);
}

static void random_uid(char uid[37], char esc[37])
{
	char hex[65];

	random_id(hex);
	snprintf(uid, 37, "%.8s-%.4s-4%.3s-8%.3s-%.12s", hex, hex + 8, hex + 12, hex + 15,
		 hex + 18);
	strcpy(esc, uid);
	for (char *p = esc; *p; p++)
		if (*p == '-')
			*p = '_';
}

static uint64_t ino_of(const char *abs)
{
	struct stat st;

	return stat(abs, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

struct ctr {
	char id[65];
	char uid[37], esc[37];
	char sub[1024]; /* its path below our tree */
	char rel[1400]; /* the expected answer: relative to the mount */
};

/* Finds c and checks path and id against the directory. */
static void check_found(struct cgroup_index *ix, const struct ctr *c, const char *uid)
{
	char path[4096], abs[8192];
	uint64_t id = 0, handle_id = 0;
	int rc = cgroup_find(ix, c->id, uid, path, sizeof(path), &id);

	CHECK(rc == 0);
	if (rc) {
		fprintf(stderr, "cgroup_find %s: %d\n", c->rel, rc);
		return;
	}
	CHECK_STR(path, c->rel);
	snprintf(abs, sizeof(abs), "%s%s", cg_root, c->rel);
	CHECK(id != 0 && id == ino_of(abs));
	CHECK(cgroup_find_id(abs, &handle_id) == 0);
	CHECK(handle_id == id);
}

/* A process moved into the cgroup: /proc/PID/cgroup names the path found,
 * and that directory's handle is the id found. */
static void test_process_sees(struct cgroup_index *ix, const struct ctr *c)
{
	char path[4096], procs[8192], line[4096], want[4200], abs[8192];
	uint64_t id = 0, seen = 0;
	int fd, status, ok = 0;
	FILE *f;
	pid_t pid;

	CHECK(cgroup_find(ix, c->id, c->uid, path, sizeof(path), &id) == 0);
	pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	CHECK(pid > 0);
	if (pid < 0)
		return;
	snprintf(procs, sizeof(procs), "%s%s/cgroup.procs", cg_root, path);
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	if (fd >= 0) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
		CHECK(write(fd, buf, (size_t)n) == n);
		close(fd);
	}
	snprintf(line, sizeof(line), "/proc/%d/cgroup", (int)pid);
	snprintf(want, sizeof(want), "0::%s\n", path);
	f = fopen(line, "re");
	CHECK(f != NULL);
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		CHECK_STR(line, want);
		line[strcspn(line, "\n")] = '\0';
		snprintf(abs, sizeof(abs), "%s%s", cg_root, line + 3);
		CHECK(cgroup_find_id(abs, &seen) == 0);
		CHECK(seen == id);
		ok = 1;
	}
	if (f)
		fclose(f);
	CHECK(ok);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* On a plain tree (not cgroup2): symlinks are not followed, depth bounds. */
static void test_plain_tree(void)
{
	char id_link[65], id_real[65], rel[512], outside[512], link[512], path[512];
	struct cgroup_index *ix;
	uint64_t id;
	char err[256];
	int rc;

	snprintf(tmp_base, sizeof(tmp_base), "/tmp/armorsmith-podmatch-test-%d", (int)getpid());
	random_id(id_link);
	random_id(id_real);
	CHECK(mkdir(tmp_base, 0755) == 0);
	snprintf(rel, sizeof(rel), "tree/kubepods/besteffort/podx/%s", id_real);
	CHECK(mkdirs(tmp_base, rel) == 0);
	snprintf(rel, sizeof(rel), "outside/%s", id_link);
	CHECK(mkdirs(tmp_base, rel) == 0);
	snprintf(outside, sizeof(outside), "%s/outside", tmp_base);
	snprintf(link, sizeof(link), "%s/tree/kubepods/linked", tmp_base);
	CHECK(symlink(outside, link) == 0);
	snprintf(path, sizeof(path), "%s/outside/%s", tmp_base, id_link);
	snprintf(outside, sizeof(outside), "%s/tree/cri-containerd-%s.scope", tmp_base, id_link);
	CHECK(symlink(path, outside) == 0); /* a symlink with a container's name */

	snprintf(path, sizeof(path), "%s/tree", tmp_base);
	rc = cgroup_index_new(&ix, path, 0, 0, err, sizeof(err));
	CHECK(rc == 0);
	if (rc)
		return;
	CHECK(cgroup_find(ix, id_real, NULL, path, sizeof(path), &id) == 0);
	snprintf(rel, sizeof(rel), "/kubepods/besteffort/podx/%s", id_real);
	CHECK_STR(path, rel);
	CHECK(cgroup_find(ix, id_link, NULL, path, sizeof(path), &id) == -ENOENT);
	cgroup_index_free(ix);

	/* depth: the real one is 4 levels down */
	snprintf(path, sizeof(path), "%s/tree", tmp_base);
	CHECK(cgroup_index_new(&ix, path, 3, 0, err, sizeof(err)) == 0);
	CHECK(cgroup_find(ix, id_real, NULL, path, sizeof(path), &id) == -ENOENT);
	cgroup_index_free(ix);
	snprintf(path, sizeof(path), "%s/tree", tmp_base);
	CHECK(cgroup_index_new(&ix, path, 4, 0, err, sizeof(err)) == 0);
	CHECK(cgroup_find(ix, id_real, NULL, path, sizeof(path), &id) == 0);
	cgroup_index_free(ix);

	CHECK(cgroup_index_new(&ix, "/nonexistent/armorsmith", 0, 0, err, sizeof(err)) == -ENOENT);
	CHECK(strstr(err, "/nonexistent/armorsmith") != NULL);
}

int main(void)
{
	struct ctr c[8];
	struct cgroup_index *ix = NULL, *ix_long = NULL, *ix_zero = NULL;
	char err[256], path[4096], abs[8192], shallow[1024];
	uint64_t id;
	int rc;

	rc = cgroup_find_root(cg_root, sizeof(cg_root));
	CHECK(rc == 0);
	if (rc) {
		fprintf(stderr, "no cgroup2 mount: this test needs one\n");
		return TEST_SUMMARY();
	}
	sweep_stale(cg_root);
	sweep_stale("/tmp");
	snprintf(rel_base, sizeof(rel_base), "/armorsmith-podmatch-test-%d", (int)getpid());
	snprintf(cg_base, sizeof(cg_base), "%s%s", cg_root, rel_base);
	atexit(cleanup);
	rc = mkdir(cg_base, 0755);
	CHECK(rc == 0);
	if (rc) {
		fprintf(stderr, "mkdir %s: %s (needs root)\n", cg_base, strerror(errno));
		return TEST_SUMMARY();
	}

	for (int i = 0; i < 8; i++) {
		random_id(c[i].id);
		random_uid(c[i].uid, c[i].esc);
	}
	/* systemd driver: containerd (burstable), cri-o (besteffort, with its
	 * conmon scope and crun's "container" subgroup), docker (guaranteed) */
	snprintf(c[0].sub, sizeof(c[0].sub),
		 "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/"
		 "cri-containerd-%s.scope",
		 c[0].esc, c[0].id);
	snprintf(c[1].sub, sizeof(c[1].sub),
		 "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice/"
		 "crio-%s.scope",
		 c[1].esc, c[1].id);
	snprintf(c[2].sub, sizeof(c[2].sub), "kubepods.slice/kubepods-pod%s.slice/docker-%s.scope",
		 c[2].esc, c[2].id);
	/* cgroupfs driver: containerd/docker (plain id), cri-o */
	snprintf(c[3].sub, sizeof(c[3].sub), "kubepods/burstable/pod%s/%s", c[3].uid, c[3].id);
	snprintf(c[4].sub, sizeof(c[4].sub), "kubepods/besteffort/pod%s/crio-%s", c[4].uid,
		 c[4].id);
	/* the same id twice: under its pod, and shallower elsewhere */
	snprintf(c[5].sub, sizeof(c[5].sub), "kubepods/pod%s/%s", c[5].uid, c[5].id);
	snprintf(shallow, sizeof(shallow), "system.slice/docker-%s.scope", c[5].id);
	/* deeper than a small bound */
	snprintf(c[6].sub, sizeof(c[6].sub), "a/b/c/d/e/f/%s", c[6].id);
	for (int i = 0; i < 7; i++)
		CHECK(mkdirs(cg_base, c[i].sub) == 0);
	CHECK(mkdirs(cg_base, shallow) == 0);
	{
		char x[1200];
		snprintf(x, sizeof(x),
			 "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice/"
			 "crio-conmon-%s.scope",
			 c[1].esc, c[1].id);
		CHECK(mkdirs(cg_base, x) == 0);
		snprintf(x, sizeof(x), "%s/container", c[1].sub);
		CHECK(mkdirs(cg_base, x) == 0);
	}
	/* expected paths are relative to the mount */
	for (int i = 0; i < 7; i++)
		snprintf(c[i].rel, sizeof(c[i].rel), "%s/%s", rel_base, c[i].sub);

	CHECK(cgroup_index_new(&ix, NULL, 0, 60000, err, sizeof(err)) == 0);
	CHECK(cgroup_index_walks(ix) == 0);
	for (int i = 0; i < 5; i++)
		check_found(ix, &c[i], c[i].uid);
	check_found(ix, &c[0], NULL); /* the uid only ranks */
	check_found(ix, &c[5], c[5].uid);
	{
		struct ctr s = c[5];
		snprintf(s.rel, sizeof(s.rel), "%s/%s", rel_base, shallow);
		check_found(ix, &s, NULL);
		check_found(ix, &s, c[4].uid); /* another pod's uid: no preference */
	}
	/* depth 8 below the mount: found with the default bound only */
	check_found(ix, &c[6], NULL);
	/* 100 lookups, one walk */
	for (int round = 0; round < 20; round++)
		for (int i = 0; i < 5; i++)
			CHECK(cgroup_find(ix, c[i].id, c[i].uid, path, sizeof(path), &id) == 0);
	CHECK(cgroup_index_walks(ix) == 1);
	/* a miss right after a walk does not walk again */
	CHECK(cgroup_find(ix, c[7].id, NULL, path, sizeof(path), &id) == -ENOENT);
	CHECK(cgroup_index_walks(ix) == 1);
	CHECK(cgroup_find(ix, "xyz", NULL, path, sizeof(path), &id) == -EINVAL);
	CHECK(cgroup_find(ix, c[0].id, NULL, path, 10, &id) == -ENAMETOOLONG);
	test_process_sees(ix, &c[0]);
	test_process_sees(ix, &c[3]);
	ix_long = ix;

	{
		struct cgroup_index *shallow_ix;
		CHECK(cgroup_index_new(&shallow_ix, cg_root, 6, 0, err, sizeof(err)) == 0);
		CHECK(cgroup_find(shallow_ix, c[6].id, NULL, path, sizeof(path), &id) == -ENOENT);
		CHECK(cgroup_find(shallow_ix, c[0].id, NULL, path, sizeof(path), &id) == 0);
		cgroup_index_free(shallow_ix);
	}

	/* a container started after the walk: found once the index may walk */
	CHECK(cgroup_index_new(&ix, cg_root, 0, 300, err, sizeof(err)) == 0);
	check_found(ix, &c[0], c[0].uid);
	snprintf(c[7].sub, sizeof(c[7].sub), "kubepods/burstable/pod%s/%s", c[7].uid, c[7].id);
	CHECK(mkdirs(cg_base, c[7].sub) == 0);
	snprintf(c[7].rel, sizeof(c[7].rel), "%s/%s", rel_base, c[7].sub);
	usleep(350 * 1000);
	check_found(ix, &c[7], c[7].uid);
	CHECK(cgroup_index_walks(ix) == 2);
	cgroup_index_free(ix);

	/* a removed cgroup is not returned from the index */
	CHECK(cgroup_index_new(&ix_zero, NULL, 0, 0, err, sizeof(err)) == 0);
	check_found(ix_zero, &c[4], c[4].uid);
	snprintf(abs, sizeof(abs), "%s%s", cg_root, c[4].rel);
	CHECK(rmdir(abs) == 0);
	CHECK(cgroup_find(ix_long, c[4].id, c[4].uid, path, sizeof(path), &id) == -ENOENT);
	CHECK(cgroup_index_walks(ix_long) == 1);
	CHECK(cgroup_find(ix_zero, c[4].id, c[4].uid, path, sizeof(path), &id) == -ENOENT);
	/* recreated (a new cgroup, a new id): the old entry is not trusted */
	CHECK(mkdir(abs, 0755) == 0);
	CHECK(cgroup_find(ix_long, c[4].id, c[4].uid, path, sizeof(path), &id) == -ENOENT);
	check_found(ix_zero, &c[4], c[4].uid);
	cgroup_index_free(ix_zero);
	cgroup_index_free(ix_long);

	test_plain_tree();
	cleanup();
	{
		struct stat st;
		CHECK(stat(cg_base, &st) < 0 && errno == ENOENT);
		CHECK(stat(tmp_base, &st) < 0 && errno == ENOENT);
	}
	*cg_base = *tmp_base = '\0';
	return TEST_SUMMARY();
}
