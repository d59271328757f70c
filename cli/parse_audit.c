/* `armorsmith parse-audit`: AppArmor audit records of a log as JSON Lines
 * (or "key: value" blocks), read as a stream so any size of log fits in the
 * same memory. */
#include "audit_apparmor.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

int cli_parse_audit(int argc, char **argv);

/* No audit record comes near this (auditd's limit is 8970 bytes); longer
 * lines are reported and skipped rather than buffered. */
#define MAX_LINE (1024 * 1024)

struct line_reader {
	int fd;
	char *buf; /* MAX_LINE bytes */
	size_t start, end;
	bool eof;
	bool skipping; /* inside a line longer than MAX_LINE */
	/* Called before each read(): output is buffered for speed, and what is
	 * ready must not wait for input that may be slow to come (tail -f). */
	void (*before_read)(void *arg);
	void *arg;
};

/* Returns 1 and the next line (without its newline, not NUL-terminated,
 * valid until the next call), 0 at the end, -errno when reading fails.
 * *overlong is set for a line longer than MAX_LINE: its start is returned
 * and its remainder is skipped. */
static int next_line(struct line_reader *r, const char **line, size_t *len, bool *overlong)
{
	*overlong = false;
	for (;;) {
		char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		ssize_t got;

		if (nl) {
			size_t s = r->start;

			r->start = (size_t)(nl - r->buf) + 1;
			if (r->skipping) {
				r->skipping = false;
				continue;
			}
			*line = r->buf + s;
			*len = (size_t)(nl - r->buf) - s;
			return 1;
		}
		if (r->eof) {
			size_t s = r->start;

			if (s == r->end || r->skipping)
				return 0;
			r->start = r->end;
			*line = r->buf + s;
			*len = r->end - s;
			return 1;
		}
		if (r->start == 0 && r->end == MAX_LINE) {
			/* a full buffer without a newline */
			r->start = r->end = 0;
			if (r->skipping)
				continue;
			r->skipping = true;
			*overlong = true;
			*line = r->buf;
			*len = MAX_LINE;
			return 1;
		}
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		if (r->before_read)
			r->before_read(r->arg);
		got = read(r->fd, r->buf + r->end, MAX_LINE - r->end);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			r->eof = true;
		r->end += (size_t)got;
	}
}

/* The line being built; reused for every record. */
struct outbuf {
	char *p;
	size_t len, cap;
};

static int out_reserve(struct outbuf *o, size_t more)
{
	size_t cap;
	char *p;

	if (o->cap - o->len >= more)
		return 0;
	cap = o->cap ? o->cap : 4096;
	while (cap - o->len < more)
		cap *= 2;
	p = realloc(o->p, cap);
	if (!p)
		return -ENOMEM;
	o->p = p;
	o->cap = cap;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 when there is none:
 * JSON text must be UTF-8 and a decoded hex value may be any bytes. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];

	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		/* no overlong forms, no UTF-16 surrogates */
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (c == 0xe0 && s[1] < 0xa0) ||
		    (c == 0xed && s[1] > 0x9f))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80 ||
		    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

#ifdef __SSE2__
/* The bytes of v that JSON text cannot carry as they are: control bytes
 * and bytes >= 0x80 (both less than 0x20 as signed bytes), quotes and
 * backslashes. */
