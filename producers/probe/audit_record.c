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

/* clang-format off */
#define AUDIT_TYPE(num, name) {num, name, sizeof(name) - 1}
/* clang-format on */

static const struct {
	int type;
	const char *name;
	size_t len;
} audit_types[] = {
    AUDIT_TYPE(1100, "USER_AUTH"),
    AUDIT_TYPE(1101, "USER_ACCT"),
    AUDIT_TYPE(1105, "USER_START"),
    AUDIT_TYPE(1106, "USER_END"),
    AUDIT_TYPE(1107, "USER_AVC"),
    AUDIT_TYPE(1112, "USER_LOGIN"),
    AUDIT_TYPE(1130, "SERVICE_START"),
    AUDIT_TYPE(1131, "SERVICE_STOP"),
    AUDIT_TYPE(1300, "SYSCALL"),
    AUDIT_TYPE(1302, "PATH"),
    AUDIT_TYPE(1305, "CONFIG_CHANGE"),
    AUDIT_TYPE(1307, "CWD"),
    AUDIT_TYPE(1309, "EXECVE"),
    AUDIT_TYPE(1320, "EOE"),
    AUDIT_TYPE(1326, "SECCOMP"),
    AUDIT_TYPE(1327, "PROCTITLE"),
    AUDIT_TYPE(1334, "BPF"),
    AUDIT_TYPE(1400, "AVC"),
    AUDIT_TYPE(1500, "APPARMOR"),
    AUDIT_TYPE(1501, "APPARMOR_AUDIT"),
    AUDIT_TYPE(1502, "APPARMOR_ALLOWED"),
    AUDIT_TYPE(1503, "APPARMOR_DENIED"),
    AUDIT_TYPE(1504, "APPARMOR_HINT"),
    AUDIT_TYPE(1505, "APPARMOR_STATUS"),
    AUDIT_TYPE(1506, "APPARMOR_ERROR"),
    AUDIT_TYPE(1507, "APPARMOR_KILL"),
    AUDIT_TYPE(1701, "ANOM_ABEND"),
    AUDIT_TYPE(2000, "KERNEL"),
};

/* Fields the kernel writes with audit_log_untrustedstring() (or AppArmor's
 * equivalent): bare hex there means the value had spaces, quotes or control
 * bytes. Other fields are never encoded, so a bare "deadbeef" stays as is. */
/* clang-format off */
#define HEX_FIELD(name) {name, sizeof(name) - 1}
/* clang-format on */

static const struct {
	const char *name;
	size_t len;
} hex_fields[] = {
    HEX_FIELD("comm"),	    HEX_FIELD("exe"),	       HEX_FIELD("name"),
    HEX_FIELD("name2"),	    HEX_FIELD("proctitle"),    HEX_FIELD("cwd"),
    HEX_FIELD("path"),	    HEX_FIELD("profile"),      HEX_FIELD("target"),
    HEX_FIELD("peer"),	    HEX_FIELD("peer_profile"), HEX_FIELD("execpath"),
    HEX_FIELD("src_name"),  HEX_FIELD("data"),	       HEX_FIELD("srcname"),
    HEX_FIELD("namespace"), HEX_FIELD("label"),	       HEX_FIELD("peer_label"),
    HEX_FIELD("tcontext"),  HEX_FIELD("addr"),	       HEX_FIELD("peer_addr"),
};

struct parser {
	struct audit_record *rec;
	size_t cap;
	char *store;	 /* next free byte of rec->storage_ */
	const char *end; /* end of the whole line, for rest */
	unsigned flags;	 /* AUDIT_PARSE_* */
};

/* parse_fields() result when a lenient parse stopped early. */
#define FIELDS_STOPPED 1

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
		if (audit_types[i].len == len && memcmp(audit_types[i].name, name, len) == 0)
			return audit_types[i].type;
	return 0;
}

/* Character classes for the tokenizer, one table lookup per byte. */
#define C_SPACE 1 /* separates fields */
#define C_EQ 2	  /* ends a key */

