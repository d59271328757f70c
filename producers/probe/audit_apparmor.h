/* An AppArmor audit record turned into the event libapparmor's log parser
 * reports, field for field (its test suite is our conformance check).
 *
 * Forms: auditd (type=AVC / type=1400, type=APPARMOR_DENIED and the other
 * 1501..1506 names or numbers, type=USER_AVC with the fields in msg='...'),
 * kernel log / syslog / dmesg (type=1400 audit(...): and the older
 * audit(...): type=1503), dbus-daemon's syslog lines without an event id,
 * hex-encoded values, quoted values with spaces.
 *
 * Field names follow the record, with libapparmor's aliases folded in:
 * target= is name2, requested= is requested_mask, denied= and mask= are
 * denied_mask, label= is profile, peer_label= and tcontext= are
 * peer_profile, saddr/src are laddr/lport, daddr/dest are faddr/fport,
 * method= is member, exe= and comm= are comm, and capname= is also the name
 * (as libapparmor reports it). When a key repeats, the last one counts.
 *
 * apparmor is derived from the record type when the record has no
 * apparmor= field (type=1503 is DENIED, ...). Records that are no AppArmor
 * event (other audit types, the free-text messages of AppArmor before 2.1)
 * are INVALID with what libapparmor gives for them: the type's name as
 * operation when the type was written as a name, and the message as info. */
#ifndef ARMORSMITH_AUDIT_APPARMOR_H
#define ARMORSMITH_AUDIT_APPARMOR_H

#include <stddef.h>
#include <stdint.h>

#include "audit_record.h"

enum apparmor_kind {
	APPARMOR_INVALID,
	APPARMOR_AUDIT,
	APPARMOR_ALLOWED,
	APPARMOR_DENIED,
	APPARMOR_HINT,
	APPARMOR_STATUS,
	APPARMOR_ERROR,
};

/* apparmor_event.has: which numbers are present. */
#define APPARMOR_HAS_AUDIT_ID (1u << 0)
#define APPARMOR_HAS_PID (1u << 1)
#define APPARMOR_HAS_PARENT (1u << 2)
#define APPARMOR_HAS_FSUID (1u << 3)
#define APPARMOR_HAS_OUID (1u << 4)
#define APPARMOR_HAS_LPORT (1u << 5)
#define APPARMOR_HAS_FPORT (1u << 6)
#define APPARMOR_HAS_ERROR (1u << 7)
#define APPARMOR_HAS_PEER_PID (1u << 8)
#define APPARMOR_HAS_TASK (1u << 9)
#define APPARMOR_HAS_MAGIC_TOKEN (1u << 10)

/* Strings are NULL when absent and point into the audit_record the event
 * was parsed from (the line variant keeps that record in rec_ until
 * apparmor_event_free()). */
struct apparmor_event {
	enum apparmor_kind apparmor;
	uint32_t has; /* APPARMOR_HAS_* */
	int64_t sec;  /* audit_id: sec.msec:serial */
	int32_t msec;
	uint64_t serial;
	uint64_t pid, parent, fsuid, ouid, lport, fport;
	uint64_t error; /* positive errno: error=-13 is 13 */
	uint64_t peer_pid, task, magic_token;
	char protocol[32]; /* a name: "tcp", "udp", "unknown(768)"; "" when absent */
	const char *operation, *profile, *name, *name2, *comm, *requested_mask, *denied_mask;
	const char *family, *sock_type, *laddr, *faddr, *peer, *signal, *capname, *info;
	const char *class_name, *fstype, *flags, *execpath, *src_name;
	const char *namespace_name, *peer_profile, *attribute, *peer_info, *addr, *peer_addr;
	const char *bus, *path, *interface, *member; /* D-Bus mediation */
	struct audit_record rec_;
};

/* Fills out from rec. Returns 0 when the record was read whole (out may
 * still be INVALID: no AppArmor event); -EINVAL when it is damaged (a value
 * cut off or malformed, text where fields belong, a type= that cannot be
 * read): out is INVALID then and holds what came before the damage, and err
 * (may be NULL) says what was wrong. rec must be parsed with
 * AUDIT_PARSE_LENIENT for damaged records to keep anything. */
int audit_parse_apparmor(const struct audit_record *rec, struct apparmor_event *out, char *err,
			 size_t errlen);
/* Parses one line (or one record a syslog daemon split over lines) and
 * applies audit_parse_apparmor(). Returns what that returns, -ENOMSG when
 * the text is no audit record at all (nothing to free), -ENOMEM. A broken
 * event id ("audit(12799===...") is -EINVAL with an INVALID event. Free
 * out with apparmor_event_free() unless -ENOMSG or -ENOMEM. */
int audit_parse_apparmor_line(const char *line, size_t len, struct apparmor_event *out, char *err,
			      size_t errlen);
void apparmor_event_free(struct apparmor_event *ev);

/* "DENIED", ..., "INVALID". */
const char *apparmor_kind_name(enum apparmor_kind kind);

/* One present field of an event under its parse-audit key. */
struct apparmor_field {
	const char *key; /* NUL-padded: 16 bytes from key on may be read */
	size_t key_len;
	const char *str; /* NULL for numbers */
	uint64_t num;
};

#define APPARMOR_MAX_FIELDS 48

/* The present fields in parse-audit's order (apparmor first; audit_id as
 * "sec.msec:serial" in buf, which must outlive the result). Returns how many. */
size_t apparmor_event_fields(const struct apparmor_event *ev, struct apparmor_field *out, char *buf,
			     size_t buflen);

#endif