static inline unsigned json_care(__m128i v)
{
	return (unsigned)_mm_movemask_epi8(
	    _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
			 _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
				      _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')))));
}
#endif

/* Appends s as a JSON string: quotes, backslashes and control bytes
 * escaped, bytes that are no UTF-8 as U+FFFD. Written here rather than
 * with jansson: building, hashing and dumping a json_t per record took more
 * time than parsing it and held the command near 120k records/s. */
static int json_put_string(struct outbuf *o, const char *str)
{
	/* bytes that are not copied as they are */
	static const unsigned char special[256] = {
	    [0 ... 0x1f] = 1,
	    ['"'] = 1,
	    ['\\'] = 1,
	    [0x80 ... 0xff] = 1,
	};
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);
	const unsigned char *end = s + n;
	char *w;

	/* worst case: every byte as \u00XX; 16 more for the block stores */
	if (out_reserve(o, n * 6 + 2 + 16))
		return -ENOMEM;
	w = o->p + o->len;
	*w++ = '"';
#ifdef __SSE2__
	/* Most strings need no escaping: they are copied in blocks, checked on
	 * the way (strings under 16 bytes as two overlapping halves); the
	 * first byte that needs care sends the rest down the loop below. */
	if (n >= 16) {
		unsigned m;
		size_t r;
		__m128i v;

		for (; end - s > 16; s += 16, w += 16) {
			v = _mm_loadu_si128((const __m128i *)(const void *)s);
			m = json_care(v);
			_mm_storeu_si128((__m128i *)(void *)w, v);
			if (m) {
				s += __builtin_ctz(m);
				w += __builtin_ctz(m);
				goto careful;
			}
		}
		/* the last 1..16 bytes: the block that ends with the string,
		 * stored over bytes that were copied as they are */
		r = (size_t)(end - s);
		v = _mm_loadu_si128((const __m128i *)(const void *)(end - 16));
		if (!(json_care(v) >> (16 - r))) {
			_mm_storeu_si128((__m128i *)(void *)(w - (16 - r)), v);
			w += r;
			goto done;
		}
	} else if (n >= 8) {
		__m128i lo = _mm_loadl_epi64((const __m128i *)(const void *)s);
		__m128i hi = _mm_loadl_epi64((const __m128i *)(const void *)(end - 8));

		if (!json_care(_mm_unpacklo_epi64(lo, hi))) {
			_mm_storel_epi64((__m128i *)(void *)w, lo);
			_mm_storel_epi64((__m128i *)(void *)(w + n - 8), hi);
			w += n;
			goto done;
		}
	} else if (n >= 4) {
		int32_t lo, hi;

		memcpy(&lo, s, 4);
		memcpy(&hi, end - 4, 4);
		if (!(json_care(_mm_set_epi32(0, 0, hi, lo)) & 0xff)) {
			memcpy(w, &lo, 4);
			memcpy(w + n - 4, &hi, 4);
			w += n;
			goto done;
		}
	}
careful:
#endif
	for (;;) {
		unsigned c;
		size_t l;

#ifdef __SSE2__
		/* sixteen bytes at a time, stored as they are, up to the first
		 * that needs care */
		while (end - s >= 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
			unsigned m = json_care(v);

			_mm_storeu_si128((__m128i *)(void *)w, v);
			if (m) {
				unsigned k = (unsigned)__builtin_ctz(m);

				s += k;
				w += k;
				break;
			}
			s += 16;
			w += 16;
		}
#else
		/* eight bytes at a time while none needs care: no control
		 * byte, no byte >= 0x80, no quote, no backslash */
		while (end - s >= 8) {
			uint64_t v, q, b;

			memcpy(&v, s, 8);
			q = v ^ 0x2222222222222222ull;
			b = v ^ 0x5c5c5c5c5c5c5c5cull;
			if (((v - 0x2020202020202020ull) | v | ((q - 0x0101010101010101ull) & ~q) |
			     ((b - 0x0101010101010101ull) & ~b)) &
			    0x8080808080808080ull)
				break;
			memcpy(w, s, 8);
			s += 8;
			w += 8;
		}
#endif
		while (!special[*s])
			*w++ = (char)*s++;
		c = *s;
		if (!c)
			break;
		if (c >= 0x80) {
			l = utf8_len(s);
			if (!l) {
				memcpy(w, "\xef\xbf\xbd", 3);
				w += 3;
				s++;
				continue;
			}
			memcpy(w, s, l);
			w += l;
			s += l;
			continue;
		}
		*w++ = '\\';
		switch (c) {
		case '"':
		case '\\':
			*w++ = (char)c;
			break;
		case '\n':
			*w++ = 'n';
			break;
		case '\t':
			*w++ = 't';
			break;
		case '\r':
			*w++ = 'r';
			break;
		case '\b':
			*w++ = 'b';
			break;
		case '\f':
			*w++ = 'f';
			break;
		default:
			memcpy(w, "u00", 3);
			w[3] = hex[c >> 4];
			w[4] = hex[c & 15];
			w += 5;
		}
		s++;
	}
#ifdef __SSE2__
done:
#endif
	*w++ = '"';
	o->len = (size_t)(w - o->p);
	return 0;
}

