/* pathnorm: precision and recall of the segment classifier over the
 * labeled set in testdata/path_segments.tsv, and examples of every
 * normalisation rule and of hostile input. */
#include "pathnorm.h"
#include "testing.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/* The split used while developing the classifier: segments whose FNV-1a
 * hash is 0 mod 5 were held out and looked at only to measure. */
static int held_out(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h % 5 == 0;
}

struct counts {
	int tp, fp, fn, tn;
};

static void tally(struct counts *c, int want, int got)
{
	if (want && got)
		c->tp++;
	else if (got)
		c->fp++;
	else if (want)
		c->fn++;
	else
		c->tn++;
}

static double ratio(int a, int b)
{
	return b ? (double)a / b : 1.0;
}

static void report(const char *what, const struct counts *c)
{
	printf("%-9s random=%d name=%d tp=%d fp=%d fn=%d tn=%d precision=%.4f recall=%.4f\n", what,
	       c->tp + c->fn, c->fp + c->tn, c->tp, c->fp, c->fn, c->tn,
	       ratio(c->tp, c->tp + c->fp), ratio(c->tp, c->tp + c->fn));
}

static void test_labeled_set(void)
{
	const char *root = getenv("ARMORSMITH_SOURCE_DIR");
	char path[4096], line[8192];
	struct counts all = {0}, dev = {0}, held = {0};

	if (!root) {
		fprintf(stderr, "ARMORSMITH_SOURCE_DIR is not set: cannot find "
				"common/testdata/path_segments.tsv\n");
		CHECK(!"ARMORSMITH_SOURCE_DIR set");
		return;
	}
	snprintf(path, sizeof(path), "%s/common/testdata/path_segments.tsv", root);
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "cannot open the labeled set %s: %s\n", path, strerror(errno));
		CHECK(!"labeled set readable");
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *tab = strchr(line, '\t');
		if (!tab)
			continue;
		*tab = '\0';
		const char *seg = tab + 1;
		int want = strcmp(line, "random") == 0;
		CHECK(want || strcmp(line, "name") == 0);
		int got = pathnorm_classify_segment(seg, strlen(seg));
		if (got != want)
			printf("misclassified (%s): %s\n", line, seg);
		tally(&all, want, got);
		tally(held_out(seg) ? &held : &dev, want, got);
	}
	fclose(f);
	report("all", &all);
	report("dev", &dev);
	report("held-out", &held);
	CHECK(all.tp + all.fn + all.fp + all.tn >= 500);
	CHECK(ratio(all.tp, all.tp + all.fp) >= 0.98);
	CHECK(ratio(all.tp, all.tp + all.fn) >= 0.98);
}

static int cls(const char *s)
{
	return pathnorm_classify_segment(s, strlen(s));
}

static void test_classifier_examples(void)
{
	const char *random[] = {
	    "0dbdc97f1abcaff72aed4bfd223f22d6ec8b5d62feabee7a6da7fcef3c1130fe",
	    "6d0eb515-5ab1-4e6b-91ba-fe0860d2596c",
	    "pod6d0eb515-5ab1-4e6b-91ba-fe0860d2596c",
	    "kubepods-besteffort-pod6d0eb515_5ab1_4e6b_91ba_fe0860d2596c.slice",
	    "nginx-7c5ddbdf54-x8k2q",
	    "nginx-7c5ddbdf54",
	    "kube-api-access-x8k2q",
	    "..2024_05_01_10_00_00.123456789",
	    "tmp.Ab3dE9xYz1",
	    "tmpkz3x_9ab",
	    "a1B2c3D4.tmp",
	    "1714550400",
	    "01HX5ZZKBKACTAV9WEVGEMMVRZ",
	    "v7qjTxiBr8MoylorCfWzUiQRM00OdtDzCWali0nosNs=",
	    "1a2b3c4d5e6f",
	};
	const char *name[] = {
	    "python3.11",
	    "libc.so.6",
	    "x86_64-linux-gnu",
	    "site-packages",
	    "README.md",
	    "2024",
	    "42",
	    "fd",
	    "sha256sums",
	    "UTF-8",
	    "i686",
	    "ld-linux-x86-64.so.2",
	    "systemd-timesyncd",
	    "node_modules",
	    "deadbeef",
	    "cafe",
	    "libabsl_cord.so.20220623",
	    "..data",
	    "CheckCXXCompilerFlag.cmake",
	    "XtIsManaged.3.gz",
	    "libkrb5support0",
	};
	for (size_t i = 0; i < sizeof(random) / sizeof(random[0]); i++) {
		if (!cls(random[i]))
			fprintf(stderr, "expected random: %s\n", random[i]);
		CHECK(cls(random[i]) == 1);
	}
	for (size_t i = 0; i < sizeof(name) / sizeof(name[0]); i++) {
		if (cls(name[i]))
			fprintf(stderr, "expected name: %s\n", name[i]);
		CHECK(cls(name[i]) == 0);
	}
	CHECK(cls("") == 0);
	CHECK(pathnorm_classify_segment(NULL, 3) == 0);
	/* length, not NUL, bounds the segment */
	CHECK(pathnorm_classify_segment("1714550400/etc", 10) == 1);
	CHECK(pathnorm_classify_segment("etc/1714550400", 3) == 0);
}

