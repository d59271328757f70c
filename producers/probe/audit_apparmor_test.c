/* AppArmor audit parsing: conformance with libapparmor over the shared
 * corpus (its own test cases and expected results), then hostile input.
 *
 * The corpus is ../shared/corpus/apparmor-audit/ beside the checkout
 * (ARMORSMITH_APPARMOR_CORPUS overrides the directory); users do not have
 * it, so that part is skipped, loudly, when it is absent. */
#include "audit_apparmor.h"
#include "testing.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAIRS 64

struct kv {
	char key[32];
	char *value;
};

struct kv_list {
	size_t n;
	struct kv kv[MAX_PAIRS];
};

/* Cases where we deliberately report something other than libapparmor:
 * a mismatch on that key of that case is accepted; each entry must say why.
 * None of the corpus (nor of libapparmor's full test_multi suite at bda75d4,
 * 179 cases) needs one.
 *
 * Deliberate differences on input outside the corpus, each for records
 * libapparmor would throw away as INVALID (test_forms() covers them):
 * - keys it does not know (a newer kernel's) are skipped, not the end of
 *   the record: an ALLOWED event must not vanish from a model because the
 *   kernel added a field;
 * - a hex-encoded target, peer, execpath or srcname is decoded (the kernel
 *   encodes them when they hold spaces); a hex target that decodes to binary
 *   data (LP: #1689667's garbage) is still damage, as the corpus expects;
 * - any text may precede the record (node=..., a container log prefix), not
 *   only syslog/dmesg prefixes; a type= glued to that text is not read
 *   (status-filesystem-enabled);
 * - an unknown apparmor= value (a newer kernel's "KILLED") makes the event
 *   INVALID but the fields are still read;
 * - backslashes inside quotes are literal: the kernel never escapes, it
 *   hex-encodes, so libapparmor's unescaping could only corrupt a name;
 * - a msg=' left open by a cut line is read to the end of the line in every
 *   form, not only in the syslog one. */
static const struct {
	const char *file;
	const char *key;
	const char *reason;
} deliberate[] = {
    {NULL, NULL, NULL},
};

static void kv_add(struct kv_list *l, const char *key, const char *value)
{
	if (l->n == MAX_PAIRS)
		return;
	snprintf(l->kv[l->n].key, sizeof(l->kv[l->n].key), "%s", key);
	l->kv[l->n].value = strdup(value);
	l->n++;
}

static void kv_addu(struct kv_list *l, const char *key, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	kv_add(l, key, buf);
}

static void kv_free(struct kv_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->kv[i].value);
	l->n = 0;
}

static const char *kv_get(const struct kv_list *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->kv[i].key, key) == 0)
			return l->kv[i].value;
	return NULL;
}

/* parse-audit keys under the labels of libapparmor's test_multi; numbers
 * libapparmor leaves unset at 0 are not printed when 0. */
static const struct {
	const char *key, *label;
	bool zero_unset;
} labels[] = {
    {"operation", "Operation", false},
    {"requested_mask", "Mask", false},
    {"denied_mask", "Denied Mask", false},
    {"fsuid", "fsuid", false},
    {"ouid", "ouid", false},
    {"profile", "Profile", false},
    {"peer_profile", "Peer profile", false},
    {"peer", "Peer", false},
    {"name", "Name", false},
    {"comm", "Command", false},
    {"name2", "Name2", false},
    {"namespace", "Namespace", false},
    {"attribute", "Attribute", false},
    {"task", "Task", true},
    {"parent", "Parent", true},
    {"magic_token", "Token", true},
    {"info", "Info", false},
    {"peer_info", "Peer info", false},
    {"error", "ErrorCode", true},
    {"pid", "PID", true},
    {"peer_pid", "Peer PID", true},
    {"addr", "Net Addr", false},
    {"peer_addr", "Peer Addr", false},
    {"family", "Network family", false},
    {"sock_type", "Socket type", false},
    {"protocol", "Protocol", false},
    {"laddr", "Local addr", false},
    {"faddr", "Foreign addr", false},
    {"lport", "Local port", true},
    {"fport", "Foreign port", true},
    {"bus", "DBus bus", false},
    {"path", "DBus path", false},
    {"interface", "DBus interface", false},
    {"member", "DBus member", false},
    {"signal", "Signal", false},
    {"fstype", "FS Type", false},
    {"flags", "Flags", false},
    {"src_name", "Src name", false},
    {"execpath", "Execpath", false},
    {"class", "Class", false},
};

