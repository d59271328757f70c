#include "audit_apparmor.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* How a key's value is read. The kernel quotes or hex-encodes every string
 * it logs, so a bare string where one belongs is damage (libapparmor
 * rejects it too), except where a form is noted. */
enum value_kind {
	V_IGNORE,   /* known, carries nothing we report (uid, capability, ...) */
	V_STR,	    /* quoted or hex */
	V_TARGET,   /* quoted or hex that decodes to text */
	V_NUM,	    /* bare decimal */
	V_ERROR,    /* bare decimal, optionally negative: reported positive */
	V_PROTOCOL, /* bare number (named here) or quoted name */
	V_SIGNAL,   /* bare or quoted */
	V_IP,	    /* bare or quoted address */
	V_ADDR,	    /* like V_STR; bare "?" and "none" mean no address */
	V_CAPNAME,  /* quoted; also the name, as libapparmor reports it */
	V_KIND,	    /* apparmor="DENIED" */
	V_TYPE,	    /* type=1503 after the event id: the event kind */
};

#define STR_FIELD(member) offsetof(struct apparmor_event, member)
#define NUM_FIELD(member) offsetof(struct apparmor_event, member)

static const struct key_rule {
	const char *key;
	enum value_kind kind;
	size_t off;   /* of the const char * or uint64_t member */
	uint32_t has; /* APPARMOR_HAS_* for numbers */
} key_rules[] = {
    {"addr", V_ADDR, STR_FIELD(addr), 0},
    {"apparmor", V_KIND, 0, 0},
    {"attribute", V_STR, STR_FIELD(attribute), 0},
    {"auid", V_IGNORE, 0, 0},
    {"bus", V_STR, STR_FIELD(bus), 0},
    {"capability", V_IGNORE, 0, 0},
    {"capname", V_CAPNAME, STR_FIELD(capname), 0},
    {"class", V_STR, STR_FIELD(class_name), 0},
    {"comm", V_STR, STR_FIELD(comm), 0},
    {"daddr", V_IP, STR_FIELD(faddr), 0},
    {"denied", V_STR, STR_FIELD(denied_mask), 0},
    {"denied_mask", V_STR, STR_FIELD(denied_mask), 0},
    {"dest", V_NUM, NUM_FIELD(fport), APPARMOR_HAS_FPORT},
    {"error", V_ERROR, NUM_FIELD(error), APPARMOR_HAS_ERROR},
    {"exe", V_STR, STR_FIELD(comm), 0},
    {"execpath", V_STR, STR_FIELD(execpath), 0},
    {"faddr", V_IP, STR_FIELD(faddr), 0},
    {"family", V_STR, STR_FIELD(family), 0},
    {"flags", V_STR, STR_FIELD(flags), 0},
    {"fport", V_NUM, NUM_FIELD(fport), APPARMOR_HAS_FPORT},
    {"fstype", V_STR, STR_FIELD(fstype), 0},
    {"fsuid", V_NUM, NUM_FIELD(fsuid), APPARMOR_HAS_FSUID},
    {"hostname", V_IGNORE, 0, 0},
    {"info", V_STR, STR_FIELD(info), 0},
    {"interface", V_STR, STR_FIELD(interface), 0},
    {"label", V_STR, STR_FIELD(profile), 0},
    {"laddr", V_IP, STR_FIELD(laddr), 0},
    {"lport", V_NUM, NUM_FIELD(lport), APPARMOR_HAS_LPORT},
    {"magic_token", V_NUM, NUM_FIELD(magic_token), APPARMOR_HAS_MAGIC_TOKEN},
    {"mask", V_STR, STR_FIELD(denied_mask), 0},
    {"member", V_STR, STR_FIELD(member), 0},
    {"method", V_STR, STR_FIELD(member), 0},
    {"name", V_STR, STR_FIELD(name), 0},
    {"name2", V_STR, STR_FIELD(name2), 0},
    {"namespace", V_STR, STR_FIELD(namespace_name), 0},
    {"offset", V_IGNORE, 0, 0},
    {"operation", V_STR, STR_FIELD(operation), 0},
    {"ouid", V_NUM, NUM_FIELD(ouid), APPARMOR_HAS_OUID},
    {"parent", V_NUM, NUM_FIELD(parent), APPARMOR_HAS_PARENT},
    {"path", V_STR, STR_FIELD(path), 0},
    {"peer", V_STR, STR_FIELD(peer), 0},
    {"peer_addr", V_ADDR, STR_FIELD(peer_addr), 0},
    {"peer_info", V_STR, STR_FIELD(peer_info), 0},
    {"peer_label", V_STR, STR_FIELD(peer_profile), 0},
    {"peer_pid", V_NUM, NUM_FIELD(peer_pid), APPARMOR_HAS_PEER_PID},
    {"peer_profile", V_STR, STR_FIELD(peer_profile), 0},
    {"pid", V_NUM, NUM_FIELD(pid), APPARMOR_HAS_PID},
    {"profile", V_STR, STR_FIELD(profile), 0},
    {"protocol", V_PROTOCOL, 0, 0},
    {"requested", V_STR, STR_FIELD(requested_mask), 0},
    {"requested_mask", V_STR, STR_FIELD(requested_mask), 0},
    {"saddr", V_IP, STR_FIELD(laddr), 0},
    {"sauid", V_IGNORE, 0, 0},
    {"ses", V_IGNORE, 0, 0},
    {"signal", V_SIGNAL, STR_FIELD(signal), 0},
    {"sock_type", V_STR, STR_FIELD(sock_type), 0},
    {"src", V_NUM, NUM_FIELD(lport), APPARMOR_HAS_LPORT},
    {"srcname", V_STR, STR_FIELD(src_name), 0},
    {"target", V_TARGET, STR_FIELD(name2), 0},
    {"task", V_NUM, NUM_FIELD(task), APPARMOR_HAS_TASK},
    {"tcontext", V_STR, STR_FIELD(peer_profile), 0},
    {"terminal", V_IGNORE, 0, 0},
    {"type", V_TYPE, 0, 0},
    {"uid", V_IGNORE, 0, 0},
};

