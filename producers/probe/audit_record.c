#include "audit_record.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* auditd's enriched format appends interpreted fields after this byte; they
 * are auditd's guesses (e.g. SYSCALL=unknown-syscall(-1) for seccomp records)
 * and the raw fields before it are what we trust. */
#define AUDIT_ENRICHED_SEP '\x1d'

/* clang-format off */
#define AUDIT_TYPE(num, name) {num, name, sizeof(name) - 1}
/* clang-format on */

/* Sorted by number: type_index() searches it by halves. */
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

struct parser {
	struct audit_record *rec;
	char *store;	 /* next free byte of rec->storage_ */
	char *store_end; /* end of rec->storage_ */
	const char *end; /* end of the whole line, for rest */
	const char *eol; /* its first '\n' or '\r', end when none */
	unsigned flags;	 /* AUDIT_PARSE_* */
};

/* The buffers of the last record freed in this thread, kept for the next
 * one: a log is parsed record after record, and a malloc() and a free() of
 * two blocks per record cost as much as the parse of a short one. Blocks
 * larger than SPARE_MAX go back to malloc. A thread's spare blocks are
 * freed when it exits (spare_key's destructor). */
#define SPARE_MAX (64 * 1024)
#define STORAGE_MIN 4096

static _Thread_local struct spare {
	char *storage;
	size_t storage_cap;
	struct audit_field *fields;
	size_t fields_cap;
	bool registered; /* with spare_key, for the destructor */
} spare;

static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static bool spare_key_made;

static void spare_release(void *arg)
{
	struct spare *sp = arg;

	free(sp->storage);
	free(sp->fields);
	memset(sp, 0, sizeof(*sp));
}

static void spare_make_key(void)
{
	spare_key_made = pthread_key_create(&spare_key, spare_release) == 0;
}

/* Whether this thread may keep spare blocks: only once their release at
 * thread exit is arranged. */
static bool spare_usable(void)
{
	if (spare.registered)
		return true;
	pthread_once(&spare_once, spare_make_key);
	if (!spare_key_made || pthread_setspecific(spare_key, &spare) != 0)
		return false;
	spare.registered = true;
	return true;
}

/* A storage block of at least need bytes, its size in *cap; NULL when out
 * of memory. */
static char *storage_take(size_t need, size_t *cap)
{
	char *p;
	size_t c;

	if (spare.storage) {
		if (spare.storage_cap >= need) {
			p = spare.storage;
			*cap = spare.storage_cap;
			spare.storage = NULL;
			return p;
		}
		free(spare.storage);
		spare.storage = NULL;
	}
	/* rounded up so that the next records of similar length fit too */
	if (need > SPARE_MAX)
		c = need;
	else
		for (c = STORAGE_MIN; c < need; c *= 2)
			;
	p = malloc(c);
	if (p)
		*cap = c;
	return p;
}

/* parse_fields() result when a lenient parse stopped early. */
#define FIELDS_STOPPED 1

/* The index of type in audit_types, -1 when it has no name. */
static int type_index(int type)
{
	size_t lo = 0, hi = sizeof(audit_types) / sizeof(audit_types[0]);

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (audit_types[mid].type == type)
			return (int)mid;
		if (audit_types[mid].type < type)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int type_of_name(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(audit_types) / sizeof(audit_types[0]); i++)
		if (audit_types[i].len == len && audit_types[i].name[0] == name[0] &&
		    memcmp(audit_types[i].name, name, len) == 0)
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

/* The value of a hex digit plus one; 0 for other bytes. */
static const unsigned char hex_digit[256] = {
    ['0'] = 1,	['1'] = 2,  ['2'] = 3,	['3'] = 4,  ['4'] = 5,	['5'] = 6,  ['6'] = 7,	['7'] = 8,
    ['8'] = 9,	['9'] = 10, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
    ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

static int hex_value(char c)
{
	return hex_digit[(unsigned char)c] - 1;
}

/* What a scanner looks for. The last three stop at a few bytes more than
 * they look for (control bytes, rare in a record: the kernel hex-encodes
 * values that have them), which spares compares; their callers check the
 * byte they stop at. */
enum scan_kind {
	SCAN_BYTE,	  /* the byte a */
	SCAN_2BYTES,	  /* a or b */
	SCAN_SPACE_ISH,	  /* a space (C_SPACE) or a byte <= '\r' */
	SCAN_KEY_END_ISH, /* a space, '=' or a byte <= '\r' */
	SCAN_CTRL,	  /* a byte <= AUDIT_ENRICHED_SEP ('\0', '\n', '\r', ...) */
};

static inline bool scan_hit(char c, enum scan_kind kind, char a, char b)
{
	switch (kind) {
	case SCAN_BYTE:
		return c == a;
	case SCAN_2BYTES:
		return c == a || c == b;
	case SCAN_SPACE_ISH:
		return c == ' ' || (unsigned char)c <= '\r';
	case SCAN_KEY_END_ISH:
		return c == ' ' || c == '=' || (unsigned char)c <= '\r';
	case SCAN_CTRL:
		return (unsigned char)c <= AUDIT_ENRICHED_SEP;
	}
	return false;
}

/* The scanners look at 16 bytes at a time where SSE2 is there (every
 * x86-64): the bytes of a line are most of the tokenizer's work. */
#ifdef __SSE2__
static inline unsigned bytes_eq(__m128i v, char c)
{
	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c)));
}