static void event_to_kv(const struct apparmor_event *ev, struct kv_list *l)
{
	struct apparmor_field f[APPARMOR_MAX_FIELDS];
	char idbuf[64], buf[64];
	size_t n = apparmor_event_fields(ev, f, idbuf, sizeof(idbuf));

	snprintf(buf, sizeof(buf), "AA_RECORD_%s", apparmor_kind_name(ev->apparmor));
	kv_add(l, "Event type", buf);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(f[i].key, "audit_id") == 0) {
			kv_add(l, "Audit ID", f[i].str);
			if (ev->sec)
				kv_addu(l, "Epoch", (uint64_t)ev->sec);
			if (ev->serial)
				kv_addu(l, "Audit subid", ev->serial);
			continue;
		}
		for (size_t j = 0; j < sizeof(labels) / sizeof(labels[0]); j++) {
			if (strcmp(labels[j].key, f[i].key) != 0)
				continue;
			if (f[i].str)
				kv_add(l, labels[j].label, f[i].str);
			else if (f[i].num || !labels[j].zero_unset)
				kv_addu(l, labels[j].label, f[i].num);
		}
	}
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		size_t got;

		if (cap - n < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* libapparmor's expected output: "Key: value" lines after START/File. */
static int read_expected(const char *path, struct kv_list *l)
{
	size_t len;
	char *buf = read_file(path, &len), *line, *save = NULL;

	if (!buf)
		return -errno;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strstr(line, ": ");

		if (strcmp(line, "START") == 0 || strncmp(line, "File: ", 6) == 0)
			continue;
		if (!colon) {
			/* "Name2: " with an empty value */
			size_t ll = strlen(line);

			if (ll && line[ll - 1] == ':') {
				line[ll - 1] = '\0';
				kv_add(l, line, "");
			}
			continue;
		}
		*colon = '\0';
		kv_add(l, line, colon + 2);
	}
	free(buf);
	return 0;
}

static bool is_deliberate(const char *file, const char *key)
{
	for (size_t i = 0; i < sizeof(deliberate) / sizeof(deliberate[0]); i++)
		if (deliberate[i].file && strcmp(deliberate[i].file, file) == 0 &&
		    strcmp(deliberate[i].key, key) == 0)
			return true;
	return false;
}

