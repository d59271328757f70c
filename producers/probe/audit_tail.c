#include "audit_tail.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAGIC "armorsmith-audit-tail 1"

/* A line of AUDIT_TAIL_MAX_LINE bytes plus its newline must fit. */
#define BUF_DATA (AUDIT_TAIL_MAX_LINE + 1)

struct audit_tail {
	char *path;
	char *state_file;
	int fd; /* -1 while the file does not exist */
	dev_t dev;
	ino_t ino;
	off_t read_off; /* file offset of buf[end] */
	char *buf;	/* BUF_DATA bytes and a NUL */
	size_t start, end;
	bool skipping;	/* inside an over-long line, discarding until its newline */
	off_t skip_off; /* where that line starts, so a resume skips it again */
	struct audit_tail_stats stats;
	char error[256];
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

static void drop_buffer(struct audit_tail *t)
{
	if (t->end > t->start || t->skipping)
		t->stats.partial_drops++;
	t->start = t->end = 0;
	t->skipping = false;
}

/* Opens path and positions at off (-1: the end). A missing file leaves
 * t->fd at -1. */
static int open_at(struct audit_tail *t, off_t off)
{
	struct stat st;
	int fd, ret;

	fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		ret = -errno;
		snprintf(t->error, sizeof(t->error), "opening %s: %s", t->path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(t->error, sizeof(t->error), "stat of %s: %s", t->path, strerror(-ret));
		goto fail;
	}
	if (off < 0 || off > st.st_size)
		off = off < 0 ? st.st_size : 0;
	if (lseek(fd, off, SEEK_SET) < 0) {
		ret = -errno;
		snprintf(t->error, sizeof(t->error), "seeking %s to %jd: %s", t->path,
			 (intmax_t)off, strerror(-ret));
		goto fail;
	}
	t->fd = fd;
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	t->read_off = off;
	t->start = t->end = 0;
	t->skipping = false;
	return 0;
fail:
	close(fd);
	return ret;
}

/* At end of file: has the path moved on to another file, or shrunk below
 * what we read? Returns 1 when reading should go on from a new place. */
static int check_path(struct audit_tail *t)
{
	struct stat st;
	int ret;

	if (stat(t->path, &st) < 0) {
		/* Renamed away and not yet recreated: the writer may still
		 * append to the old file, so keep it. */
		if (errno == ENOENT)
			return 0;
		ret = -errno;
		snprintf(t->error, sizeof(t->error), "stat of %s: %s", t->path, strerror(-ret));
		return ret;
	}
	if (st.st_dev != t->dev || st.st_ino != t->ino) {
		drop_buffer(t);
		close(t->fd);
		t->fd = -1;
		t->stats.rotations++;
		ret = open_at(t, 0);
		return ret < 0 ? ret : 1;
	}
	if (st.st_size < t->read_off) {
		drop_buffer(t);
		if (lseek(t->fd, 0, SEEK_SET) < 0) {
			ret = -errno;
			snprintf(t->error, sizeof(t->error), "seeking %s to 0: %s", t->path,
				 strerror(-ret));
			return ret;
		}
		t->read_off = 0;
		t->stats.truncations++;
		return 1;
	}
	return 0;
}

int audit_tail_next_line(struct audit_tail *t, char **line, size_t *len)
{
	for (;;) {
		char *nl = memchr(t->buf + t->start, '\n', t->end - t->start);
		ssize_t n;
		int ret;

		if (nl) {
			size_t at = (size_t)(nl - t->buf);

			if (t->skipping) {
				t->skipping = false;
				t->start = at + 1;
				t->stats.long_lines++;
				continue;
			}
			*nl = '\0';
			*line = t->buf + t->start;
			*len = at - t->start;
			t->start = at + 1;
			t->stats.lines++;
			return 1;
		}
		if (t->end - t->start == BUF_DATA && !t->skipping) {
			t->skipping = true;
			t->skip_off = t->read_off - (off_t)BUF_DATA;
		}
		if (t->skipping)
			t->start = t->end = 0;

		if (t->fd < 0) {
			ret = open_at(t, 0);
			if (ret < 0)
				return ret;
			if (t->fd < 0)
				return 0;
			continue;
		}
		if (t->start > 0) {
			memmove(t->buf, t->buf + t->start, t->end - t->start);
			t->end -= t->start;
			t->start = 0;
		}
		n = read(t->fd, t->buf + t->end, BUF_DATA - t->end);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			ret = -errno;
			snprintf(t->error, sizeof(t->error), "reading %s at %jd: %s", t->path,
				 (intmax_t)t->read_off, strerror(-ret));
			return ret;
		}
		if (n > 0) {
			t->end += (size_t)n;
			t->read_off += n;
			continue;
		}
		ret = check_path(t);
		if (ret <= 0)
			return ret;
	}
}