/* Bytes <= max, unsigned. */
static inline __m128i bytes_le(__m128i v, char max)
{
	return _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(max)), v);
}

static inline unsigned scan_mask(__m128i v, enum scan_kind kind, char a, char b)
{
	switch (kind) {
	case SCAN_BYTE:
		return bytes_eq(v, a);
	case SCAN_2BYTES:
		return bytes_eq(v, a) | bytes_eq(v, b);
	case SCAN_SPACE_ISH:
		return (unsigned)_mm_movemask_epi8(
		    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), bytes_le(v, '\r')));
	case SCAN_KEY_END_ISH:
		return (unsigned)_mm_movemask_epi8(
		    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')),
					      _mm_cmpeq_epi8(v, _mm_set1_epi8('='))),
				 bytes_le(v, '\r')));
	case SCAN_CTRL:
		return (unsigned)_mm_movemask_epi8(bytes_le(v, AUDIT_ENRICHED_SEP));
	}
	return 0;
}
#endif

/* The first byte of p..end that kind looks for, or end. Only bytes before
 * end are read. */
static inline const char *scan(const char *p, const char *end, enum scan_kind kind, char a, char b)
{
#ifdef __SSE2__
	if (end - p >= 16) {
		unsigned m;

		for (; end - p > 16; p += 16) {
			m = scan_mask(_mm_loadu_si128((const __m128i *)(const void *)p), kind, a,
				      b);
			if (m)
				return p + __builtin_ctz(m);
		}
		/* the last 1..16 bytes: the block that ends at end, without
		 * the bytes already seen */
		m = scan_mask(_mm_loadu_si128((const __m128i *)(const void *)(end - 16)), kind, a,
			      b) >>
		    (16 - (end - p));
		return m ? p + __builtin_ctz(m) : end;
	}
#else
	if (kind == SCAN_BYTE) {
		const char *q = memchr(p, a, (size_t)(end - p));

		return q ? q : end;
	}
#endif
	while (p < end && !scan_hit(*p, kind, a, b))
		p++;
	return p;
}

static inline const char *scan_to(const char *p, const char *end, char c)
{
	return scan(p, end, SCAN_BYTE, c, c);
}

/* The first space (C_SPACE) at or after p, or end. */
static inline const char *scan_to_space(const char *p, const char *end)
{
	for (;; p++) {
		p = scan(p, end, SCAN_SPACE_ISH, 0, 0);
		if (p == end || is_space(*p))
			return p;
	}
}

/* The first space or '=' at or after p, or end. */
static inline const char *scan_to_key_end(const char *p, const char *end)
{
	for (;; p++) {
		p = scan(p, end, SCAN_KEY_END_ISH, 0, 0);
		if (p == end || char_class[(unsigned char)*p])
			return p;
	}
}

/* Reads decimal digits into *out; returns how many were consumed, 0 on none
 * or overflow. */
static inline size_t parse_u64(const char *p, const char *end, uint64_t *out)
{
	const char *s = p, *fast_end = end - p > 19 ? p + 19 : end;
	uint64_t v = 0;
	unsigned d;

	/* 19 digits cannot overflow: only longer numbers need the check */
	while (s < fast_end && (d = (unsigned char)*s - '0') < 10) {
		v = v * 10 + d;
		s++;
	}
	while (s < end && (d = (unsigned char)*s - '0') < 10) {
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
		s++;
	}
	*out = v;
	return (size_t)(s - p);
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
	int known;
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
	known = type_index(rec->type);
	/* Every record passes here: a plain copy, not snprintf's format engine. */
	if (known >= 0 && audit_types[known].len < sizeof(rec->type_name))
		memcpy(rec->type_name, audit_types[known].name, audit_types[known].len + 1);
	else
		snprintf(rec->type_name, sizeof(rec->type_name), "UNKNOWN[%d]", rec->type);
}

