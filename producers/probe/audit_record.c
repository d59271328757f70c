#include "audit_record.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* auditd's enriched format appends interpreted fields after this byte; they
 * are auditd's guesses (e.g. SYSCALL=unknown-syscall(-1) for seccomp records)
 * and the raw fields before it are what we trust. */
#define AUDIT_ENRICHED_SEP '\x1d'

static const struct {
	int type;
	const char *name;
} audit_types[] = {
    {1100, "USER_AUTH"},
    {1101, "USER_ACCT"},
    {1105, "USER_START"},
    {1106, "USER_END"},
    {1107, "USER_AVC"},
    {1112, "USER_LOGIN"},
    {1130, "SERVICE_START"},
    {1131, "SERVICE_STOP"},
    {1300, "SYSCALL"},
    {1302, "PATH"},
    {1305, "CONFIG_CHANGE"},
    {1307, "CWD"},
    {1309, "EXECVE"},
    {1320, "EOE"},
    {1326, "SECCOMP"},
    {1327, "PROCTITLE"},
    {1334, "BPF"},
    {1400, "AVC"},
    {1500, "APPARMOR"},
    {1501, "APPARMOR_AUDIT"},
    {1502, "APPARMOR_ALLOWED"},
    {1503, "APPARMOR_DENIED"},
    {1504, "APPARMOR_HINT"},
    {1505, "APPARMOR_STATUS"},
    {1506, "APPARMOR_ERROR"},
    {1507, "APPARMOR_KILL"},
    {1701, "ANOM_ABEND"},
    {2000, "KERNEL"},
};

/* Fields the kernel writes with audit_log_untrustedstring() (or AppArmor's
 * equivalent): bare hex there means the value had spaces, quotes or control
 * bytes. Other fields are never encoded, so a bare "deadbeef" stays as is. */
static const char *const hex_fields[] = {
    "comm",    "exe",	 "name", "name2",	 "proctitle", "cwd",	  "path",
    "profile", "target", "peer", "peer_profile", "execpath",  "src_name", "data",
};

struct parser {
	struct audit_record *rec;
	size_t cap;
	char *store; /* next free byte of rec->storage_ */
};

static const char *type_name_of(int type)
{
	for (size_t i = 0; i < sizeof(audit_types) / sizeof(audit_types[0]); i++)
		if (audit_types[i].type == type)
			return audit_types[i].name;
	return NULL;
}

static int type_of_name(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(audit_types) / sizeof(audit_types[0]); i++)
		if (strlen(audit_types[i].name) == len &&
		    memcmp(audit_types[i].name, name, len) == 0)
			return audit_types[i].type;
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Reads decimal digits into *out; returns how many were consumed, 0 on none
 * or overflow. */