/* Writes v in decimal at p (at most 20 bytes); returns the length. */
static size_t put_u64(char *p, uint64_t v)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324"
				    "25262728293031323334353637383940414243444546474849"
				    "50515253545556575859606162636465666768697071727374"
				    "75767778798081828384858687888990919293949596979899";
	size_t n = 1;
	char *w;

	for (uint64_t t = v; t >= 10; t /= 100)
		n += t >= 100 ? 2 : 1;
	w = p + n;
	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);

		v /= 100;
		w -= 2;
		memcpy(w, pairs + r * 2, 2);
	}
	if (v >= 10)
		memcpy(w - 2, pairs + v * 2, 2);
	else
		w[-1] = (char)('0' + v);
	return n;
}

/* Writes the lines gathered in o. */
static int flush_out(struct outbuf *o, FILE *out)
{
	size_t n = o->len;

	o->len = 0;
	if (!n)
		return 0;
	errno = 0;
	if (fwrite(o->p, 1, n, out) == n)
		return 0;
	return errno ? -errno : -EIO;
}

/* Writes out the results and errors gathered so far; write errors stay in
 * the streams' error flags for the final check. */
static void flush_all(void *arg)
{
	flush_out(arg, stdout);
	fflush(stdout);
	fflush(stderr);
}

/* Appends one event as a JSON line (keys in parse-audit's order) to o,
 * writing o out when it holds 64 KiB: one write per record would cost as
 * much as building it. */
static int emit_json(const struct apparmor_event *ev, struct outbuf *o, FILE *out)
{
	struct apparmor_field f[APPARMOR_MAX_FIELDS];
	char idbuf[64];
	size_t n = apparmor_event_fields(ev, f, idbuf, sizeof(idbuf));

	for (size_t i = 0; i < n; i++) {
		size_t klen = f[i].key_len;
		char *w;

		/* ,"key": and at most 20 digits; 16 for the key's block copy */
		if (out_reserve(o, klen + 48))
			return -ENOMEM;
		w = o->p + o->len;
		*w++ = i ? ',' : '{';
		*w++ = '"';
		/* keys are NUL-padded to 16 bytes: one block, not a call */
		if (klen <= 16)
			memcpy(w, f[i].key, 16);
		else
			memcpy(w, f[i].key, klen);
		w += klen;
		*w++ = '"';
		*w++ = ':';
		if (!f[i].str)
			w += put_u64(w, f[i].num);
		o->len = (size_t)(w - o->p);
		if (f[i].str && json_put_string(o, f[i].str))
			return -ENOMEM;
	}
	if (out_reserve(o, 2))
		return -ENOMEM;
	o->p[o->len++] = '}';
	o->p[o->len++] = '\n';
	return o->len >= 65536 ? flush_out(o, out) : 0;
}

/* "key: value" lines and a blank line; control bytes as \xNN. */
static int emit_text(const struct apparmor_event *ev, FILE *out)
{
	struct apparmor_field f[APPARMOR_MAX_FIELDS];
	char idbuf[64];
	size_t n = apparmor_event_fields(ev, f, idbuf, sizeof(idbuf));

	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s: ", f[i].key);
		if (!f[i].str) {
			fprintf(out, "%" PRIu64 "\n", f[i].num);
			continue;
		}
		for (const unsigned char *p = (const unsigned char *)f[i].str; *p; p++) {
			if (*p < 0x20 || *p == 0x7f || *p == '\\')
				fprintf(out, "\\x%02x", *p);
			else
				putc(*p, out);
		}
		putc('\n', out);
	}
	return putc('\n', out) == EOF ? -EIO : 0;
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: armorsmith parse-audit [--json] [FILE|-]\n"
	    "\n"
	    "Parses the AppArmor audit records in FILE (or standard input) the way\n"
	    "libapparmor does and prints one result per record. Reads every form a log can\n"
	    "have: auditd (type=AVC msg=audit(...): ..., old type=APPARMOR_DENIED and\n"
	    "type=1500..1506 records, type=USER_AVC from dbus-daemon), kernel log, syslog\n"
	    "and dmesg lines (type=1400 audit(...): ...), hex-encoded values and quoted\n"
	    "values with spaces.\n"
	    "\n"
	    "Lines that are no audit record are skipped. Every audit record gives one\n"
	    "result; records that are no AppArmor event (seccomp, SYSCALL, the free-text\n"
	    "messages of AppArmor before 2.1) come out as \"apparmor\": \"INVALID\" with what\n"
	    "they hold, as libapparmor reports them. A damaged record (cut off inside a value,\n"
	    "a malformed value or event id) is INVALID with what came before the damage, and\n"
	    "one error line naming the line number goes to standard error. Lines longer\n"
	    "than 1 MiB are reported and skipped.\n"
	    "\n"
	    "Keys: apparmor (ALLOWED, DENIED, AUDIT, HINT, STATUS, ERROR, INVALID; from the\n"
	    "record type when there is no apparmor= field), audit_id (EPOCH.MS:SERIAL),\n"
	    "operation, profile, name, name2 (name2= or target=), comm, pid, parent,\n"
	    "requested_mask (requested_mask= or requested=), denied_mask, fsuid, ouid,\n"
	    "family, sock_type, protocol (a name: tcp, udp, ...), laddr, lport, faddr,\n"
	    "fport, peer, signal, capname, info, error (a positive errno: error=-13 is 13),\n"
	    "class, fstype, flags, execpath, src_name (srcname=), and when present\n"
	    "namespace, peer_profile, peer_pid, attribute, task, magic_token, peer_info,\n"
	    "addr, peer_addr and the D-Bus bus, path, interface, member. Numbers are JSON\n"
	    "numbers, everything else strings, hex decoded.\n"
	    "\n"
	    "  --json       JSON Lines, one object per record (default: \"key: value\" lines,\n"
	    "               a blank line after each record)\n"
	    "  -h, --help   this text\n"
	    "\n"
	    "Exits 0 when the input was read to its end, 1 when it could not be read or\n"
	    "the output not written, 2 on usage errors.\n");
}