static const char *const kind_names[] = {
    [APPARMOR_INVALID] = "INVALID", [APPARMOR_AUDIT] = "AUDIT", [APPARMOR_ALLOWED] = "ALLOWED",
    [APPARMOR_DENIED] = "DENIED",   [APPARMOR_HINT] = "HINT",	[APPARMOR_STATUS] = "STATUS",
    [APPARMOR_ERROR] = "ERROR",
};

/* IP protocol names as <netinet/in.h> spells them (libapparmor's table is
 * generated from it; the first name of a number wins: 0 is "ip"). */
static const struct {
	unsigned num;
	const char *name;
} protocols[] = {
    {0, "ip"},	       {1, "icmp"},   {2, "igmp"},     {4, "ipip"},	 {6, "tcp"},
    {8, "egp"},	       {12, "pup"},   {17, "udp"},     {22, "idp"},	 {29, "tp"},
    {33, "dccp"},      {41, "ipv6"},  {43, "routing"}, {44, "fragment"}, {46, "rsvp"},
    {47, "gre"},       {50, "esp"},   {51, "ah"},      {58, "icmpv6"},	 {59, "none"},
    {60, "dstopts"},   {92, "mtp"},   {94, "beetph"},  {98, "encap"},	 {103, "pim"},
    {108, "comp"},     {132, "sctp"}, {135, "mh"},     {136, "udplite"}, {137, "mpls"},
    {143, "ethernet"}, {255, "raw"},  {262, "mptcp"},
};

