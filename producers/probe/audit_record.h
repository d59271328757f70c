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
 * ignored. Spaces, tabs, CR and LF separate fields (a record a syslog
 * daemon split over two lines can be parsed as one). Backslashes are
 * literal: the kernel hex-encodes values instead of escaping them. */
#ifndef ARMORSMITH_AUDIT_RECORD_H
#define ARMORSMITH_AUDIT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIT_TYPE_SYSCALL 1300
#define AUDIT_TYPE_SECCOMP 1326
#define AUDIT_TYPE_AVC 1400

/* How a value was written. */
enum audit_value_form {
	AUDIT_VALUE_BARE,
	AUDIT_VALUE_QUOTED, /* "..." or '...' */
	AUDIT_VALUE_HEX,    /* bare hex of a field the kernel encodes; value is decoded */
};

struct audit_field {
	char *key;
	char *value;
	unsigned char form; /* enum audit_value_form */
	bool nested;	    /* came from inside msg='...' of a user-space record */
	uint32_t key_len;   /* strlen(key); 0 when that does not fit */
};

/* audit_record_parse_ex() flags. LENIENT keeps what a damaged or free-text
 * line still offers instead of failing: a value cut off inside its double
 * quotes ends the fields (AUDIT_RECORD_TRUNCATED); a msg=' without its
 * closing quote runs to the end of the line (AUDIT_RECORD_OPEN_MSG: syslog
 * often drops the continuation line that holds it); a word without '=' ends
 * the fields and the text from it on is kept in rest. */
#define AUDIT_PARSE_LENIENT (1u << 0)

/* audit_record.flags */
#define AUDIT_RECORD_TRUNCATED (1u << 0)
#define AUDIT_RECORD_OPEN_MSG (1u << 1)
#define AUDIT_RECORD_TYPE_NAMED (1u << 2) /* type= was a name (type=AVC), not a number */
/* The last type= before the event id was glued to other text (as in grep -H
 * output, "audit.log:type=AVC"): the type was not read. */
#define AUDIT_RECORD_TYPE_GLUED (1u << 3)
#define AUDIT_RECORD_NO_ID (1u << 4) /* from audit_record_parse_fields(): no event id */

struct audit_record {
	int type;	    /* 0 when the line carries no type= */
	char type_name[32]; /* "SECCOMP"; "UNKNOWN[n]" for numbers we cannot name */
	int64_t sec;
	int32_t msec;
	uint64_t serial;
	size_t nfields;
	struct audit_field *fields; /* in line order; duplicates kept */
	unsigned flags;		    /* AUDIT_RECORD_* */
	/* The text after the event id up to the end of its line, verbatim (the
	 * message of records that are no key=value list, e.g. old AppArmor
	 * "REJECTING r access to ..." records). */
	const char *body;
	/* With AUDIT_PARSE_LENIENT: where the fields stopped, to the end of
	 * that line (the first word without '=', or the key=" whose value was
	 * cut off); NULL when every field was read. */
	const char *rest;
	char *storage_; /* owns every key and value */
	size_t storage_cap_, fields_cap_;
};

/* Returns 0, -EINVAL when the line is not an audit record (or a value is
 * cut off inside its quotes), -ENOMEM. On success free with
 * audit_record_free(); on failure *out holds nothing to free. */
int audit_record_parse(const char *line, size_t len, struct audit_record *out);
/* audit_record_parse() with AUDIT_PARSE_* flags. */
int audit_record_parse_ex(const char *line, size_t len, unsigned flags, struct audit_record *out);
/* audit_record_parse_ex() that reads the fields only when want_fields(out)
 * says so once the type, id and body are known: most records of an audit
 * log are of no interest to a given parser, and their fields are most of
 * the work. */
int audit_record_parse_if(const char *line, size_t len, unsigned flags,
			  bool (*want_fields)(const struct audit_record *),
			  struct audit_record *out);
/* Only the key=value fields of text that has no event id (e.g. dbus-daemon's
 * AppArmor messages in syslog); type is 0 and AUDIT_RECORD_NO_ID is set.
 * Returns 0 or -ENOMEM; -EINVAL as audit_record_parse() does for values cut
 * off without AUDIT_PARSE_LENIENT. */
int audit_record_parse_fields(const char *text, size_t len, unsigned flags,
			      struct audit_record *out);
/* The first value of key, or NULL. */
const char *audit_record_get(const struct audit_record *rec, const char *key);
void audit_record_free(struct audit_record *rec);

#endif