int cli_parse_audit(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct line_reader r = {.fd = -1};
	struct outbuf o = {0};
	const char *path = "-", *shown;
	bool json = false;
	uint64_t lineno = 0;
	int c, ret = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind > 1) {
		log_error("parse-audit: one input at most, got %d", argc - optind);
		usage(stderr);
		return 2;
	}
	if (optind < argc)
		path = argv[optind];
	shown = strcmp(path, "-") == 0 ? "standard input" : path;

	r.fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (r.fd < 0) {
		log_error("parse-audit: cannot open %s: %s", path, strerror(errno));
		return 1;
	}
	r.buf = malloc(MAX_LINE);
	if (!r.buf) {
		log_error("parse-audit: out of memory for the line buffer");
		goto cleanup;
	}
	/* Whole lines per write, few writes; stderr too, as a damaged log can
	 * have an error line for every record. Both are flushed before each
	 * read. */
	setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	setvbuf(stderr, NULL, _IOFBF, 1 << 16);
	r.before_read = flush_all;
	r.arg = &o;

	for (;;) {
		struct apparmor_event ev;
		const char *line = NULL;
		char err[256];
		bool overlong;
		size_t len = 0;
		int got = next_line(&r, &line, &len, &overlong), pr;

		if (got < 0) {
			log_error("parse-audit: cannot read %s after line %" PRIu64 ": %s", shown,
				  lineno, strerror(-got));
			goto cleanup;
		}
		if (got == 0)
			break;
		lineno++;
		if (overlong) {
			log_error("parse-audit: %s: line %" PRIu64
				  ": longer than %d bytes, skipped",
				  path, lineno, MAX_LINE);
			continue;
		}
		pr = audit_parse_apparmor_line(line, len, &ev, err, sizeof(err));
		if (pr == -ENOMSG)
			continue;
		if (pr == -ENOMEM) {
			log_error("parse-audit: %s: line %" PRIu64 ": out of memory", shown,
				  lineno);
			goto cleanup;
		}
		if (pr == -EINVAL)
			log_error("parse-audit: %s: line %" PRIu64 ": %s", shown, lineno, err);
		pr = json ? emit_json(&ev, &o, stdout) : emit_text(&ev, stdout);
		apparmor_event_free(&ev);
		if (pr) {
			log_error("parse-audit: cannot write the result of line %" PRIu64 ": %s",
				  lineno, strerror(-pr));
			goto cleanup;
		}
	}
	if (flush_out(&o, stdout) || fflush(stdout) == EOF || ferror(stdout)) {
		log_error("parse-audit: cannot write the results: %s", strerror(errno));
		goto cleanup;
	}
	ret = 0;
cleanup:
	fflush(stderr);
	free(o.p);
	free(r.buf);
	if (r.fd > STDIN_FILENO)
		close(r.fd);
	return ret;
}