/* Compares one case; returns the number of differences not deliberate. */
static int compare_case(const char *dir, const char *base)
{
	char path[8192];
	struct kv_list got = {0}, want = {0};
	struct apparmor_event ev;
	char err[256];
	size_t len;
	char *in;
	int ret, diffs = 0;

	snprintf(path, sizeof(path), "%s/%s.in", dir, base);
	in = read_file(path, &len);
	if (!in) {
		fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
		return 1;
	}
	/* test_multi hands libapparmor the whole file as one record */
	ret = audit_parse_apparmor_line(in, len, &ev, err, sizeof(err));
	if (ret == -ENOMSG)
		kv_add(&got, "Event type", "AA_RECORD_INVALID");
	else if (ret == 0 || ret == -EINVAL)
		event_to_kv(&ev, &got);
	else
		fprintf(stderr, "%s: parse failed: %s\n", base, strerror(-ret));
	if (ret != -ENOMSG && ret != -ENOMEM)
		apparmor_event_free(&ev);
	free(in);

	snprintf(path, sizeof(path), "%s/%s.out", dir, base);
	if (read_expected(path, &want)) {
		fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
		kv_free(&got);
		return 1;
	}
	for (size_t i = 0; i < want.n; i++) {
		const char *g = kv_get(&got, want.kv[i].key);

		if (g && strcmp(g, want.kv[i].value) == 0)
			continue;
		if (is_deliberate(base, want.kv[i].key))
			continue;
		fprintf(stderr, "%s: %s: got '%s', libapparmor '%s'\n", base, want.kv[i].key,
			g ? g : "(absent)", want.kv[i].value);
		diffs++;
	}
	for (size_t i = 0; i < got.n; i++) {
		if (kv_get(&want, got.kv[i].key) || is_deliberate(base, got.kv[i].key))
			continue;
		fprintf(stderr, "%s: %s: got '%s', libapparmor reports none\n", base, got.kv[i].key,
			got.kv[i].value);
		diffs++;
	}
	kv_free(&got);
	kv_free(&want);
	return diffs;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_corpus(void)
{
	const char *env = getenv("ARMORSMITH_APPARMOR_CORPUS");
	const char *src = getenv("ARMORSMITH_SOURCE_DIR");
	char dir[4096];
	char **names = NULL;
	size_t n = 0, cap = 0, matched = 0;
	struct dirent *de;
	DIR *d;

	if (env)
		snprintf(dir, sizeof(dir), "%s", env);
	else
		snprintf(dir, sizeof(dir), "%s/../shared/corpus/apparmor-audit", src ? src : ".");
	d = opendir(dir);
	if (!d) {
		printf("SKIP conformance: no libapparmor corpus at %s (%s); it lives only beside "
		       "the project's checkouts\n",
		       dir, strerror(errno));
		return;
	}
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);

		if (l < 4 || strcmp(de->d_name + l - 3, ".in") != 0)
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap ? cap * 2 : 64) * sizeof(*names));

			CHECK(nn != NULL);
			if (!nn)
				break;
			names = nn;
			cap = cap ? cap * 2 : 64;
		}
		names[n] = strndup(de->d_name, l - 3);
		CHECK(names[n] != NULL);
		if (names[n])
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		int diffs = compare_case(dir, names[i]);

		CHECK(diffs == 0);
		if (!diffs)
			matched++;
		free(names[i]);
	}
	free(names);
	printf("conformance: %zu of %zu libapparmor cases match field for field (%s)\n", matched, n,
	       dir);
	CHECK(n > 0);
}

/* Parses one line; returns the result and leaves the event to free. */
static int parse(const char *line, struct apparmor_event *ev, char *err, size_t errlen)
{
	return audit_parse_apparmor_line(line, strlen(line), ev, err, errlen);
}

