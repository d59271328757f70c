#include "audit_record.h"
#include "audit_seccomp.h"
#include "testing.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EVENTS 128

enum section { SEC_NONE, SEC_GOOD, SEC_NOT_SECCOMP, SEC_BAD };

static struct seccomp_event events[MAX_EVENTS];
static size_t nevents;

static const struct seccomp_event *find_event(uint64_t serial)
{
	for (size_t i = 0; i < nevents; i++)
		if (events[i].serial == serial)
			return &events[i];
	fprintf(stderr, "no event with serial %llu\n", (unsigned long long)serial);
	return NULL;
}

static void check_bad_line(const char *line, size_t len)
{
	struct seccomp_event ev;
	struct audit_record rec;
	char err[256] = "";
	int ret = audit_parse_seccomp_line(line, len, &ev, err, sizeof(err));
	uint64_t serial = 0;

	CHECK(ret < 0);
	CHECK(err[0] != '\0');
	if (audit_record_parse(line, len, &rec) == 0) {
		serial = rec.serial;
		audit_record_free(&rec);
	}
	switch (serial) {
	case 9106:
		CHECK(ret == -EINVAL);
		CHECK(strstr(err, "invalid syscall=open") != NULL);
		break;
	case 9107:
		CHECK(ret == -EINVAL);
		CHECK(strstr(err, "arch=deadbeef is unknown") != NULL);
		break;
	case 9108:
		CHECK(ret == -ENOENT);
		CHECK(strstr(err, "no syscall 5000 on x86_64") != NULL);
		break;
	case 9109:
		CHECK(ret == -EINVAL);
		CHECK(strstr(err, "no arch=") != NULL);
		break;
	case 9110:
		CHECK(ret == -EINVAL);
		CHECK(strstr(err, "invalid pid=42x7") != NULL);
		break;
	default:
		CHECK(ret == -EINVAL);
	}
}

static bool testdata_loaded;

static void load_testdata(void)
{
	const char *root = getenv("ARMORSMITH_SOURCE_DIR");
	char path[4096], err[256];
	enum section sec = SEC_NONE;
	size_t good = 0, other = 0, bad = 0, cap = 0;
	char *line = NULL;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/producers/probe/testdata/seccomp.log", root ? root : ".");
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (!f) {
		perror(path);
		return;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		struct audit_record rec;

		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (strncmp(line, "# section: ", 11) == 0) {
			sec = strcmp(line + 11, "good") == 0	      ? SEC_GOOD
			      : strcmp(line + 11, "not-seccomp") == 0 ? SEC_NOT_SECCOMP
			      : strcmp(line + 11, "bad") == 0	      ? SEC_BAD
								      : SEC_NONE;
			continue;
		}
		if (line[0] == '#')
			continue;
		switch (sec) {
		case SEC_GOOD:
			good++;
			CHECK(nevents < MAX_EVENTS);
			if (nevents >= MAX_EVENTS)
				break;
			err[0] = '\0';
			if (audit_parse_seccomp_line(line, (size_t)n, &events[nevents], err,
						     sizeof(err)) == 0)
				nevents++;
			else
				fprintf(stderr, "good line failed: %s\n  %s\n", err, line);
			break;
		case SEC_NOT_SECCOMP:
			other++;
			CHECK(audit_record_parse(line, (size_t)n, &rec) == 0);
			if (rec.type) {
				struct seccomp_event ev;

				err[0] = '\0';
				CHECK(audit_parse_seccomp(&rec, &ev, err, sizeof(err)) == -EINVAL);
				CHECK(strstr(err, "not SECCOMP") != NULL);
				audit_record_free(&rec);
			}
			break;
		case SEC_BAD:
			bad++;
			check_bad_line(line, (size_t)n);
			break;
		case SEC_NONE:
			CHECK(!"line outside any section");
		}
	}
	free(line);
	fclose(f);
	testdata_loaded = true;
	CHECK(good == 39);
	CHECK(nevents == good);
	CHECK(other == 2);
	CHECK(bad == 13);
}