const char *apparmor_kind_name(enum apparmor_kind kind)
{
	if ((unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "INVALID";
	return kind_names[kind];
}

/* The kind libapparmor gives the audit types 1501..1506; any other type
 * leaves the event INVALID until an apparmor= field says otherwise. */
static enum apparmor_kind kind_of_type(uint64_t type)
{
	switch (type) {
	case 1501:
		return APPARMOR_AUDIT;
	case 1502:
		return APPARMOR_ALLOWED;
	case 1503:
		return APPARMOR_DENIED;
	case 1504:
		return APPARMOR_HINT;
	case 1505:
		return APPARMOR_STATUS;
	case 1506:
		return APPARMOR_ERROR;
	default:
		return APPARMOR_INVALID;
	}
}

/* Whether the record can carry an AppArmor event in key=value form. A type
 * written as a name other than these is some other subsystem's record (or
 * "type=APPARMOR", the free-text messages before AppArmor 2.1), which
 * libapparmor reports as the type name plus the message. */
static bool is_apparmor_type(const struct audit_record *rec)
{
	int t = rec->type;

	if (rec->flags & AUDIT_RECORD_NO_ID)
		return true;
	if (rec->flags & AUDIT_RECORD_TYPE_NAMED)
		return t == 1400 || t == 1107 || (t >= 1501 && t <= 1506);
	return t == 0 || t == 1400 || t == 1107 || (t >= 1500 && t <= 1507);
}

/* key_rules by hash (index + 1; 0 is empty), built once: looking a key up
 * happens for every field of every record. The hash takes the first and
 * last byte and the length, which tells every key of key_rules apart (a
 * collision would only cost a probe more). */
#define RULE_SLOTS 256

static unsigned char rule_slots[RULE_SLOTS];
static unsigned char rule_len[sizeof(key_rules) / sizeof(key_rules[0])];
static pthread_once_t rule_slots_once = PTHREAD_ONCE_INIT;

static unsigned hash_key(const char *key, size_t len)
{
	return ((unsigned char)key[0] * 3u + (unsigned char)key[len - 1] * 46u +
		(unsigned)len * 13u) %
	       RULE_SLOTS;
}

static void build_rule_slots(void)
{
	for (size_t i = 0; i < sizeof(key_rules) / sizeof(key_rules[0]); i++) {
		unsigned h = hash_key(key_rules[i].key, strlen(key_rules[i].key));

		rule_len[i] = (unsigned char)strlen(key_rules[i].key);
		while (rule_slots[h])
			h = (h + 1) % RULE_SLOTS;
		rule_slots[h] = (unsigned char)(i + 1);
	}
}

/* a and b, len bytes each, are equal. Keys are a few bytes: compares of a
 * known size are a few instructions, a call to memcmp() is more. */
static inline bool key_eq(const char *a, const char *b, size_t len)
{
#define EQ(n)                                                                                      \
	case n:                                                                                    \
		return memcmp(a, b, n) == 0
	switch (len) {
		EQ(1);
		EQ(2);
		EQ(3);
		EQ(4);
		EQ(5);
		EQ(6);
		EQ(7);
		EQ(8);
		EQ(9);
		EQ(10);
		EQ(11);
		EQ(12);
		EQ(13);
		EQ(14);
	default:
		return memcmp(a, b, len) == 0;
	}
#undef EQ
}

/* The rule of key (len bytes, len > 0); rule_slots must be built. */
static const struct key_rule *find_rule(const char *key, size_t len)
{
	for (unsigned h = hash_key(key, len); rule_slots[h]; h = (h + 1) % RULE_SLOTS) {
		unsigned i = rule_slots[h] - 1u;

		if (rule_len[i] == len && key_eq(key_rules[i].key, key, len))
			return &key_rules[i];
	}
	return NULL;
}

static bool parse_decimal(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = 0;
	unsigned d;

	/* 19 digits cannot overflow: only longer numbers need the check */
	for (; (d = (unsigned char)s[n] - '0') < 10; n++) {
		if (n >= 19 && v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (!n || s[n])
		return false;
	*out = v;
	return true;
}

/* Writes v in decimal at p; returns the length. p must have room for 20
 * bytes, which may all be written. */
static size_t put_u64(char *p, uint64_t v)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324"
				    "25262728293031323334353637383940414243444546474849"
				    "50515253545556575859606162636465666768697071727374"
				    "75767778798081828384858687888990919293949596979899";
	char tmp[40];
	char *w = tmp + 20;

	/* backwards from the last digit, then one fixed-size copy */
	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);

		v /= 100;
		w -= 2;
		memcpy(w, pairs + r * 2, 2);
	}
	if (v >= 10) {
		w -= 2;
		memcpy(w, pairs + v * 2, 2);
	} else {
		*--w = (char)('0' + v);
	}
	memcpy(p, w, 20);
	return (size_t)(tmp + 20 - w);
}

/* Printable UTF-8 text: what a hex-encoded target decodes to when the
 * kernel encoded a real name (one with spaces or quotes), and not when it
 * logged garbage (LP: #1689667). */
static bool is_text(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s++;
		int more;

		if (c < 0x20 || c == 0x7f)
			return false;
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			more = 1;
		else if (c >= 0xe0 && c <= 0xef)
			more = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			more = 3;
		else
			return false;
		while (more--)
			if ((*s++ & 0xc0) != 0x80)
				return false;
	}
	return true;
}