static void test_forms(void)
{
	struct apparmor_event ev;
	char err[256];
	struct apparmor_field f[APPARMOR_MAX_FIELDS];
	char idbuf[64];
	size_t n;

	/* the seed's complain-mode records */
	CHECK(parse("type=AVC msg=audit(1732800000.123:456): apparmor=\"ALLOWED\" "
		    "operation=\"open\" class=\"file\" profile=\"varmor-demo\" name=\"/etc/hosts\" "
		    "pid=42 comm=\"cat\" requested_mask=\"r\" denied_mask=\"r\" fsuid=0 ouid=0",
		    &ev, err, sizeof(err)) == 0);
	CHECK(ev.apparmor == APPARMOR_ALLOWED);
	CHECK_STR(ev.name, "/etc/hosts");
	CHECK(ev.has & APPARMOR_HAS_OUID);
	n = apparmor_event_fields(&ev, f, idbuf, sizeof(idbuf));
	CHECK(n >= 3);
	CHECK_STR(f[0].key, "apparmor");
	CHECK_STR(f[1].key, "audit_id");
	CHECK_STR(f[1].str, "1732800000.123:456");
	apparmor_event_free(&ev);

	/* old-style type number without apparmor=, hex name with spaces */
	CHECK(parse("type=1503 audit(1.002:3): operation=\"open\" name=2F612062 pid=7", &ev, err,
		    sizeof(err)) == 0);
	CHECK(ev.apparmor == APPARMOR_DENIED);
	CHECK_STR(ev.name, "/a b");
	apparmor_event_free(&ev);

	/* numeric protocols are named; unknown ones say so */
	CHECK(parse("type=AVC msg=audit(1.000:1): apparmor=\"DENIED\" protocol=1", &ev, err,
		    sizeof(err)) == 0);
	CHECK_STR(ev.protocol, "icmp");
	apparmor_event_free(&ev);
	CHECK(parse("type=AVC msg=audit(1.000:1): apparmor=\"DENIED\" protocol=4000", &ev, err,
		    sizeof(err)) == 0);
	CHECK_STR(ev.protocol, "unknown(4000)");
	apparmor_event_free(&ev);

	/* a hex target that decodes to a name is read; garbage is damage */
	CHECK(parse("type=AVC msg=audit(1.000:1): apparmor=\"ALLOWED\" operation=\"exec\" "
		    "target=2F612062",
		    &ev, err, sizeof(err)) == 0);
	CHECK_STR(ev.name2, "/a b");
	apparmor_event_free(&ev);
	CHECK(parse("type=AVC msg=audit(1.000:1): apparmor=\"DENIED\" pid=3 target=8022C0FF", &ev,
		    err, sizeof(err)) == -EINVAL);
	CHECK(ev.apparmor == APPARMOR_INVALID && ev.pid == 3 && !ev.name2);
	CHECK(strstr(err, "target") != NULL);
	apparmor_event_free(&ev);

	/* other subsystems' records: INVALID, their type and message */
	CHECK(parse("type=SECCOMP msg=audit(1.000:1): auid=1 uid=0 syscall=39", &ev, err,
		    sizeof(err)) == 0);
	CHECK(ev.apparmor == APPARMOR_INVALID);
	CHECK_STR(ev.operation, "SECCOMP");
	CHECK_STR(ev.info, "auid=1 uid=0 syscall=39");
	apparmor_event_free(&ev);

	/* not audit records at all */
	CHECK(parse("Nov 28 12:00:00 host sshd[1]: Accepted publickey", &ev, err, sizeof(err)) ==
	      -ENOMSG);
	CHECK(parse("", &ev, err, sizeof(err)) == -ENOMSG);
	CHECK(audit_parse_apparmor_line(NULL, 5, &ev, err, sizeof(err)) == -ENOMSG);

	/* a broken id is a damaged record, not a skipped line */
	CHECK(parse("type=AVC msg=audit(1x.000:1): apparmor=\"DENIED\"", &ev, err, sizeof(err)) ==
	      -EINVAL);
	CHECK(ev.apparmor == APPARMOR_INVALID && !(ev.has & APPARMOR_HAS_AUDIT_ID));
	CHECK(strstr(err, "audit event id") != NULL);
	apparmor_event_free(&ev);

	/* the deliberate differences listed at the top */
	CHECK(parse("node=n1 type=AVC msg=audit(1.000:1): apparmor=\"ALLOWED\" newkey=\"x\" "
		    "operation=\"open\" peer=2F612062 name=\"a\\b\"",
		    &ev, err, sizeof(err)) == 0);
	CHECK(ev.apparmor == APPARMOR_ALLOWED);
	CHECK_STR(ev.operation, "open");
	CHECK_STR(ev.peer, "/a b");
	CHECK_STR(ev.name, "a\\b");
	apparmor_event_free(&ev);
	CHECK(parse("type=AVC msg=audit(1.000:1): apparmor=\"KILLED\" operation=\"open\"", &ev, err,
		    sizeof(err)) == 0);
	CHECK(ev.apparmor == APPARMOR_INVALID);
	CHECK_STR(ev.operation, "open");
	apparmor_event_free(&ev);
	CHECK(parse("type=USER_AVC msg=audit(1.000:1): pid=1 uid=0 auid=2 ses=3 msg='apparmor="
		    "\"DENIED\" operation=\"dbus_bind\" pid=7",
		    &ev, err, sizeof(err)) == 0);
	CHECK(ev.apparmor == APPARMOR_DENIED && ev.pid == 7);
	apparmor_event_free(&ev);
	/* dbus-daemon through syslog: no event id */
	CHECK(parse("Jul 31 17:11:16 host dbus[1692]: apparmor=\"DENIED\" operation=\"dbus_bind\" "
		    "bus=\"session\" name=\"com.x\" mask=\"bind\" pid=2940",
		    &ev, err, sizeof(err)) == 0);
	CHECK(ev.apparmor == APPARMOR_DENIED && !(ev.has & APPARMOR_HAS_AUDIT_ID));
	CHECK_STR(ev.denied_mask, "bind");
	CHECK_STR(ev.bus, "session");
	apparmor_event_free(&ev);

	/* a record from audit_record_parse_ex() */
	{
		struct audit_record rec;
		const char *l =
		    "type=AVC msg=audit(5.000:6): apparmor=\"HINT\" operation=\"clone\"";

		CHECK(audit_record_parse_ex(l, strlen(l), AUDIT_PARSE_LENIENT, &rec) == 0);
		CHECK(audit_parse_apparmor(&rec, &ev, NULL, 0) == 0);
		CHECK(ev.apparmor == APPARMOR_HINT && ev.sec == 5 && ev.serial == 6);
		CHECK_STR(ev.operation, "clone");
		apparmor_event_free(&ev);
		audit_record_free(&rec);
	}
}