static void test_captured_events(void)
{
	const struct seccomp_event *e;

	/* load_testdata() has counted the failure already */
	if (!testdata_loaded)
		return;
	/* auditd, uid 0 without a login session */
	e = find_event(4);
	CHECK(e != NULL);
	if (e) {
		CHECK(e->sec == 1795887144);
		CHECK(e->msec == 986);
		CHECK(e->pid == 4247);
		CHECK(e->uid == 0);
		CHECK(e->auid == AUDIT_ID_UNSET);
		CHECK(e->ses == AUDIT_ID_UNSET);
		CHECK_STR(e->comm, "cap");
		CHECK_STR(e->exe, "/tmp/cap/cap");
		CHECK(e->arch == 0xc000003e);
		CHECK(e->syscall_nr == 39);
		CHECK(e->code == 0x7ffc0000);
		CHECK_STR(e->arch_name, "x86_64");
		CHECK_STR(e->syscall_name, "getpid");
	}
	e = find_event(5);
	CHECK(e && e->syscall_nr == 257);
	CHECK_STR(e ? e->syscall_name : NULL, "openat");
	e = find_event(6);
	CHECK_STR(e ? e->syscall_name : NULL, "close");

	/* int $0x80 with eax=20: i386 numbering, not x86_64's writev */
	e = find_event(7);
	CHECK(e && e->arch == 0x40000003 && e->syscall_nr == 20);
	CHECK_STR(e ? e->arch_name : NULL, "x86");
	CHECK_STR(e ? e->syscall_name : NULL, "getpid");

	/* x32: the kernel says arch=c000003e, the number carries the x32 bit */
	e = find_event(8);
	CHECK(e && e->arch == 0xc000003e && e->syscall_nr == 0x40000027);
	CHECK_STR(e ? e->arch_name : NULL, "x32");
	CHECK_STR(e ? e->syscall_name : NULL, "getpid");

	e = find_event(12);
	CHECK_STR(e ? e->syscall_name : NULL, "prctl");
	CHECK_STR(e ? e->comm : NULL, "cap");
	/* after prctl(PR_SET_NAME, "my prog") the kernel hex-encodes comm */
	e = find_event(13);
	CHECK_STR(e ? e->comm : NULL, "my prog");
	CHECK_STR(e ? e->syscall_name : NULL, "getpid");
	e = find_event(16);
	CHECK_STR(e ? e->comm : NULL, "my prog");
	CHECK_STR(e ? e->syscall_name : NULL, "getpid");
	e = find_event(20);
	CHECK_STR(e ? e->syscall_name : NULL, "exit_group");

	/* with a login uid: auid and ses are set */
	e = find_event(27);
	CHECK(e != NULL);
	if (e) {
		CHECK(e->pid == 4508);
		CHECK(e->uid == 1000);
		CHECK(e->auid == 1000);
		CHECK(e->ses == 2);
		CHECK(e->sec == 1795887168 && e->msec == 598);
		CHECK_STR(e->syscall_name, "getpid");
	}
	e = find_event(25);
	CHECK_STR(e ? e->syscall_name : NULL, "getpid");
	CHECK_STR(e ? e->arch_name : NULL, "x86");
	e = find_event(28);
	CHECK_STR(e ? e->syscall_name : NULL, "newfstatat");

	/* dmesg form */
	e = find_event(31);
	CHECK(e && e->pid == 4589);
	CHECK_STR(e ? e->syscall_name : NULL, "prctl");
	e = find_event(32);
	CHECK_STR(e ? e->comm : NULL, "kmsg prog");
	e = find_event(35);
	CHECK_STR(e ? e->syscall_name : NULL, "getpid");
	CHECK_STR(e ? e->arch_name : NULL, "x86");
	e = find_event(36);
	CHECK_STR(e ? e->arch_name : NULL, "x32");

	/* derived forms */
	e = find_event(9035);
	CHECK(e && e->sec == 1795887173 && e->msec == 82 && e->syscall_nr == 20);
	CHECK_STR(e ? e->syscall_name : NULL, "getpid");
	CHECK_STR(e ? e->comm : NULL, "kmsg prog");
	e = find_event(9033);
	CHECK_STR(e ? e->syscall_name : NULL, "openat");
	e = find_event(9004);
	CHECK_STR(e ? e->syscall_name : NULL, "getpid");
	e = find_event(9005);
	CHECK_STR(e ? e->syscall_name : NULL, "openat");
	e = find_event(9027);
	CHECK(e && e->auid == 1000 && e->ses == 2);
}