/* Fields the kernel writes with audit_log_untrustedstring() (or AppArmor's
 * equivalent): bare hex there means the value had spaces, quotes or control
 * bytes. Other fields are never encoded, so a bare "deadbeef" stays as is.
 * By length first: most bare values are numbers of other keys. */
static bool is_hex_field(const char *key, size_t klen)
{
#define IS(name) (memcmp(key, name, sizeof(name) - 1) == 0)
	switch (klen) {
	case 3:
		return IS("exe") || IS("cwd");
	case 4:
		return IS("comm") || IS("name") || IS("path") || IS("peer") || IS("data") ||
		       IS("addr");
	case 5:
		return IS("name2") || IS("label");
	case 6:
		return IS("target");
	case 7:
		return IS("profile") || IS("srcname");
	case 8:
		return IS("execpath") || IS("src_name") || IS("tcontext");
	case 9:
		return IS("proctitle") || IS("namespace") || IS("peer_addr");
	case 10:
		return IS("peer_label");
	case 12:
		return IS("peer_profile");
	default:
		return false;
	}
#undef IS
}

static bool is_hex_string(const char *v, size_t len)
{
	if (len < 2 || len % 2)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!hex_digit[(unsigned char)v[i]])
			return false;
	return true;
}

/* Copies n bytes from src to the storage. Keys and most values are a few
 * bytes, for which a call to memcpy() costs more than the copy: those go
 * as one 16-byte block when both sides have the room (the storage is
 * over-allocated; the source is read no further than the line's end). */
static void store_bytes(struct parser *ps, const char *src, size_t n)
{
	if (n <= 16 && ps->end - src >= 16 && ps->store_end - ps->store >= 16)
		memcpy(ps->store, src, 16);
	else
		memcpy(ps->store, src, n);
	ps->store += n;
}

/* Copies text up to the end of its line into the storage. */
static const char *copy_line(struct parser *ps, const char *p)
{
	const char *start = ps->store;
	const char *e = ps->eol >= p ? ps->eol : scan(p, ps->end, SCAN_2BYTES, '\n', '\r');
	size_t n = (size_t)(e - p);

	memcpy(ps->store, p, n);
	ps->store[n] = '\0';
	ps->store += n + 1;
	return start;
}