static const char *norm(const char *path, const char *mask)
{
	static char out[4096];
	int rc = pathnorm_normalize_mask(path, mask, out, sizeof(out));
	return rc == 0 ? out : "(error)";
}

static void test_rules(void)
{
	/* a. lexical clean */
	CHECK_STR(norm("/usr//bin/./ls", NULL), "/usr/bin/ls");
	CHECK_STR(norm("/etc/nginx/../passwd", NULL), "/etc/passwd");
	CHECK_STR(norm("/../../etc/passwd", NULL), "/etc/passwd");
	CHECK_STR(norm("/etc/nginx/", NULL), "/etc/nginx/");
	CHECK_STR(norm("/etc/nginx/.", NULL), "/etc/nginx/");
	CHECK_STR(norm("/etc/nginx/conf.d/..", NULL), "/etc/nginx/");
	CHECK_STR(norm("/", NULL), "/");
	CHECK_STR(norm("//", NULL), "/");
	CHECK_STR(norm("/..", NULL), "/");
	CHECK_STR(norm("/tmp/../etc/shadow", NULL), "/etc/shadow");
	/* nothing broader than needed */
	CHECK_STR(norm("/etc/passwd", NULL), "/etc/passwd");
	CHECK_STR(norm("/usr/bin/python3.11", NULL), "/usr/bin/python3.11");

	/* b. snapshot and overlay ids */
	CHECK_STR(norm("/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/86/fs/"
		       "etc/nginx/geoip/",
		       "r"),
		  "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/*/fs/etc/"
		  "nginx/geoip/");
	CHECK_STR(
	    norm("/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/149/fs/etc/", "r"),
	    "/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/*/fs/etc/");
	CHECK_STR(
	    norm("/var/lib/docker/overlay2/"
		 "59ecd4590474777b39028720959f4b4c29d123f1d1a3055b1b7f7ecb91a9491d-init/diff/etc",
		 NULL),
	    "/var/lib/docker/overlay2/*/diff/etc");
	CHECK_STR(norm("/var/lib/docker/overlay2/l/QJFJ7M5Q4ZKX6YF7W3OOVUHWQV", NULL),
		  "/var/lib/docker/overlay2/l/*");
	CHECK_STR(norm("/var/lib/docker/overlay2/l", NULL), "/var/lib/docker/overlay2/l");
	CHECK_STR(norm("/var/lib/containers/storage/overlay/"
		       "0dbdc97f1abcaff72aed4bfd223f22d6ec8b5d62feabee7a6da7fcef3c1130fe/diff",
		       NULL),
		  "/var/lib/containers/storage/overlay/*/diff");
	/* "snapshots" alone, or a non-numeric id, is no snapshot */
	CHECK_STR(norm("/srv/snapshots/2024/fs/a", NULL), "/srv/snapshots/*/fs/a");
	CHECK_STR(norm("/srv/snapshots/daily/fs/a", NULL), "/srv/snapshots/daily/fs/a");

	/* c. read-only library dirs */
	CHECK_STR(norm("/usr/lib/x86_64-linux-gnu/libc.so.6", "r"), "/usr/lib/x86_64-linux-gnu/**");
	CHECK_STR(norm("/lib/x86_64-linux-gnu/libm.so.6", "rm"), "/lib/x86_64-linux-gnu/**");
	CHECK_STR(norm("/usr/lib/aarch64-linux-gnu/libc.so.6", NULL),
		  "/usr/lib/aarch64-linux-gnu/**");
	CHECK_STR(norm("/lib/aarch64-linux-gnu/libc.so.6", ""), "/lib/aarch64-linux-gnu/**");
	CHECK_STR(norm("/usr/lib/x86_64-linux-gnu/gconv/gconv-modules", "r"),
		  "/usr/lib/x86_64-linux-gnu/**");
	CHECK_STR(norm("/usr/lib/x86_64-linux-gnu/", "r"), "/usr/lib/x86_64-linux-gnu/");
	/* a write keeps the path (vArmor: a, w, l, k; c and d are writes) */
	CHECK_STR(norm("/usr/lib/x86_64-linux-gnu/libc.so.6", "rw"),
		  "/usr/lib/x86_64-linux-gnu/libc.so.6");
	CHECK_STR(norm("/usr/lib/x86_64-linux-gnu/x.so", "a"), "/usr/lib/x86_64-linux-gnu/x.so");
	CHECK_STR(norm("/usr/lib/x86_64-linux-gnu/x.so", "l"), "/usr/lib/x86_64-linux-gnu/x.so");
	CHECK_STR(norm("/usr/lib/x86_64-linux-gnu/x.so", "k"), "/usr/lib/x86_64-linux-gnu/x.so");
	CHECK_STR(norm("/usr/lib/x86_64-linux-gnu/x.so", "c"), "/usr/lib/x86_64-linux-gnu/x.so");
	CHECK_STR(norm("/usr/lib/x86_64-linux-gnu/x.so", "d"), "/usr/lib/x86_64-linux-gnu/x.so");
	/* other library dirs are not widened */
	CHECK_STR(norm("/usr/lib/python3.11/os.py", "r"), "/usr/lib/python3.11/os.py");
	CHECK_STR(norm("/lib64/ld-linux-x86-64.so.2", "r"), "/lib64/ld-linux-x86-64.so.2");
	char out[256];
	CHECK(pathnorm_normalize("/usr/lib/x86_64-linux-gnu/libc.so.6", out, sizeof(out)) == 0);
	CHECK_STR(out, "/usr/lib/x86_64-linux-gnu/**");

	/* d. /tmp */
	CHECK_STR(norm("/tmp/tmp.Ab3dE9xYz1/out.log", "rw"), "/tmp/**");
	CHECK_STR(norm("/tmp/x", "r"), "/tmp/**");
	CHECK_STR(norm("/tmp/", "r"), "/tmp/");
	CHECK_STR(norm("/tmp", "r"), "/tmp");
	CHECK_STR(norm("/tmpfoo/x", "r"), "/tmpfoo/x");
	CHECK_STR(norm("/var/tmp/x", "r"), "/var/tmp/x");

	/* e. service-account tokens */
	CHECK_STR(norm("/var/run/secrets/kubernetes.io/serviceaccount/"
		       "..2024_01_01_00_00_00.123456789/token",
		       "r"),
		  "/var/run/secrets/kubernetes.io/serviceaccount/**");
	CHECK_STR(norm("/run/secrets/kubernetes.io/serviceaccount/token", "r"),
		  "/run/secrets/kubernetes.io/serviceaccount/**");
	CHECK_STR(norm("/run/secrets/kubernetes.io/serviceaccount/", "r"),
		  "/run/secrets/kubernetes.io/serviceaccount/**");
	CHECK_STR(norm("/run/secrets/kubernetes.io/serviceaccount", "r"),
		  "/run/secrets/kubernetes.io/serviceaccount");
	/* other projected volumes: only the timestamped dir */
	CHECK_STR(norm("/etc/config/..2024_05_01_10_00_00.123456789/app.yaml", "r"),
		  "/etc/config/*/app.yaml");
	CHECK_STR(norm("/etc/config/..data/app.yaml", "r"), "/etc/config/..data/app.yaml");

	/* f. /proc (vArmor's own test cases) */
	CHECK_STR(norm("/proc/1", "wr"), "/proc/*");
	CHECK_STR(norm("/proc/1/", "wr"), "/proc/*/");
	CHECK_STR(norm("/proc/1106048/fdinfo/10", "wr"), "/proc/*/fdinfo/*");
	CHECK_STR(norm("/proc/1106110/net/ip6_tables_names", "wr"), "/proc/*/net/ip6_tables_names");
	CHECK_STR(norm("/proc/1106048/task/10", "wr"), "/proc/*/task/*");
	CHECK_STR(norm("/proc/9/fd/107", "wr"), "/proc/*/fd/*");
	CHECK_STR(norm("/proc/1106048/mountinfo", "wr"), "/proc/*/mountinfo");
	CHECK_STR(norm("/proc/122/map_files", "wr"), "/proc/*/map_files");
	CHECK_STR(norm("/proc/122/map_files/5565eaa95000-5565eaac3000", "wr"),
		  "/proc/*/map_files/*");
	CHECK_STR(norm("/proc/self/status", "r"), "/proc/self/status");
	CHECK_STR(norm("/proc/sys/kernel/random/boot_id", "r"), "/proc/sys/kernel/random/boot_id");
	CHECK_STR(norm("/proc", "r"), "/proc");
	/* only whole numeric segments, only under /proc */
	CHECK_STR(norm("/proc/12ab/x", "r"), "/proc/12ab/x");
	CHECK_STR(norm("/procfoo/12/x", "r"), "/procfoo/12/x");

	/* g. library trees are not classified */
	CHECK_STR(norm("/usr/lib/python3/dist-packages/"
		       "81d243bd2c585b0f4821__mypyc.cpython-311-x86_64-linux-gnu.so",
		       "r"),
		  "/usr/lib/python3/dist-packages/"
		  "81d243bd2c585b0f4821__mypyc.cpython-311-x86_64-linux-gnu.so");
	CHECK_STR(norm("/usr/local/lib/0dbdc97f1abcaff72aed4bfd223f22d6/x", "r"),
		  "/usr/local/lib/0dbdc97f1abcaff72aed4bfd223f22d6/x");

	/* h. the classifier elsewhere */
	CHECK_STR(norm("/var/lib/kubelet/pods/6d0eb515-5ab1-4e6b-91ba-fe0860d2596c/volumes/"
		       "kubernetes.io~projected/kube-api-access-x8k2q/token",
		       "r"),
		  "/var/lib/kubelet/pods/*/volumes/kubernetes.io~projected/*/token");
	CHECK_STR(
	    norm("/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice/"
		 "kubepods-besteffort-pod6d0eb515_5ab1_4e6b_91ba_fe0860d2596c.slice/"
		 "cri-containerd-0dbdc97f1abcaff72aed4bfd223f22d6ec8b5d62feabee7a6da7fcef3c1130fe."
		 "scope/memory.max",
		 "r"),
	    "/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice/*/*/memory.max");
	CHECK_STR(norm("/run/containerd/io.containerd.runtime.v2.task/k8s.io/"
		       "0dbdc97f1abcaff72aed4bfd223f22d6ec8b5d62feabee7a6da7fcef3c1130fe/rootfs",
		       "r"),
		  "/run/containerd/io.containerd.runtime.v2.task/k8s.io/*/rootfs");
	CHECK_STR(norm("/home/app/.cache/pip/http-v2/a/b/c/d/e/"
		       "3f2b18f395d694305af0b3d8a8263cbcd1fe3a40e3eb4d37dd4689ba",
		       "rw"),
		  "/home/app/.cache/pip/http-v2/a/b/c/d/e/*");
	CHECK_STR(norm("/var/log/pods/default_nginx-7c5ddbdf54-x8k2q_6d0eb515-5ab1-4e6b-91ba-"
		       "fe0860d2596c/nginx/0.log",
		       "w"),
		  "/var/log/pods/*/nginx/0.log");
}