static int parse(const char *line, struct audit_record *rec)
{
	return audit_record_parse(line, strlen(line), rec);
}

static void test_record_types(void)
{
	struct audit_record rec;

	CHECK(parse("type=1326 msg=audit(1.000:1): a=b", &rec) == 0);
	CHECK(rec.type == 1326);
	CHECK_STR(rec.type_name, "SECCOMP");
	audit_record_free(&rec);
	CHECK(parse("type=UNKNOWN[1326] msg=audit(1.000:1): a=b", &rec) == 0);
	CHECK(rec.type == 1326);
	CHECK_STR(rec.type_name, "SECCOMP");
	audit_record_free(&rec);
	CHECK(parse("type=UNKNOWN[1999] msg=audit(1.000:1): a=b", &rec) == 0);
	CHECK(rec.type == 1999);
	CHECK_STR(rec.type_name, "UNKNOWN[1999]");
	audit_record_free(&rec);
	CHECK(parse("type=AVC msg=audit(1.000:1): a=b", &rec) == 0);
	CHECK(rec.type == 1400);
	audit_record_free(&rec);
	CHECK(parse("type=SOMETHING_NEW msg=audit(1.000:1): a=b", &rec) == 0);
	CHECK(rec.type == 0);
	CHECK_STR(rec.type_name, "SOMETHING_NEW");
	audit_record_free(&rec);
	/* no type at all: still an audit record, unclassified */
	CHECK(parse("kernel: audit(1.000:7): a=b", &rec) == 0);
	CHECK(rec.type == 0 && rec.serial == 7);
	audit_record_free(&rec);
	/* kernel form with 2 KiB of prefix and a stray "audit(" before the id */
	{
		char buf[4096];

		memset(buf, 'x', 2048);
		snprintf(
		    buf + 2048, sizeof(buf) - 2048,
		    " audit(x) audit: type=1400 audit(1732800000.123:456): apparmor=\"DENIED\"");
		CHECK(parse(buf, &rec) == 0);
		CHECK(rec.type == 1400 && rec.sec == 1732800000 && rec.msec == 123 &&
		      rec.serial == 456);
		CHECK_STR(audit_record_get(&rec, "apparmor"), "DENIED");
		audit_record_free(&rec);
	}
}

