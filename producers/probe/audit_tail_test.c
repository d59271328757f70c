#include "audit_tail.h"
#include "testing.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char logpath[128], statepath[128], rotated[128];

static void write_file(const char *path, const char *text, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
	size_t len = strlen(text);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, text, len) == (ssize_t)len);
	close(fd);
}

static void append(const char *text)
{
	write_file(logpath, text, O_APPEND);
}

static void create(const char *text)
{
	write_file(logpath, text, O_TRUNC);
}

/* The next line as a string ("" for none yet, "<error>" on failure); the
 * returned pointer is a static copy so checks can compare it. */
static const char *next(struct audit_tail *t)
{
	static char copy[AUDIT_TAIL_MAX_LINE + 1];
	char *line;
	size_t len;
	int ret = audit_tail_next_line(t, &line, &len);

	if (ret < 0)
		return "<error>";
	if (ret == 0)
		return "";
	if (len != strlen(line))
		return "<length mismatch>";
	memcpy(copy, line, len + 1);
	return copy;
}

static void reset(void)
{
	unlink(logpath);
	unlink(statepath);
	unlink(rotated);
}

static struct audit_tail *open_tail(const char *state, bool from_start)
{
	struct audit_tail *t = NULL;
	char err[256] = "";
	int ret = audit_tail_open(logpath, state, from_start, &t, err, sizeof(err));

	CHECK(ret == 0);
	if (ret)
		fprintf(stderr, "audit_tail_open: %s\n", err);
	return t;
}

static void test_missing_then_created_and_pieces(void)
{
	struct audit_tail *t;

	reset();
	t = open_tail(NULL, false);
	if (!t)
		return;
	CHECK_STR(next(t), "");
	CHECK_STR(next(t), "");
	/* a file that appears after start is new: read from its start */
	create("first\ntype=SEC");
	CHECK_STR(next(t), "first");
	CHECK_STR(next(t), "");
	append("COMP msg=audit(1.000:1): a=b");
	CHECK_STR(next(t), "");
	append("\n");
	CHECK_STR(next(t), "type=SECCOMP msg=audit(1.000:1): a=b");
	CHECK_STR(next(t), "");
	append("\n\nx\n");
	CHECK_STR(next(t), "");
	CHECK_STR(next(t), "");
	CHECK_STR(next(t), "x");
	CHECK_STR(next(t), "");
	audit_tail_close(t);
}

static void test_start_positions(void)
{
	struct audit_tail *t;

	reset();
	create("old1\nold2\n");
	t = open_tail(NULL, false);
	if (t) {
		/* no replay of history */
		CHECK_STR(next(t), "");
		append("new1\n");
		CHECK_STR(next(t), "new1");
		audit_tail_close(t);
	}
	t = open_tail(NULL, true);
	if (t) {
		CHECK_STR(next(t), "old1");
		CHECK_STR(next(t), "old2");
		CHECK_STR(next(t), "new1");
		CHECK_STR(next(t), "");
		audit_tail_close(t);
	}
}

static void test_rotation(void)
{
	struct audit_tail_stats st;
	struct audit_tail *t;
	int writer;

	reset();
	create("r1\n");
	t = open_tail(NULL, true);
	if (!t)
		return;
	CHECK_STR(next(t), "r1");
	writer = open(logpath, O_WRONLY | O_APPEND | O_CLOEXEC);
	CHECK(writer >= 0);
	CHECK(write(writer, "r2\n", 3) == 3);
	CHECK(rename(logpath, rotated) == 0);
	/* renamed away, not recreated yet: the writer still appends to it */
	CHECK(write(writer, "r3\n", 3) == 3);
	CHECK_STR(next(t), "r2");
	CHECK_STR(next(t), "r3");
	CHECK_STR(next(t), "");
	create("n1\n");
	CHECK(write(writer, "r4\n", 3) == 3);
	close(writer);
	/* the old file's remainder first, then the new file from 0 */
	CHECK_STR(next(t), "r4");
	CHECK_STR(next(t), "n1");
	CHECK_STR(next(t), "");
	audit_tail_get_stats(t, &st);
	CHECK(st.rotations == 1);
	CHECK(st.partial_drops == 0);

	/* an unterminated last line of the rotated file is dropped, counted */
	append("half");
	CHECK_STR(next(t), "");
	CHECK(rename(logpath, rotated) == 0);
	create("n2\n");
	CHECK_STR(next(t), "n2");
	audit_tail_get_stats(t, &st);
	CHECK(st.rotations == 2);
	CHECK(st.partial_drops == 1);
	CHECK(st.lines == 6);
	audit_tail_close(t);
}

static void test_truncation(void)
{
	struct audit_tail_stats st;
	struct audit_tail *t;

	reset();
	create("t1\nt2\n");
	t = open_tail(NULL, true);
	if (!t)
		return;
	CHECK_STR(next(t), "t1");
	CHECK_STR(next(t), "t2");
	CHECK_STR(next(t), "");
	CHECK(truncate(logpath, 0) == 0);
	append("u1\n");
	CHECK_STR(next(t), "u1");
	CHECK_STR(next(t), "");
	audit_tail_get_stats(t, &st);
	CHECK(st.truncations == 1);
	CHECK(st.rotations == 0);
	audit_tail_close(t);
}