/* A short, printable excerpt of untrusted text (at most n bytes of s, which
 * need not end in a NUL within them) for an error message. */
static void excerpt(char *buf, size_t len, const char *s, size_t n)
{
	size_t i = 0, j = 0;

	for (; j < n && s[j] && i + 4 < len && i < 40; j++)
		buf[i++] = (s[j] >= 0x20 && s[j] < 0x7f) ? s[j] : '?';
	if (j < n && s[j] && i + 4 < len) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
}

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

/* Reads one field into out; false when its value has the wrong form. */
static bool apply_field(const struct key_rule *r, const struct audit_field *f,
			struct apparmor_event *out)
{
	bool bare = f->form == AUDIT_VALUE_BARE;
	const char **str = (const char **)((char *)out + r->off);
	uint64_t *num = (uint64_t *)((char *)out + r->off);
	const char *v = f->value;
	uint64_t n;

	switch (r->kind) {
	case V_IGNORE:
		return true;
	case V_TARGET:
		if (f->form == AUDIT_VALUE_HEX && !is_text((const unsigned char *)v))
			return false;
		/* fall through */
	case V_STR:
		if (bare)
			return false;
		*str = v;
		return true;
	case V_CAPNAME:
		if (bare)
			return false;
		out->capname = v;
		out->name = v;
		return true;
	case V_ADDR:
		if (bare && (strcmp(v, "?") == 0 || strcmp(v, "none") == 0))
			return true;
		if (bare)
			return false;
		*str = v;
		return true;
	case V_SIGNAL:
	case V_IP:
		if (!*v)
			return false;
		*str = v;
		return true;
	case V_NUM:
		if (!bare || !parse_decimal(v, &n))
			return false;
		*num = n;
		out->has |= r->has;
		return true;
	case V_ERROR:
		if (!bare || !parse_decimal(v[0] == '-' ? v + 1 : v, &n))
			return false;
		*num = n;
		out->has |= r->has;
		return true;
	case V_PROTOCOL:
		if (bare) {
			size_t len;

			if (!parse_decimal(v, &n))
				return false;
			for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
				if (protocols[i].num == n) {
					/* the names are short: none is cut */
					memcpy(out->protocol, protocols[i].name,
					       strlen(protocols[i].name) + 1);
					return true;
				}
			/* "unknown(N)": 9 + 20 digits at most, within protocol[32] */
			memcpy(out->protocol, "unknown(", 8);
			len = 8 + put_u64(out->protocol + 8, n);
			out->protocol[len] = ')';
			out->protocol[len + 1] = '\0';
			return true;
		}
		if (strlen(v) >= sizeof(out->protocol))
			return false;
		memcpy(out->protocol, v, strlen(v) + 1);
		return true;
	case V_KIND:
		if (bare)
			return false;
		out->apparmor = APPARMOR_INVALID;
		for (size_t i = 1; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
			if (kind_names[i][0] == v[0] && strcmp(v, kind_names[i]) == 0) {
				out->apparmor = (enum apparmor_kind)i;
				break;
			}
		return true;
	case V_TYPE:
		if (!bare || !parse_decimal(v, &n))
			return false;
		out->apparmor = kind_of_type(n);
		return true;
	}
	return false;
}

/* Fills everything but out->rec_. */
static int fill(const struct audit_record *rec, struct apparmor_event *out, char *err,
		size_t errlen)
{
	bool user_msg = rec->type == 1107;
	size_t message_fields = 0;
	char ex[48];

	memset(out, 0, offsetof(struct apparmor_event, rec_));
	if (err && errlen)
		err[0] = '\0';
	if (!(rec->flags & AUDIT_RECORD_NO_ID)) {
		out->has |= APPARMOR_HAS_AUDIT_ID;
		out->sec = rec->sec;
		out->msec = rec->msec;
		out->serial = rec->serial;
	}
	if ((rec->flags & AUDIT_RECORD_TYPE_GLUED) && !rec->type) {
		/* libapparmor reports nothing for such a line, not even the id */
		out->has = 0;
		set_err(err, errlen,
			"record type unreadable: type= is glued to the text before it");
		return -EINVAL;
	}
	if (!is_apparmor_type(rec)) {
		if (rec->flags & AUDIT_RECORD_TYPE_NAMED)
			out->operation = rec->type_name;
		out->info = rec->body;
		return 0;
	}
	out->apparmor = kind_of_type((uint64_t)rec->type);

	pthread_once(&rule_slots_once, build_rule_slots);
	for (size_t i = 0; i < rec->nfields; i++) {
		const struct audit_field *f = &rec->fields[i];
		const struct key_rule *r;
		size_t klen;

		/* A user-space AVC's own pid, uid, auid and ses are the
		 * daemon's; the event is in its msg='...'. */
		if (user_msg && !f->nested)
			continue;
		message_fields++;
		/* key_len is 0 for a key of 4 GiB or a record made by hand */
		klen = f->key_len ? f->key_len : strlen(f->key);
		if (!klen)
			continue;
		r = find_rule(f->key, klen);
		/* Keys a newer kernel may add are no reason to drop the event. */
		if (!r)
			continue;
		if (!apply_field(r, f, out)) {
			excerpt(ex, sizeof(ex), f->value, SIZE_MAX);
			out->apparmor = APPARMOR_INVALID;
			if (r->kind == V_TARGET && f->form == AUDIT_VALUE_HEX)
				set_err(err, errlen,
					"malformed value of %s=: hex of binary data, no name",
					f->key);
			else
				set_err(err, errlen, "malformed value of %s=: '%s'", f->key, ex);
			return -EINVAL;
		}
	}

	if (rec->flags & AUDIT_RECORD_TRUNCATED) {
		char key[32];
		size_t klen = strcspn(rec->rest, "=");

		excerpt(key, sizeof(key), rec->rest, klen);
		excerpt(ex, sizeof(ex), rec->rest + klen + (rec->rest[klen] ? 1 : 0), SIZE_MAX);
		out->apparmor = APPARMOR_INVALID;
		set_err(err, errlen, "record cut off inside the value of %s=: %s", key, ex);
		return -EINVAL;
	}
	if (rec->rest) {
		/* libapparmor keeps the text it could not read as the info */
		out->apparmor = APPARMOR_INVALID;
		out->info = rec->rest;
		/* a message that is all free text is an old-style record, not
		 * damage */
		if (!message_fields)
			return 0;
		excerpt(ex, sizeof(ex), rec->rest, SIZE_MAX);
		set_err(err, errlen, "text where key=value fields belong: '%s'", ex);
		return -EINVAL;
	}
	return 0;
}

int audit_parse_apparmor(const struct audit_record *rec, struct apparmor_event *out, char *err,
			 size_t errlen)
{
	memset(&out->rec_, 0, sizeof(out->rec_));
	return fill(rec, out, err, errlen);
}

/* Whether text claims an event id: "audit(" and a digit where an id starts
 * (a broken one makes the record INVALID rather than no record). */
static bool claims_event_id(const char *line, const char *end)
{
	for (const char *q = line + 5; q + 1 < end; q++) {
		const char *p;

		q = memchr(q, '(', (size_t)(end - q));
		if (!q || q + 1 >= end)
			return false;
		p = q - 5;
		if (memcmp(p, "audit", 5) == 0 &&
		    (p == line || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '=') && q[1] >= '0' &&
		    q[1] <= '9')
			return true;
	}
	return false;
}

/* dbus-daemon logs AppArmor decisions to syslog without an event id:
 * "... dbus[1692]: apparmor="DENIED" operation=...". Looks at each '='
 * (few in a line) rather than with memmem(), which costs more on the
 * many lines that hold no record. */
static const char *find_apparmor_key(const char *line, const char *end)
{
	if (end - line < 9)
		return NULL;
	for (const char *q = line + 8; q < end; q++) {
		const char *p;

		q = memchr(q, '=', (size_t)(end - q));
		if (!q)
			return NULL;
		p = q - 8;
		if (memcmp(p, "apparmor", 8) == 0 && (p == line || p[-1] == ' ' || p[-1] == '\t'))
			return p;
	}
	return NULL;
}

int audit_parse_apparmor_line(const char *line, size_t len, struct apparmor_event *out, char *err,
			      size_t errlen)
{
	const char *end, *start;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!line) {
		memset(out, 0, sizeof(*out));
		return -ENOMSG;
	}
	/* Most records of an audit log are no AppArmor event (SYSCALL, PATH,
	 * SECCOMP, ...): their fields are not worth reading. out->rec_ is
	 * cleared by the record parser, the rest by fill() or here. */
	ret = audit_record_parse_if(line, len, AUDIT_PARSE_LENIENT, is_apparmor_type, &out->rec_);
	if (ret == 0)
		return fill(&out->rec_, out, err, errlen);
	memset(out, 0, offsetof(struct apparmor_event, rec_));
	if (ret != -EINVAL)
		return ret;