static void test_record_values(void)
{
	struct audit_record rec;
	const char *syscall_line =
	    "type=SYSCALL msg=audit(1795887139.566:3): arch=c000003e syscall=44 success=yes "
	    "items=0 tty=(none) ses=4294967295 comm=\"auditctl\" exe=\"/usr/sbin/auditctl\" "
	    "key=(null)\x1d"
	    "ARCH=x86_64 SYSCALL=sendto AUID=\"unset\"";

	CHECK(parse(syscall_line, &rec) == 0);
	CHECK_STR(audit_record_get(&rec, "key"), "(null)");
	CHECK_STR(audit_record_get(&rec, "tty"), "(none)");
	CHECK_STR(audit_record_get(&rec, "exe"), "/usr/sbin/auditctl");
	/* the enrichment after 0x1d is auditd's, not the kernel's */
	CHECK(audit_record_get(&rec, "ARCH") == NULL);
	CHECK(audit_record_get(&rec, "SYSCALL") == NULL);
	CHECK(audit_record_get(&rec, "AUID") == NULL);
	CHECK(rec.nfields == 9);
	audit_record_free(&rec);

	CHECK(
	    parse(
		"type=PROCTITLE msg=audit(1795887139.566:3): proctitle=617564697463746C002D650031",
		&rec) == 0);
	CHECK_STR(audit_record_get(&rec, "proctitle"), "auditctl -e 1");
	audit_record_free(&rec);

	/* quoted values are never decoded; odd-length or non-hex bare values
	 * stay; fields the kernel never encodes stay */
	CHECK(parse("type=SECCOMP msg=audit(1.000:1): comm=\"41424344\" exe=ABC name=4G "
		    "a0=4142 path=\"my file\" cwd=2F746D70 empty= q=\"\" last=?",
		    &rec) == 0);
	CHECK_STR(audit_record_get(&rec, "comm"), "41424344");
	CHECK_STR(audit_record_get(&rec, "exe"), "ABC");
	CHECK_STR(audit_record_get(&rec, "name"), "4G");
	CHECK_STR(audit_record_get(&rec, "a0"), "4142");
	CHECK_STR(audit_record_get(&rec, "path"), "my file");
	CHECK_STR(audit_record_get(&rec, "cwd"), "/tmp");
	CHECK_STR(audit_record_get(&rec, "empty"), "");
	CHECK_STR(audit_record_get(&rec, "q"), "");
	CHECK_STR(audit_record_get(&rec, "last"), "?");
	CHECK(audit_record_get(&rec, "missing") == NULL);
	audit_record_free(&rec);

	/* user-space records nest their fields in msg='...' */
	CHECK(parse("type=USER_AVC msg=audit(1.000:2): pid=1 uid=0 msg='apparmor=\"DENIED\" "
		    "operation=\"dbus_method_call\" bus=\"system\" hostname=? "
		    "exe=\"/usr/bin/dbus-daemon\"'",
		    &rec) == 0);
	CHECK(rec.type == 1107);
	CHECK_STR(audit_record_get(&rec, "apparmor"), "DENIED");
	CHECK_STR(audit_record_get(&rec, "operation"), "dbus_method_call");
	CHECK_STR(audit_record_get(&rec, "hostname"), "?");
	CHECK_STR(audit_record_get(&rec, "pid"), "1");
	audit_record_free(&rec);

	/* CRLF from a file copied through Windows */
	CHECK(parse("type=SECCOMP msg=audit(1.000:1): pid=5 arch=c000003e\r\n", &rec) == 0);
	CHECK_STR(audit_record_get(&rec, "arch"), "c000003e");
	audit_record_free(&rec);
}

static void test_record_garbage(void)
{
	static const char *const bad[] = {
	    "",
	    "hello world",
	    "audit(",
	    "audit(1.000:1)",
	    "msg=audit(1.00:1): a=b",
	    "msg=audit(1.0000:1): a=b",
	    "msg=audit(.000:1): a=b",
	    "msg=audit(1.000:): a=b",
	    "msg=audit(99999999999999999999.000:1): a=b",
	    "msg=audit(1.000:99999999999999999999): a=b",
	    "xaudit(1.000:1): a=b",
	    "type=SECCOMP msg=audit(1.000:1): comm=\"unterminated",
	    "type=SECCOMP msg=audit(1.000:1): msg='unterminated",
	};
	struct audit_record rec;
	struct seccomp_event ev;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = parse(bad[i], &rec);

		CHECK(ret == -EINVAL);
		if (ret == 0) {
			fprintf(stderr, "accepted: %s\n", bad[i]);
			audit_record_free(&rec);
		}
	}
	CHECK(audit_record_parse(NULL, 10, &rec) == -EINVAL);
	CHECK(audit_parse_seccomp_line(NULL, 0, &ev, NULL, 0) == -EINVAL);

	/* an embedded NUL ends the line */
	{
		static const char l[] = "type=SECCOMP msg=audit(1.000:1): pid=5\0 arch=c000003e";
		static const char l2[] = "type=SECCOMP msg=\0audit(1.000:1): pid=5";

		CHECK(audit_record_parse(l, sizeof(l) - 1, &rec) == 0);
		CHECK_STR(audit_record_get(&rec, "pid"), "5");
		CHECK(audit_record_get(&rec, "arch") == NULL);
		audit_record_free(&rec);
		CHECK(audit_record_parse(l2, sizeof(l2) - 1, &rec) == -EINVAL);
	}
	/* len is honoured: no NUL needed, nothing read past it */
	{
		const char *l = "type=SECCOMP msg=audit(1.000:1): pid=5 arch=c000003e";
		size_t cut = strlen("type=SECCOMP msg=audit(1.000:1): pid=5");
		char *copy = malloc(cut);

		CHECK(copy != NULL);
		if (copy) {
			memcpy(copy, l, cut);
			CHECK(audit_record_parse(copy, cut, &rec) == 0);
			CHECK_STR(audit_record_get(&rec, "pid"), "5");
			CHECK(rec.nfields == 1);
			audit_record_free(&rec);
			free(copy);
		}
	}
}