static const unsigned char char_class[256] = {
    [' '] = C_SPACE, ['\t'] = C_SPACE, ['\n'] = C_SPACE, ['\r'] = C_SPACE, ['='] = C_EQ,
};

static bool is_space(char c)
{
	return char_class[(unsigned char)c] & C_SPACE;
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

	/* The type sits just before the id: scan back to the last "type=". */
	for (const char *q = id - 1; q >= line + 4; q--)
		if (*q == '=' && memcmp(q - 4, "type", 4) == 0) {
			found = q - 4;
			break;
		}
	if (!found)
		return;
	if (found != line && !is_space(found[-1])) {
		rec->flags |= AUDIT_RECORD_TYPE_GLUED;
		return;
	}
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
		rec->flags |= AUDIT_RECORD_TYPE_NAMED;
		rec->type = type_of_name(v, (size_t)(e - v));
		if (!rec->type) {
			size_t len = (size_t)(e - v) < sizeof(rec->type_name) - 1
					 ? (size_t)(e - v)
					 : sizeof(rec->type_name) - 1;
			memcpy(rec->type_name, v, len);
			rec->type_name[len] = '\0';
			return;
		}
	}
	known = type_name_of(rec->type);
	/* Every record passes here: a plain copy, not snprintf's format engine. */
	if (known && strlen(known) < sizeof(rec->type_name))
		memcpy(rec->type_name, known, strlen(known) + 1);
	else
		snprintf(rec->type_name, sizeof(rec->type_name), "UNKNOWN[%d]", rec->type);
}