	/* No event id could be read. */
	end = memchr(line, '\0', len);
	if (!end)
		end = line + len;
	if (claims_event_id(line, end)) {
		const char *id = memmem(line, (size_t)(end - line), "audit(", 6);
		char ex[48];

		excerpt(ex, sizeof(ex), id, (size_t)(end - id));
		set_err(err, errlen, "malformed audit event id: '%s'", ex);
		return -EINVAL;
	}
	start = find_apparmor_key(line, end);
	if (!start)
		return -ENOMSG;
	ret = audit_record_parse_fields(start, (size_t)(end - start), AUDIT_PARSE_LENIENT,
					&out->rec_);
	if (ret)
		return ret;
	return fill(&out->rec_, out, err, errlen);
}

void apparmor_event_free(struct apparmor_event *ev)
{
	audit_record_free(&ev->rec_);
}

/* "sec.msec:serial" without printf: this runs for every record. */
static void format_audit_id(const struct apparmor_event *ev, char *buf, size_t buflen)
{
	char tmp[64];
	size_t n = 0;
	int32_t ms = ev->msec;

	if (ev->sec < 0) {
		tmp[n++] = '-';
		n += put_u64(tmp + n, (uint64_t)0 - (uint64_t)ev->sec);
	} else {
		n += put_u64(tmp + n, (uint64_t)ev->sec);
	}
	tmp[n++] = '.';
	if (ms < 0 || ms > 999)
		ms = 0;
	tmp[n++] = (char)('0' + ms / 100);
	tmp[n++] = (char)('0' + ms / 10 % 10);
	tmp[n++] = (char)('0' + ms % 10);
	tmp[n++] = ':';
	n += put_u64(tmp + n, ev->serial);
	if (n >= buflen)
		n = buflen - 1;
	memcpy(buf, tmp, n);
	buf[n] = '\0';
}