static void test_errors_and_hostile(void)
{
	char out[64], small[8];

	CHECK(pathnorm_normalize("etc/passwd", out, sizeof(out)) == -EINVAL);
	CHECK(pathnorm_normalize("", out, sizeof(out)) == -EINVAL);
	CHECK(pathnorm_normalize(NULL, out, sizeof(out)) == -EINVAL);
	CHECK(pathnorm_normalize("/etc", NULL, 10) == -EINVAL);
	CHECK(pathnorm_normalize("/etc", out, 0) == -EINVAL);
	CHECK(pathnorm_normalize("/etc/passwd", small, sizeof(small)) == -ENAMETOOLONG);
	CHECK_STR(small, "");
	CHECK(pathnorm_normalize("/etc/pass", small, sizeof(small)) == -ENAMETOOLONG);
	CHECK(pathnorm_normalize("/etc/pa", small, sizeof(small)) == 0);
	CHECK_STR(small, "/etc/pa");
	CHECK(pathnorm_normalize("/tmp/abc", small, sizeof(small)) == 0);
	CHECK_STR(small, "/tmp/**");
	CHECK(pathnorm_normalize("/tmp/abc", small, 7) == -ENAMETOOLONG);

	/* literals stay literal: the generator escapes them */
	CHECK_STR(norm("/data/a*b", "r"), "/data/a*b");
	CHECK_STR(norm("/data/x, /** rwx,\n", "r"), "/data/x, /** rwx,\n");
	CHECK_STR(norm("/data/\"q\"/{a,b}/[x]?/^", "r"), "/data/\"q\"/{a,b}/[x]?/^");
	CHECK_STR(norm("/data/1714550400*", "r"), "/data/1714550400*");
	CHECK_STR(norm("/data/6d0eb515-5ab1-4e6b-91ba-fe0860d2596c\n", "r"),
		  "/data/6d0eb515-5ab1-4e6b-91ba-fe0860d2596c\n");
	CHECK_STR(norm("/data/caf\xc3\xa9/\xff\xfe", "r"), "/data/caf\xc3\xa9/\xff\xfe");
	CHECK_STR(norm("/data/# comment", "r"), "/data/# comment");

	/* very long paths: no crash, -ENAMETOOLONG or a correct result */
	size_t n = 1 << 20;
	char *big = malloc(n + 1), *res = malloc(n + 8);
	CHECK(big && res);
	if (big && res) {
		for (size_t i = 0; i < n; i++)
			big[i] = i % 2 ? 'a' : '/';
		big[n] = '\0';
		CHECK(pathnorm_normalize(big, res, n + 8) == 0);
		CHECK(strcmp(res, big) == 0);
		CHECK(pathnorm_normalize(big, out, sizeof(out)) == -ENAMETOOLONG);
		memset(big, '/', n);
		CHECK(pathnorm_normalize(big, res, n + 8) == 0);
		CHECK_STR(res, "/");
		for (size_t i = 0; i + 3 <= n; i += 3)
			memcpy(big + i, "/..", 3);
		CHECK(pathnorm_normalize(big, res, n + 8) == 0);
		CHECK_STR(res, "/");
		memset(big + 1, '7', n - 1);
		CHECK(pathnorm_normalize(big, res, n + 8) == 0);
		CHECK_STR(res, "/*");
	}
	free(big);
	free(res);

	/* every byte value in a segment: only whole-segment globs come out */
	for (int c = 1; c < 256; c++) {
		char p[32], o[64];
		snprintf(p, sizeof(p), "/srv/x%c1714550400/y", c);
		CHECK(pathnorm_normalize(p, o, sizeof(o)) == 0);
		const char *star = strchr(o, '*');
		if (c == '*' || c == '/')
			continue;
		/* either the segment is kept byte for byte or it is '*' */
		CHECK(star == NULL || (star[-1] == '/' && star[1] == '/'));
	}
}

int main(void)
{
	test_labeled_set();
	test_classifier_examples();
	test_rules();
	test_errors_and_hostile();
	return TEST_SUMMARY();
}