static int read_state(const char *state_file, uintmax_t *dev, uintmax_t *ino, intmax_t *off,
		      char *err, size_t errlen)
{
	char text[256];
	FILE *f;
	size_t n;
	int ret = 0;

	f = fopen(state_file, "re");
	if (!f) {
		if (errno == ENOENT)
			return -ENOENT;
		ret = -errno;
		set_err(err, errlen, "opening tail state %s: %s", state_file, strerror(-ret));
		return ret;
	}
	n = fread(text, 1, sizeof(text) - 1, f);
	if (ferror(f)) {
		ret = -EIO;
		set_err(err, errlen, "reading tail state %s failed", state_file);
		goto out;
	}
	text[n] = '\0';
	if (sscanf(text, STATE_MAGIC " dev=%ju ino=%ju off=%jd\n", dev, ino, off) != 3 ||
	    *off < 0) {
		ret = -EINVAL;
		set_err(err, errlen, "tail state %s is garbled: %.40s", state_file, text);
	}
out:
	fclose(f);
	return ret;
}

int audit_tail_open(const char *path, const char *state_file, bool from_start,
		    struct audit_tail **out, char *err, size_t errlen)
{
	struct audit_tail *t;
	uintmax_t dev = 0, ino = 0;
	intmax_t off = 0;
	bool have_state = false;
	struct stat st;
	int ret;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = -1;
	t->path = strdup(path);
	t->state_file = state_file ? strdup(state_file) : NULL;
	t->buf = malloc(BUF_DATA + 1);
	if (!t->path || (state_file && !t->state_file) || !t->buf) {
		ret = -ENOMEM;
		set_err(err, errlen, "allocating tail of %s", path);
		goto fail;
	}
	if (state_file) {
		ret = read_state(state_file, &dev, &ino, &off, err, errlen);
		if (ret && ret != -ENOENT)
			goto fail;
		have_state = ret == 0;
	}

	if (have_state && stat(path, &st) == 0 && (uintmax_t)st.st_dev == dev &&
	    (uintmax_t)st.st_ino == ino)
		/* open_at() restarts at 0 if the file shrank below off. */
		ret = open_at(t, (off_t)off);
	else
		ret = open_at(t, have_state || from_start ? 0 : -1);
	if (ret < 0) {
		set_err(err, errlen, "%s", t->error);
		goto fail;
	}
	*out = t;
	return 0;
fail:
	audit_tail_close(t);
	return ret;
}

static off_t resume_offset(const struct audit_tail *t)
{
	if (t->skipping)
		return t->skip_off;
	return t->read_off - (off_t)(t->end - t->start);
}

int audit_tail_save(struct audit_tail *t)
{
	char text[160], *tmp = NULL, *dir_copy = NULL;
	int fd = -1, dfd, ret = 0, n;
	size_t done = 0;

	if (!t->state_file)
		return 0;
	n = snprintf(text, sizeof(text), STATE_MAGIC " dev=%ju ino=%ju off=%jd\n",
		     (uintmax_t)(t->fd >= 0 ? t->dev : 0), (uintmax_t)(t->fd >= 0 ? t->ino : 0),
		     (intmax_t)(t->fd >= 0 ? resume_offset(t) : 0));
	if (asprintf(&tmp, "%s.tmp", t->state_file) < 0) {
		tmp = NULL;
		ret = -ENOMEM;
		snprintf(t->error, sizeof(t->error), "allocating name for %s", t->state_file);
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		snprintf(t->error, sizeof(t->error), "creating %s: %s", tmp, strerror(-ret));
		goto out;
	}
	while (done < (size_t)n) {
		ssize_t w = write(fd, text + done, (size_t)n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			ret = -errno;
			snprintf(t->error, sizeof(t->error), "writing %s: %s", tmp, strerror(-ret));
			goto out_unlink;
		}
		done += (size_t)w;
	}
	/* The data must be on disk before the rename makes it the state. */
	if (fsync(fd) < 0) {
		ret = -errno;
		snprintf(t->error, sizeof(t->error), "fsync of %s: %s", tmp, strerror(-ret));
		goto out_unlink;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, t->state_file) < 0) {
		ret = -errno;
		snprintf(t->error, sizeof(t->error), "renaming %s to %s: %s", tmp, t->state_file,
			 strerror(-ret));
		goto out_unlink;
	}
	/* Best effort: makes the rename itself survive a crash. */
	dir_copy = strdup(t->state_file);
	if (dir_copy) {
		dfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	goto out;
out_unlink:
	unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	free(dir_copy);
	free(tmp);
	return ret;
}

const char *audit_tail_last_error(const struct audit_tail *t)
{
	return t->error;
}

void audit_tail_get_stats(const struct audit_tail *t, struct audit_tail_stats *out)
{
	*out = t->stats;
}

void audit_tail_close(struct audit_tail *t)
{
	if (!t)
		return;
	if (t->fd >= 0)
		close(t->fd);
	free(t->path);
	free(t->state_file);
	free(t->buf);
	free(t);
}