static void test_resume(void)
{
	struct audit_tail *t;
	char err[256] = "";
	struct stat sb;

	reset();
	create("s1\ns2\n");
	/* no state yet: from_start=false starts at the end */
	t = open_tail(statepath, false);
	if (!t)
		return;
	CHECK_STR(next(t), "");
	append("s3\ns4\npart");
	CHECK_STR(next(t), "s3");
	CHECK(audit_tail_save(t) == 0);
	CHECK_STR(next(t), "s4");
	CHECK_STR(next(t), "");
	/* the saved offset excludes the buffered partial line */
	CHECK(audit_tail_save(t) == 0);
	audit_tail_close(t);
	CHECK(stat(statepath, &sb) == 0);
	{
		char tmp[160];

		snprintf(tmp, sizeof(tmp), "%s.tmp", statepath);
		CHECK(access(tmp, F_OK) != 0);
	}

	append("ial\ns5\n");
	t = open_tail(statepath, false);
	if (!t)
		return;
	CHECK_STR(next(t), "partial");
	CHECK_STR(next(t), "s5");
	CHECK_STR(next(t), "");
	CHECK(audit_tail_save(t) == 0);
	audit_tail_close(t);

	/* rotated while the probe was down: the state's inode is gone, read
	 * the current file from 0 */
	CHECK(rename(logpath, rotated) == 0);
	create("after1\n");
	t = open_tail(statepath, false);
	if (t) {
		CHECK_STR(next(t), "after1");
		CHECK(audit_tail_save(t) == 0);
		audit_tail_close(t);
	}

	/* truncated while down: the state's offset is past the end */
	CHECK(truncate(logpath, 0) == 0);
	append("x\n");
	t = open_tail(statepath, false);
	if (t) {
		CHECK_STR(next(t), "x");
		audit_tail_close(t);
	}

	/* the file is missing at start: wait, then read it from 0 */
	unlink(logpath);
	t = open_tail(statepath, false);
	if (t) {
		CHECK_STR(next(t), "");
		CHECK(audit_tail_save(t) == 0);
		create("born\n");
		CHECK_STR(next(t), "born");
		audit_tail_close(t);
	}

	/* a garbled state is the caller's call, not silently ignored */
	write_file(statepath, "nonsense\n", O_TRUNC);
	t = NULL;
	CHECK(audit_tail_open(logpath, statepath, false, &t, err, sizeof(err)) == -EINVAL);
	CHECK(t == NULL);
	CHECK(strstr(err, statepath) != NULL);
	CHECK(strstr(err, "garbled") != NULL);
}

static void test_long_lines(void)
{
	struct audit_tail_stats st;
	struct audit_tail *t;
	char *big = malloc(AUDIT_TAIL_MAX_LINE + 10);

	CHECK(big != NULL);
	if (!big)
		return;
	reset();
	create("");
	t = open_tail(statepath, true);
	if (!t) {
		free(big);
		return;
	}
	/* exactly the cap: returned whole */
	memset(big, 'a', AUDIT_TAIL_MAX_LINE);
	strcpy(big + AUDIT_TAIL_MAX_LINE, "\n");
	append(big);
	{
		char *line;
		size_t len;

		CHECK(audit_tail_next_line(t, &line, &len) == 1);
		CHECK(len == AUDIT_TAIL_MAX_LINE);
		CHECK(line[0] == 'a' && line[len - 1] == 'a' && line[len] == '\0');
	}
	/* one byte more, arriving in pieces: skipped whole and counted */
	memset(big, 'b', AUDIT_TAIL_MAX_LINE);
	big[AUDIT_TAIL_MAX_LINE] = '\0';
	append(big);
	CHECK_STR(next(t), "");
	append("bb");
	CHECK_STR(next(t), "");
	/* a save while skipping points at the long line's start, so a resumed
	 * tail skips it too instead of returning its tail end as a line */
	CHECK(audit_tail_save(t) == 0);
	append("bbb\nafter\n");
	CHECK_STR(next(t), "after");
	CHECK_STR(next(t), "");
	audit_tail_get_stats(t, &st);
	CHECK(st.long_lines == 1);
	audit_tail_close(t);

	t = open_tail(statepath, false);
	if (t) {
		CHECK_STR(next(t), "after");
		audit_tail_get_stats(t, &st);
		CHECK(st.long_lines == 1);
		audit_tail_close(t);
	}
	free(big);
}

static void test_many_lines(void)
{
	struct audit_tail *t;
	char line[64];
	int seen = 0, ok = 1;

	reset();
	create("");
	t = open_tail(NULL, true);
	if (!t)
		return;
	{
		FILE *f = fopen(logpath, "a");

		CHECK(f != NULL);
		for (int i = 0; f && i < 20000; i++)
			fprintf(f, "type=SECCOMP msg=audit(1.000:%d): syscall=%d\n", i, i % 400);
		if (f)
			fclose(f);
	}
	for (;;) {
		const char *l = next(t);

		if (!*l)
			break;
		snprintf(line, sizeof(line), "type=SECCOMP msg=audit(1.000:%d): syscall=%d", seen,
			 seen % 400);
		if (strcmp(l, line) != 0)
			ok = 0;
		seen++;
	}
	CHECK(seen == 20000);
	CHECK(ok);
	audit_tail_close(t);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/audit_tail_test.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(logpath, sizeof(logpath), "%s/audit.log", dir);
	snprintf(statepath, sizeof(statepath), "%s/tail.state", dir);
	snprintf(rotated, sizeof(rotated), "%s/audit.log.1", dir);

	test_missing_then_created_and_pieces();
	test_start_positions();
	test_rotation();
	test_truncation();
	test_resume();
	test_long_lines();
	test_many_lines();

	reset();
	{
		char tmp[160];

		snprintf(tmp, sizeof(tmp), "%s.tmp", statepath);
		unlink(tmp);
	}
	rmdir(dir);
	return TEST_SUMMARY();
}