static inline int add_field(struct parser *ps, const char *key, size_t klen, const char *val,
			    size_t vlen, enum audit_value_form form, bool nested)
{
	struct audit_record *rec = ps->rec;
	struct audit_field *f;

	if (rec->nfields == rec->fields_cap_) {
		size_t cap = rec->fields_cap_ ? rec->fields_cap_ * 2 : 32; /* an AVC has ~16 */

		f = realloc(rec->fields, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		rec->fields = f;
		rec->fields_cap_ = cap;
	}
	f = &rec->fields[rec->nfields++];
	f->form = (unsigned char)form;
	f->nested = nested;
	f->key_len = klen <= UINT32_MAX ? (uint32_t)klen : 0;
	f->key = ps->store;
	store_bytes(ps, key, klen);
	*ps->store++ = '\0';
	f->value = ps->store;
	if (form == AUDIT_VALUE_HEX) {
		for (size_t i = 0; i < vlen; i += 2) {
			char c = (char)(hex_value(val[i]) << 4 | hex_value(val[i + 1]));

			/* proctitle separates arguments with NUL; a C string cannot. */
			*ps->store++ = c ? c : ' ';
		}
	} else {
		store_bytes(ps, val, vlen);
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
		p = scan_to_key_end(p, end);
		klen = (size_t)(p - key);
		/* Words without '=' carry nothing we can key on; a lenient parse
		 * takes them for free text (an old-style message, or a line cut
		 * off inside a key) and stops there. */
		if (p >= end || *p != '=' || klen == 0) {
			if (lenient) {
				ps->rec->rest = copy_line(ps, key);
				return FIELDS_STOPPED;
			}
			p = scan_to_space(p, end);
			continue;
		}
		p++;
		if (p < end && (*p == '"' || *p == '\'')) {
			char q = *p++;
			bool msg = q == '\'' && !nested && klen == 3 && memcmp(key, "msg", 3) == 0;

			val = p;
			next = scan_to(p, end, q);
			if (next == end) {
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
			p = scan_to_space(p, end);
			vlen = (size_t)(p - val);
			hex = is_hex_field(key, klen) && is_hex_string(val, vlen);
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
static const char *record_end(const char *line, size_t len, const char **eol)
{
	const char *lim = line + len, *end, *p;

	/* one pass for both: copy_line() needs the first end of line */
	*eol = NULL;
	p = line;
#ifdef __SSE2__
	/* a whole line is read here: 64 bytes per test while nothing is found */
	for (; lim - p >= 64; p += 64) {
		const __m128i *b = (const __m128i *)(const void *)p;
		__m128i m = _mm_or_si128(
		    _mm_or_si128(bytes_le(_mm_loadu_si128(b), AUDIT_ENRICHED_SEP),
				 bytes_le(_mm_loadu_si128(b + 1), AUDIT_ENRICHED_SEP)),
		    _mm_or_si128(bytes_le(_mm_loadu_si128(b + 2), AUDIT_ENRICHED_SEP),
				 bytes_le(_mm_loadu_si128(b + 3), AUDIT_ENRICHED_SEP)));

		if (_mm_movemask_epi8(m))
			break;
	}
#endif
	for (;; p++) {
		p = scan(p, lim, SCAN_CTRL, 0, 0);
		if (p == lim || *p == '\0' || *p == AUDIT_ENRICHED_SEP)
			break;
		if (!*eol && (*p == '\n' || *p == '\r'))
			*eol = p;
	}
	end = p;
	while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (!*eol || *eol > end)
		*eol = end;
	return end;
}

/* Parses the fields of body..end into out, whose type and id are set; eol
 * is the first '\n' or '\r' of the line (end when none). */
static int parse_body(const char *body, const char *end, const char *eol, unsigned flags,
		      bool (*want_fields)(const struct audit_record *), struct audit_record *out)
{
	struct parser ps = {.rec = out, .end = end, .eol = eol, .flags = flags};
	size_t n = (size_t)(end - body);
	int err;

	while (body < end && is_space(*body))
		body++;
	/* Copies never outgrow the source: a key=value token loses '=' and
	 * gains one NUL, quotes only shrink it, hex halves it; body and rest
	 * are at most one copy each. */
	out->storage_ = storage_take(n * 4 + 4, &out->storage_cap_);
	if (!out->storage_)
		return -ENOMEM;
	ps.store = out->storage_;
	ps.store_end = out->storage_ + out->storage_cap_;
	out->body = copy_line(&ps, body);
	if (want_fields && !want_fields(out))
		return 0;
	if (spare.fields) {
		out->fields = spare.fields;
		out->fields_cap_ = spare.fields_cap;
		spare.fields = NULL;
	}
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
	const char *end, *eol, *id = NULL, *body = NULL;

	memset(out, 0, sizeof(*out));
	if (!line)
		return -EINVAL;
	end = record_end(line, len, &eol);

	/* '(' is rare in a log line: find it, then look back for "audit". */
	for (const char *q = line + 5; q < end; q++) {
		const char *p;

		q = scan_to(q, end, '(');
		if (q == end)
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
	return parse_body(body, end, eol, flags, want_fields, out);
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
	const char *end, *eol;

	memset(out, 0, sizeof(*out));
	if (!text)
		return -EINVAL;
	out->flags = AUDIT_RECORD_NO_ID;
	end = record_end(text, len, &eol);
	return parse_body(text, end, eol, flags, NULL, out);
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
	if (rec->fields && !spare.fields && rec->fields_cap_ * sizeof(*rec->fields) <= SPARE_MAX &&
	    spare_usable()) {
		spare.fields = rec->fields;
		spare.fields_cap = rec->fields_cap_;
	} else {
		free(rec->fields);
	}
	if (rec->storage_ && !spare.storage && rec->storage_cap_ <= SPARE_MAX && spare_usable()) {
		spare.storage = rec->storage_;
		spare.storage_cap = rec->storage_cap_;
	} else {
		free(rec->storage_);
	}
	memset(rec, 0, sizeof(*rec));
}