static void test_long_lines(void)
{
	const size_t nfields = 100000;
	struct audit_record rec;
	size_t len;
	char *buf = malloc(nfields * 10 + 64);

	CHECK(buf != NULL);
	if (!buf)
		return;
	len = (size_t)sprintf(buf, "type=SECCOMP msg=audit(1.000:1):");
	for (size_t i = 0; i < nfields; i++)
		len += (size_t)sprintf(buf + len, " k%05zu=v", i);
	CHECK(audit_record_parse(buf, len, &rec) == 0);
	CHECK(rec.nfields == nfields);
	CHECK_STR(audit_record_get(&rec, "k99999"), "v");
	audit_record_free(&rec);

	memset(buf, 'a', len);
	CHECK(audit_record_parse(buf, len, &rec) == -EINVAL);
	free(buf);
}

/* Every prefix of a real record and random corruptions of it must parse
 * or fail cleanly; the sanitizer build is what judges. */
static void test_truncation_and_fuzz(void)
{
	static const char real[] =
	    "type=SECCOMP msg=audit(1795887144.986:13): auid=4294967295 uid=0 gid=0 "
	    "ses=4294967295 pid=4248 comm=6D792070726F67 exe=\"/tmp/cap/cap\" sig=0 "
	    "arch=c000003e syscall=39 compat=0 ip=0x7f0b2ce32829 code=0x7ffc0000\x1d"
	    "AUID=\"unset\" UID=\"root\" GID=\"root\" ARCH=x86_64 SYSCALL=unknown-syscall(-1)";
	const size_t len = sizeof(real) - 1;
	struct seccomp_event ev;
	char buf[sizeof(real)];
	unsigned seed = 12345;
	const size_t need = (size_t)(strstr(real, "syscall=") - real) + strlen("syscall=3");
	size_t early_ok = 0, late_ok = 0;

	for (size_t cut = 0; cut <= len; cut++) {
		char *copy = malloc(cut ? cut : 1);
		int ret;

		if (!copy)
			continue;
		memcpy(copy, real, cut);
		ret = audit_parse_seccomp_line(copy, cut, &ev, NULL, 0);
		if (ret == 0 && cut < need)
			early_ok++;
		if (ret == 0 && cut > (size_t)(strchr(real, '\x1d') - real))
			late_ok++;
		free(copy);
	}
	/* Before syscall= is complete nothing parses; every cut inside the
	 * enrichment gives the full event. (A cut inside a bare value such as
	 * "syscall=3" of 39 parses into a wrong event: that is why audit_tail
	 * hands out only newline-terminated lines.) */
	CHECK(early_ok == 0);
	CHECK(late_ok == len - (size_t)(strchr(real, '\x1d') - real));

	for (int i = 0; i < 20000; i++) {
		memcpy(buf, real, sizeof(real));
		for (int k = 0; k < 1 + i % 8; k++) {
			seed = seed * 1103515245u + 12345u;
			size_t pos = (seed >> 8) % len;
			seed = seed * 1103515245u + 12345u;
			static const char alphabet[] = "= \"'()\x1d:.0aF\n\t\x00\xff";

			buf[pos] = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
		}
		(void)audit_parse_seccomp_line(buf, len, &ev, NULL, 0);
	}
	CHECK(1);
}