size_t apparmor_event_fields(const struct apparmor_event *ev, struct apparmor_field *out, char *buf,
			     size_t buflen)
{
	size_t n = 0;

/* The keys are padded with NULs to 16 bytes at least (see the header). */
#define KEY_PAD "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
#define STR(k, v)                                                                                  \
	do {                                                                                       \
		if (v)                                                                             \
			out[n++] = (struct apparmor_field){                                        \
			    .key = (k KEY_PAD), .key_len = sizeof(k) - 1, .str = (v)};             \
	} while (0)
#define NUM(k, flag, v)                                                                            \
	do {                                                                                       \
		if (ev->has & (flag))                                                              \
			out[n++] = (struct apparmor_field){                                        \
			    .key = (k KEY_PAD), .key_len = sizeof(k) - 1, .num = (v)};             \
	} while (0)

	STR("apparmor", apparmor_kind_name(ev->apparmor));
	if ((ev->has & APPARMOR_HAS_AUDIT_ID) && buf && buflen) {
		format_audit_id(ev, buf, buflen);
		STR("audit_id", buf);
	}
	STR("operation", ev->operation);
	STR("profile", ev->profile);
	STR("name", ev->name);
	STR("name2", ev->name2);
	STR("comm", ev->comm);
	NUM("pid", APPARMOR_HAS_PID, ev->pid);
	NUM("parent", APPARMOR_HAS_PARENT, ev->parent);
	STR("requested_mask", ev->requested_mask);
	STR("denied_mask", ev->denied_mask);
	NUM("fsuid", APPARMOR_HAS_FSUID, ev->fsuid);
	NUM("ouid", APPARMOR_HAS_OUID, ev->ouid);
	STR("family", ev->family);
	STR("sock_type", ev->sock_type);
	STR("protocol", ev->protocol[0] ? ev->protocol : NULL);
	STR("laddr", ev->laddr);
	NUM("lport", APPARMOR_HAS_LPORT, ev->lport);
	STR("faddr", ev->faddr);
	NUM("fport", APPARMOR_HAS_FPORT, ev->fport);
	STR("peer", ev->peer);
	STR("signal", ev->signal);
	STR("capname", ev->capname);
	STR("info", ev->info);
	NUM("error", APPARMOR_HAS_ERROR, ev->error);
	STR("class", ev->class_name);
	STR("fstype", ev->fstype);
	STR("flags", ev->flags);
	STR("execpath", ev->execpath);
	STR("src_name", ev->src_name);
	STR("namespace", ev->namespace_name);
	STR("peer_profile", ev->peer_profile);
	NUM("peer_pid", APPARMOR_HAS_PEER_PID, ev->peer_pid);
	STR("attribute", ev->attribute);
	NUM("task", APPARMOR_HAS_TASK, ev->task);
	NUM("magic_token", APPARMOR_HAS_MAGIC_TOKEN, ev->magic_token);
	STR("peer_info", ev->peer_info);
	STR("addr", ev->addr);
	STR("peer_addr", ev->peer_addr);
	STR("bus", ev->bus);
	STR("path", ev->path);
	STR("interface", ev->interface);
	STR("member", ev->member);
#undef STR
#undef NUM
#undef KEY_PAD
	return n;
}