static void test_hostile(void)
{
	struct apparmor_event ev;
	char err[256];
	int ret;

	/* a line cut off inside a value: INVALID with what came before */
	ret = parse("type=AVC msg=audit(1.000:2): apparmor=\"DENIED\" operation=\"open\" pid=9 "
		    "name=\"/usr/li",
		    &ev, err, sizeof(err));
	CHECK(ret == -EINVAL);
	CHECK(ev.apparmor == APPARMOR_INVALID);
	CHECK_STR(ev.operation, "open");
	CHECK(ev.pid == 9 && !ev.name);
	CHECK(strstr(err, "name=") != NULL);
	apparmor_event_free(&ev);

	/* cut off inside a key */
	ret = parse("type=AVC msg=audit(1.000:2): apparmor=\"DENIED\" operation=\"open\" pi", &ev,
		    err, sizeof(err));
	CHECK(ret == -EINVAL && ev.apparmor == APPARMOR_INVALID);
	apparmor_event_free(&ev);

	/* unbalanced quotes of every kind */
	{
		static const char *const lines[] = {
		    "type=AVC msg=audit(1.000:2): apparmor=\"",
		    "type=AVC msg=audit(1.000:2): apparmor=\"DENIED",
		    "type=AVC msg=audit(1.000:2): name='x",
		    "type=AVC msg=audit(1.000:2): \"\"\"\"\"",
		    "type=USER_AVC msg=audit(1.000:2): pid=1 msg='apparmor=\"DENIED\" name=\"x",
		    "type=AVC msg=audit(1.000:2): apparmor=\"DENIED\" name==\"x\"\"",
		    "type=AVC msg=audit(1.000:2): =\"=\"=",
		    "\"audit(1.000:2): apparmor=\"DENIED\"",
		    "apparmor=\"",
		};

		for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
			ret = parse(lines[i], &ev, err, sizeof(err));
			CHECK(ret == 0 || ret == -EINVAL || ret == -ENOMSG);
			if (ret == -EINVAL)
				CHECK(ev.apparmor == APPARMOR_INVALID && err[0]);
			if (ret != -ENOMSG)
				apparmor_event_free(&ev);
		}
	}

	/* NUL bytes end the record: nothing after one is read */
	{
		static const char l[] = "type=AVC msg=audit(1.000:2): apparmor=\"DENIED\" pid=4\0 "
					"name=\"/etc/shadow\"";
		static const char l2[] = "\0type=AVC msg=audit(1.000:2): apparmor=\"DENIED\"";

		CHECK(audit_parse_apparmor_line(l, sizeof(l) - 1, &ev, err, sizeof(err)) == 0);
		CHECK(ev.apparmor == APPARMOR_DENIED && ev.pid == 4 && !ev.name);
		apparmor_event_free(&ev);
		CHECK(audit_parse_apparmor_line(l2, sizeof(l2) - 1, &ev, err, sizeof(err)) ==
		      -ENOMSG);
	}
	/* hex that decodes to NUL and control bytes */
	ret = parse("type=AVC msg=audit(1.000:2): apparmor=\"DENIED\" name=2F000A41 comm=00", &ev,
		    err, sizeof(err));
	CHECK(ret == 0 && ev.name && ev.comm);
	if (ret == 0)
		apparmor_event_free(&ev);

	/* numbers out of range and of the wrong form */
	ret = parse("type=AVC msg=audit(1.000:2): apparmor=\"DENIED\" pid=99999999999999999999999",
		    &ev, err, sizeof(err));
	CHECK(ret == -EINVAL && strstr(err, "pid") != NULL);
	apparmor_event_free(&ev);
	ret = parse("type=AVC msg=audit(1.000:2): apparmor=\"DENIED\" error=--13", &ev, err,
		    sizeof(err));
	CHECK(ret == -EINVAL);
	apparmor_event_free(&ev);
	ret = parse("type=AVC msg=audit(1.000:2): apparmor=\"DENIED\" protocol=\"0123456789012345"
		    "678901234567890123456789\"",
		    &ev, err, sizeof(err));
	CHECK(ret == -EINVAL);
	apparmor_event_free(&ev);

	/* 100 KB lines: one huge value, and thousands of fields */
	{
		size_t big = 100 * 1024;
		char *l = malloc(big + 256);

		CHECK(l != NULL);
		if (l) {
			int off = snprintf(l, 256,
					   "type=AVC msg=audit(1.000:2): apparmor=\"ALLOWED\" "
					   "name=\"");

			memset(l + off, 'a', big);
			snprintf(l + off + big, 256 - (size_t)off, "\" pid=5");
			CHECK(parse(l, &ev, err, sizeof(err)) == 0);
			CHECK(ev.name && strlen(ev.name) == big && ev.pid == 5);
			apparmor_event_free(&ev);

			/* the same line without its end */
			CHECK(audit_parse_apparmor_line(l, (size_t)off + big / 2, &ev, err,
							sizeof(err)) == -EINVAL);
			apparmor_event_free(&ev);

			off = snprintf(l, 256, "type=AVC msg=audit(1.000:2): apparmor=\"DENIED\"");
			while ((size_t)off + 16 < big)
				off += snprintf(l + off, 16, " pid=%d", off % 1000);
			CHECK(parse(l, &ev, err, sizeof(err)) == 0);
			CHECK(ev.apparmor == APPARMOR_DENIED && ev.has & APPARMOR_HAS_PID);
			apparmor_event_free(&ev);

			/* 100 KB of hex */
			off = snprintf(l, 256,
				       "type=AVC msg=audit(1.000:2): apparmor=\"DENIED\" "
				       "name=");
			for (size_t i = 0; i + 2 < big; i += 2)
				off += snprintf(l + off, 3, "41");
			CHECK(parse(l, &ev, err, sizeof(err)) == 0);
			CHECK(ev.name && ev.name[0] == 'A');
			apparmor_event_free(&ev);
			free(l);
		}
	}

	/* every byte value once, as a line */
	{
		char l[300];
		int off = snprintf(l, sizeof(l), "type=AVC msg=audit(1.000:2): ");

		for (int c = 1; c < 256; c += 1) {
			l[off] = (char)c;
			l[off + 1] = '\0';
			ret = parse(l, &ev, err, sizeof(err));
			CHECK(ret == 0 || ret == -EINVAL);
			apparmor_event_free(&ev);
		}
	}
}

int main(void)
{
	test_corpus();
	test_forms();
	test_hostile();
	return TEST_SUMMARY();
}