static void test_seccomp_fields(void)
{
	struct seccomp_event ev;
	char err[256];

	/* x32 write (1 | x32 bit) */
	CHECK(
	    audit_parse_seccomp_line("type=SECCOMP msg=audit(1.000:1): pid=1 arch=c000003e "
				     "syscall=1073741825 code=0x7ffc0000",
				     strlen("type=SECCOMP msg=audit(1.000:1): pid=1 arch=c000003e "
					    "syscall=1073741825 code=0x7ffc0000"),
				     &ev, err, sizeof(err)) == 0);
	CHECK_STR(ev.syscall_name, "write");
	CHECK_STR(ev.arch_name, "x32");
	/* i386 openat is 295 */
	CHECK(audit_parse_seccomp_line(
		  "type=1326 audit(1.000:1): pid=1 arch=40000003 syscall=295",
		  strlen("type=1326 audit(1.000:1): pid=1 arch=40000003 syscall=295"), &ev, err,
		  sizeof(err)) == 0);
	CHECK_STR(ev.syscall_name, "openat");
	CHECK(ev.auid == AUDIT_ID_UNSET && ev.ses == AUDIT_ID_UNSET && ev.comm[0] == '\0');
	/* aarch64 172 is getpid */
	CHECK(audit_parse_seccomp_line(
		  "type=1326 audit(1.000:1): pid=1 arch=c00000b7 syscall=172",
		  strlen("type=1326 audit(1.000:1): pid=1 arch=c00000b7 syscall=172"), &ev, err,
		  sizeof(err)) == 0);
	CHECK_STR(ev.arch_name, "aarch64");
	CHECK_STR(ev.syscall_name, "getpid");
	/* negative and overflowing numbers */
	CHECK(audit_parse_seccomp_line(
		  "type=1326 audit(1.000:1): pid=1 arch=c000003e syscall=-1",
		  strlen("type=1326 audit(1.000:1): pid=1 arch=c000003e syscall=-1"), &ev, err,
		  sizeof(err)) == -ENOENT);
	CHECK(ev.pid == 1 && ev.arch == 0xc000003e && ev.syscall_nr == -1 && ev.sec == 1);
	CHECK_STR(ev.arch_name, "x86_64");
	CHECK(ev.syscall_name[0] == 0);
	CHECK(audit_parse_seccomp_line(
		  "type=1326 audit(1.000:1): pid=1 arch=c000003e syscall=99999999999",
		  strlen("type=1326 audit(1.000:1): pid=1 arch=c000003e syscall=99999999999"), &ev,
		  err, sizeof(err)) == -EINVAL);
	CHECK(audit_parse_seccomp_line(
		  "type=1326 audit(1.000:1): pid=-1 arch=c000003e syscall=1",
		  strlen("type=1326 audit(1.000:1): pid=-1 arch=c000003e syscall=1"), &ev, err,
		  sizeof(err)) == -EINVAL);
	CHECK(audit_parse_seccomp_line("type=1326 audit(1.000:1): arch=c000003e syscall=1",
				       strlen("type=1326 audit(1.000:1): arch=c000003e syscall=1"),
				       &ev, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "no pid=") != NULL);
	CHECK(audit_parse_seccomp_line(
		  "type=1326 audit(1.000:1): pid=1 arch=c000003e syscall=(null)",
		  strlen("type=1326 audit(1.000:1): pid=1 arch=c000003e syscall=(null)"), &ev, err,
		  sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "no syscall=") != NULL);
	CHECK(audit_parse_seccomp_line("not audit at all", 16, &ev, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "not an audit record: not audit at all") != NULL);
}

int main(void)
{
	load_testdata();
	test_captured_events();
	test_record_types();
	test_record_values();
	test_record_garbage();
	test_long_lines();
	test_truncation_and_fuzz();
	test_seccomp_fields();
	return TEST_SUMMARY();
}