static size_t parse_u64(const char *p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = 0;

	while (p + n < end && is_digit(p[n])) {
		unsigned d = (unsigned)(p[n] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
		n++;
	}
	*out = v;
	return n;
}

/* Matches "audit(SEC.MSEC:SERIAL):" at p; returns the byte after the colon. */
static const char *match_event_id(const char *p, const char *end, struct audit_record *rec)
{
	uint64_t sec, msec, serial;
	size_t n;

	p += strlen("audit(");
	n = parse_u64(p, end, &sec);
	if (!n || sec > INT64_MAX)
		return NULL;
	p += n;
	if (p >= end || *p++ != '.')
		return NULL;
	n = parse_u64(p, end, &msec);
	/* The kernel prints milliseconds as %03lu. */
	if (n != 3)
		return NULL;
	p += n;
	if (p >= end || *p++ != ':')
		return NULL;
	n = parse_u64(p, end, &serial);
	if (!n)
		return NULL;
	p += n;
	if (end - p < 2 || p[0] != ')' || p[1] != ':')
		return NULL;
	rec->sec = (int64_t)sec;
	rec->msec = (int32_t)msec;
	rec->serial = serial;
	return p + 2;
}

/* The record type sits in the last "type=" token before the event id. */
static void parse_type(const char *line, const char *id, struct audit_record *rec)
{
	const char *found = NULL, *v, *e;
	const char *known;
	uint64_t num;
	size_t n;

	for (const char *p = line; p + 5 <= id; p++)
		if (memcmp(p, "type=", 5) == 0 && (p == line || is_space(p[-1])))
			found = p;
	if (!found)
		return;
	v = found + 5;
	for (e = v; e < id && !is_space(*e); e++)
		;
	n = parse_u64(v, e, &num);
	if (n && v + n == e && num <= 65535) {
		rec->type = (int)num;
	} else if (e - v > 9 && memcmp(v, "UNKNOWN[", 8) == 0 && e[-1] == ']') {
		n = parse_u64(v + 8, e - 1, &num);
		if (n && v + 8 + n == e - 1 && num <= 65535)
			rec->type = (int)num;
	} else {
		rec->type = type_of_name(v, (size_t)(e - v));
		if (!rec->type) {
			snprintf(rec->type_name, sizeof(rec->type_name), "%.*s",
				 (int)(e - v < 31 ? e - v : 31), v);
			return;
		}
	}
	known = type_name_of(rec->type);
	if (known)
		snprintf(rec->type_name, sizeof(rec->type_name), "%s", known);
	else
		snprintf(rec->type_name, sizeof(rec->type_name), "UNKNOWN[%d]", rec->type);
}

static bool is_hex_field(const char *key, size_t klen)
{
	for (size_t i = 0; i < sizeof(hex_fields) / sizeof(hex_fields[0]); i++)
		if (strlen(hex_fields[i]) == klen && memcmp(hex_fields[i], key, klen) == 0)
			return true;
	return false;
}

static bool is_hex_string(const char *v, size_t len)
{
	if (len < 2 || len % 2)
		return false;
	for (size_t i = 0; i < len; i++)
		if (hex_value(v[i]) < 0)
			return false;
	return true;
}

static int add_field(struct parser *ps, const char *key, size_t klen, const char *val, size_t vlen,
		     bool decode_hex)
{
	struct audit_record *rec = ps->rec;
	struct audit_field *f;

	if (rec->nfields == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 16;

		f = realloc(rec->fields, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		rec->fields = f;
		ps->cap = cap;
	}
	f = &rec->fields[rec->nfields++];
	f->key = ps->store;
	memcpy(ps->store, key, klen);
	ps->store[klen] = '\0';
	ps->store += klen + 1;
	f->value = ps->store;
	if (decode_hex) {
		for (size_t i = 0; i < vlen; i += 2) {
			char c = (char)(hex_value(val[i]) << 4 | hex_value(val[i + 1]));

			/* proctitle separates arguments with NUL; a C string cannot. */
			*ps->store++ = c ? c : ' ';
		}
	} else {
		memcpy(ps->store, val, vlen);
		ps->store += vlen;
	}
	*ps->store++ = '\0';
	return 0;
}

static int parse_fields(struct parser *ps, const char *p, const char *end, bool nested)
{
	int err;

	while (p < end) {
		const char *key, *val, *next;
		size_t klen, vlen;

		while (p < end && is_space(*p))
			p++;
		if (p >= end)
			break;
		key = p;
		while (p < end && *p != '=' && !is_space(*p))
			p++;
		klen = (size_t)(p - key);
		/* Words without '=' carry nothing we can key on. */
		if (p >= end || *p != '=' || klen == 0) {
			while (p < end && !is_space(*p))
				p++;
			continue;
		}
		p++;
		if (p < end && (*p == '"' || *p == '\'')) {
			char q = *p++;

			val = p;
			next = memchr(p, q, (size_t)(end - p));
			if (!next)
				return -EINVAL;
			vlen = (size_t)(next - val);
			p = next + 1;
			if (q == '\'' && !nested && klen == 3 && memcmp(key, "msg", 3) == 0) {
				err = parse_fields(ps, val, val + vlen, true);
				if (err)
					return err;
				continue;
			}
			err = add_field(ps, key, klen, val, vlen, false);
		} else {
			val = p;
			while (p < end && !is_space(*p))
				p++;
			vlen = (size_t)(p - val);
			err = add_field(ps, key, klen, val, vlen,
					is_hex_field(key, klen) && is_hex_string(val, vlen));
		}
		if (err)
			return err;
	}
	return 0;
}

int audit_record_parse(const char *line, size_t len, struct audit_record *out)
{
	const char *end, *id = NULL, *body = NULL;
	struct parser ps = {.rec = out};
	int err;

	memset(out, 0, sizeof(*out));
	if (!line)
		return -EINVAL;
	end = memchr(line, '\0', len);
	if (!end)
		end = line + len;
	{
		const char *gs = memchr(line, AUDIT_ENRICHED_SEP, (size_t)(end - line));

		if (gs)
			end = gs;
	}
	while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
		end--;

	for (const char *p = line; p + 6 <= end; p++) {
		p = memmem(p, (size_t)(end - p), "audit(", 6);
		if (!p)
			break;
		if (p != line && !is_space(p[-1]) && p[-1] != '=')
			continue;
		body = match_event_id(p, end, out);
		if (body) {
			id = p;
			break;
		}
	}
	if (!body)
		return -EINVAL;
	parse_type(line, id, out);

	/* Copies never outgrow the source: a key=value token loses '=' and gains
	 * one NUL, quotes only shrink it, hex halves it. */
	out->storage_ = malloc((size_t)(end - body) * 2 + 2);
	if (!out->storage_)
		return -ENOMEM;
	ps.store = out->storage_;
	err = parse_fields(&ps, body, end, false);
	if (err)
		goto fail;
	return 0;
fail:
	audit_record_free(out);
	return err;
}

const char *audit_record_get(const struct audit_record *rec, const char *key)
{
	for (size_t i = 0; i < rec->nfields; i++)
		if (strcmp(rec->fields[i].key, key) == 0)
			return rec->fields[i].value;
	return NULL;
}

void audit_record_free(struct audit_record *rec)
{
	free(rec->fields);
	free(rec->storage_);
	memset(rec, 0, sizeof(*rec));
}
