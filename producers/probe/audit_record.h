/* One audit log line parsed into its type, event id and key=value fields.
 *
 * Accepted forms (the record may be preceded by anything, e.g. a syslog
 * prefix; what counts is a well-formed "audit(SEC.MSEC:SERIAL):" token):
 *   auditd:  [node=N ]type=SECCOMP msg=audit(1732800000.123:456): k=v ...
 *            type=1326 ... and type=UNKNOWN[1326] ... as well
 *   kernel:  Nov 28 12:00:00 host kernel: [12.34] audit: type=1326 audit(1732800000.123:456): k=v
 *   dmesg:   [12.34] audit: type=1326 audit(1732800000.123:456): k=v
 *
 * Values: bare, "double quoted" (may contain spaces; never hex-decoded),
 * 'single quoted' (msg='...' of user-space records: its inner fields are
 * added to the record), or hex-encoded. Hex is decoded only for the fields
 * the kernel and auditd encode (comm, exe, name, proctitle, path, ...) and
 * only when the value is bare; NUL bytes inside decoded values (proctitle's
 * argument separators) become spaces. "(null)" and "?" are kept literally.
 * Whatever follows auditd's enrichment separator (0x1d) or a NUL byte is
 * ignored. */
#ifndef ARMORSMITH_AUDIT_RECORD_H
#define ARMORSMITH_AUDIT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define AUDIT_TYPE_SYSCALL 1300
#define AUDIT_TYPE_SECCOMP 1326
#define AUDIT_TYPE_AVC 1400

struct audit_field {
	char *key;
	char *value;
};

struct audit_record {
	int type;	    /* 0 when the line carries no type= */
	char type_name[32]; /* "SECCOMP"; "UNKNOWN[n]" for numbers we cannot name */
	int64_t sec;
	int32_t msec;
	uint64_t serial;
	size_t nfields;
	struct audit_field *fields; /* in line order; duplicates kept */
	char *storage_;		    /* owns every key and value */
};

/* Returns 0, -EINVAL when the line is not an audit record (or a value is
 * cut off inside its quotes), -ENOMEM. On success free with
 * audit_record_free(); on failure *out holds nothing to free. */
int audit_record_parse(const char *line, size_t len, struct audit_record *out);
/* The first value of key, or NULL. */
const char *audit_record_get(const struct audit_record *rec, const char *key);
void audit_record_free(struct audit_record *rec);

#endif