static bool is_hex_field(const char *key, size_t klen)
{
	for (size_t i = 0; i < sizeof(hex_fields) / sizeof(hex_fields[0]); i++)
		if (hex_fields[i].len == klen && hex_fields[i].name[0] == key[0] &&
		    memcmp(hex_fields[i].name, key, klen) == 0)
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

/* Copies text up to the end of its line into the storage. */
static const char *copy_line(struct parser *ps, const char *p)
{
	const char *start = ps->store, *e = memchr(p, '\n', (size_t)(ps->end - p));
	const char *cr;
	size_t n;

	if (!e)
		e = ps->end;
	cr = memchr(p, '\r', (size_t)(e - p));
	n = (size_t)((cr ? cr : e) - p);
	memcpy(ps->store, p, n);
	ps->store[n] = '\0';
	ps->store += n + 1;
	return start;
}

static int add_field(struct parser *ps, const char *key, size_t klen, const char *val, size_t vlen,
		     enum audit_value_form form, bool nested)
{
	struct audit_record *rec = ps->rec;
	struct audit_field *f;

	if (rec->nfields == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 32; /* an AVC record has ~16 */

		f = realloc(rec->fields, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		rec->fields = f;
		ps->cap = cap;
	}
	f = &rec->fields[rec->nfields++];
	f->form = (unsigned char)form;
	f->nested = nested;
	f->key = ps->store;
	memcpy(ps->store, key, klen);
	ps->store[klen] = '\0';
	ps->store += klen + 1;
	f->value = ps->store;
	if (form == AUDIT_VALUE_HEX) {
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
	bool lenient = ps->flags & AUDIT_PARSE_LENIENT;
	int err;

	while (p < end) {
		const char *key, *val, *next;
		size_t klen, vlen;

		while (p < end && is_space(*p))
			p++;
		if (p >= end)
			break;
		key = p;
		while (p < end && !char_class[(unsigned char)*p])
			p++;
		klen = (size_t)(p - key);
		/* Words without '=' carry nothing we can key on; a lenient parse
		 * takes them for free text (an old-style message, or a line cut
		 * off inside a key) and stops there. */
		if (p >= end || *p != '=' || klen == 0) {
			if (lenient) {
				ps->rec->rest = copy_line(ps, key);
				return FIELDS_STOPPED;
			}
			while (p < end && !is_space(*p))
				p++;
			continue;
		}
		p++;
		if (p < end && (*p == '"' || *p == '\'')) {
			char q = *p++;
			bool msg = q == '\'' && !nested && klen == 3 && memcmp(key, "msg", 3) == 0;

			val = p;
			next = memchr(p, q, (size_t)(end - p));
			if (!next) {
				if (!lenient)
					return -EINVAL;
				if (!msg) {
					ps->rec->flags |= AUDIT_RECORD_TRUNCATED;
					ps->rec->rest = copy_line(ps, key);
					return FIELDS_STOPPED;
				}
				ps->rec->flags |= AUDIT_RECORD_OPEN_MSG;
				next = end;
			}
			vlen = (size_t)(next - val);
			p = next < end ? next + 1 : end;
			if (msg) {
				err = parse_fields(ps, val, val + vlen, true);
				if (err)
					return err;
				continue;
			}
			err = add_field(ps, key, klen, val, vlen, AUDIT_VALUE_QUOTED, nested);
		} else {
			bool hex;

			val = p;
			while (p < end && !is_space(*p))
				p++;
			vlen = (size_t)(p - val);
			hex = is_hex_string(val, vlen) && is_hex_field(key, klen);
			err = add_field(ps, key, klen, val, vlen,
					hex ? AUDIT_VALUE_HEX : AUDIT_VALUE_BARE, nested);
		}
		if (err)
			return err;
	}
	return 0;
}

/* Trims what is not part of the record: anything after a NUL byte or
 * auditd's enrichment separator, and the line's end of line. */
static const char *record_end(const char *line, size_t len)
{
	const char *end = memchr(line, '\0', len);
	const char *gs;

	if (!end)
		end = line + len;
	gs = memchr(line, AUDIT_ENRICHED_SEP, (size_t)(end - line));
	if (gs)
		end = gs;
	while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	return end;
}

/* Parses the fields of body..end into out, whose type and id are set. */
static int parse_body(const char *body, const char *end, unsigned flags,
		      bool (*want_fields)(const struct audit_record *), struct audit_record *out)
{
	struct parser ps = {.rec = out, .end = end, .flags = flags};
	size_t n = (size_t)(end - body);
	int err;

	while (body < end && is_space(*body))
		body++;
	/* Copies never outgrow the source: a key=value token loses '=' and
	 * gains one NUL, quotes only shrink it, hex halves it; body and rest
	 * are at most one copy each. */
	out->storage_ = malloc(n * 4 + 4);
	if (!out->storage_)
		return -ENOMEM;
	ps.store = out->storage_;
	out->body = copy_line(&ps, body);
	if (want_fields && !want_fields(out))
		return 0;
	err = parse_fields(&ps, body, end, false);
	if (err < 0) {
		audit_record_free(out);
		return err;
	}
	return 0;
}

int audit_record_parse_if(const char *line, size_t len, unsigned flags,
			  bool (*want_fields)(const struct audit_record *),
			  struct audit_record *out)
{
	const char *end, *id = NULL, *body = NULL;

	memset(out, 0, sizeof(*out));
	if (!line)
		return -EINVAL;
	end = record_end(line, len);

	/* '(' is rare in a log line: find it, then look back for "audit". */
	for (const char *q = line + 5; q < end; q++) {
		const char *p;

		q = memchr(q, '(', (size_t)(end - q));
		if (!q)
			break;
		p = q - 5;
		if (memcmp(p, "audit", 5) != 0 || (p != line && !is_space(p[-1]) && p[-1] != '='))
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
	return parse_body(body, end, flags, want_fields, out);
}

int audit_record_parse_ex(const char *line, size_t len, unsigned flags, struct audit_record *out)
{
	return audit_record_parse_if(line, len, flags, NULL, out);
}

int audit_record_parse(const char *line, size_t len, struct audit_record *out)
{
	return audit_record_parse_ex(line, len, 0, out);
}

int audit_record_parse_fields(const char *text, size_t len, unsigned flags,
			      struct audit_record *out)
{
	memset(out, 0, sizeof(*out));
	if (!text)
		return -EINVAL;
	out->flags = AUDIT_RECORD_NO_ID;
	return parse_body(text, record_end(text, len), flags, NULL, out);
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
