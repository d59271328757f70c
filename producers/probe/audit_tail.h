/* Follows a log file like `tail -F`, line by line, without blocking, and
 * remembers where it was across restarts.
 *
 * - Rotation (renamed and recreated): the old file is read to its end, then
 *   the new one from its start. A partial last line of the old file (no
 *   newline before the switch) is dropped and counted: half a record could
 *   parse into a wrong one.
 * - Truncation (size below our position, e.g. copytruncate): restart at 0,
 *   dropping any buffered partial line.
 * - A missing file is waited for and read from its start once it appears.
 * - Lines longer than AUDIT_TAIL_MAX_LINE are skipped whole and counted
 *   (stats.long_lines); audit records are far shorter, and a cut record
 *   could again parse into a wrong one.
 * - Resuming: audit_tail_save() records device, inode and the offset after
 *   the last line returned. On open, a state whose inode matches the file
 *   resumes there (or at 0 if the file is now shorter); one that does not
 *   match means the file was rotated meanwhile, and the current file is
 *   read from 0. The old file's unread rest is not looked for. */
#ifndef ARMORSMITH_AUDIT_TAIL_H
#define ARMORSMITH_AUDIT_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_TAIL_MAX_LINE (64 * 1024)

struct audit_tail;

struct audit_tail_stats {
	uint64_t lines;		/* returned */
	uint64_t long_lines;	/* skipped for exceeding AUDIT_TAIL_MAX_LINE */
	uint64_t rotations;	/* switches to a new inode */
	uint64_t truncations;	/* restarts at 0 because the file shrank */
	uint64_t partial_drops; /* unterminated lines dropped at rotation or truncation */
};

/* state_file may be NULL (no resuming, audit_tail_save() does nothing).
 * Without a usable state, from_start reads the existing file from 0, else
 * starts at its end. An unreadable or garbled state file is an error (err,
 * may be NULL, says which): the caller decides whether to delete it. A
 * missing path or state file is not an error. */
int audit_tail_open(const char *path, const char *state_file, bool from_start,
		    struct audit_tail **out, char *err, size_t errlen);
/* Returns 1 with *line (NUL-terminated, without the newline, valid until the
 * next call) and *len; 0 when no complete line is there yet; negative errno
 * when reading fails. Never blocks. */
int audit_tail_next_line(struct audit_tail *t, char **line, size_t *len);
/* Writes the position atomically (temporary file, fsync, rename). */
int audit_tail_save(struct audit_tail *t);
/* A message naming what failed, for the last negative return of
 * audit_tail_next_line() or audit_tail_save(); "" before any. */
const char *audit_tail_last_error(const struct audit_tail *t);
void audit_tail_get_stats(const struct audit_tail *t, struct audit_tail_stats *out);
void audit_tail_close(struct audit_tail *t);

#endif
