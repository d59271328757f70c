#include "pathnorm.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- character classes (ASCII only: ids are never non-ASCII) ---- */

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_lower(unsigned char c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_upper(unsigned char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool is_alnum(unsigned char c)
{
	return is_digit(c) || is_lower(c) || is_upper(c);
}

static bool is_hex_lower(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

static bool is_hex_upper(unsigned char c)
{
	return is_digit(c) || (c >= 'A' && c <= 'F');
}

static bool is_hex(unsigned char c)
{
	return is_hex_lower(c) || is_hex_upper(c);
}

static bool is_vowel(unsigned char c)
{
	switch (c | 0x20) {
	case 'a':
	case 'e':
	case 'i':
	case 'o':
	case 'u':
	case 'y':
		return true;
	}
	return false;
}

/* Kubernetes' rand.String alphabet (apimachinery util/rand): no vowels and
 * no 0/1/3, so generated suffixes never spell words. */
static bool is_k8s_safe(unsigned char c)
{
	return c && strchr("bcdfghjklmnpqrstvwxz2456789", c) != NULL;
}

/* Bytes that may occur in an id-bearing segment; anything else (globs,
 * whitespace, quotes, control and non-ASCII bytes) marks a name. */
static bool is_seg_byte(unsigned char c)
{
	return is_alnum(c) || (c && strchr("._~+=:,@-", c) != NULL);
}

static bool all_of(const char *s, size_t n, bool (*pred)(unsigned char))
{
	for (size_t i = 0; i < n; i++)
		if (!pred((unsigned char)s[i]))
			return false;
	return n > 0;
}

static size_t count_of(const char *s, size_t n, bool (*pred)(unsigned char))
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += pred((unsigned char)s[i]);
	return k;
}

/* ---- whole-segment shapes ---- */

/* 8-4-4-4-12 hex at s (either case, '-' or '_' between groups: systemd
 * escapes '-' in slice names). */
static bool uuid_at(const char *s, size_t n)
{
	static const int groups[] = {8, 4, 4, 4, 12};
	size_t p = 0;
	char sep = 0;

	for (size_t g = 0; g < 5; g++) {
		if (g > 0) {
			if (p >= n || (s[p] != '-' && s[p] != '_'))
				return false;
			if (sep && s[p] != sep)
				return false;
			sep = s[p++];
		}
		for (int i = 0; i < groups[g]; i++, p++)
			if (p >= n || !is_hex((unsigned char)s[p]))
				return false;
	}
	/* not the middle of a longer hex run */
	return p == n || !is_hex((unsigned char)s[p]);
}

static bool has_uuid(const char *s, size_t n)
{
	for (size_t i = 0; i + 36 <= n; i++) {
		if (i > 0 && is_hex((unsigned char)s[i - 1]))
			continue;
		if (uuid_at(s + i, n - i))
			return true;
	}
	return false;
}

/* Digits at s[*p..], exactly want of them (0: one or more). */
static bool take_digits(const char *s, size_t n, size_t *p, size_t want)
{
	size_t k = 0;

	while (*p < n && is_digit((unsigned char)s[*p])) {
		(*p)++;
		k++;
	}
	return want ? k == want : k > 0;
}

/* kubelet's AtomicWriter timestamp dirs: "..2024_05_01_10_00_00.123456789" */
static bool is_atomic_writer_dir(const char *s, size_t n)
{
	static const size_t widths[] = {4, 2, 2, 2, 2, 2};
	size_t p = 2;

	if (n < 2 || s[0] != '.' || s[1] != '.')
		return false;
	for (size_t i = 0; i < 6; i++) {
		if (i > 0 && (p >= n || s[p++] != '_'))
			return false;
		if (!take_digits(s, n, &p, widths[i]))
			return false;
	}
	if (p >= n || s[p++] != '.')
		return false;
	return take_digits(s, n, &p, 0) && p == n;
}

/* Python tempfile's names: 8 characters of [a-z0-9_] after the prefix. */
static bool is_py_temp_chars(unsigned char c)
{
	return is_lower(c) || is_digit(c) || c == '_';
}

static bool is_temp_name(const char *s, size_t n)
{
	/* mktemp(1): "tmp." and 10 (at least 6) alphanumerics */
	if (n >= 10 && memcmp(s, "tmp.", 4) == 0 && all_of(s + 4, n - 4, is_alnum))
		return true;
	/* tempfile.mkstemp/mkdtemp default prefix, optional suffix */
	if (n >= 11 && memcmp(s, "tmp", 3) == 0 && all_of(s + 3, 8, is_py_temp_chars) &&
	    (n == 11 || s[11] == '.'))
		return true;
	/* "XXXXXXXX.tmp" (mktemp with a suffix), mixed case or digits in it */
	if (n >= 10 && memcmp(s + n - 4, ".tmp", 4) == 0 && all_of(s, n - 4, is_alnum) &&
	    n - 4 >= 6) {
		size_t d = count_of(s, n - 4, is_digit), u = count_of(s, n - 4, is_upper);
		size_t l = count_of(s, n - 4, is_lower);
		if ((d > 0) + (u > 0) + (l > 0) >= 2)
			return true;
	}
	return false;
}

/* ---- token features ---- */

/*
 * A token is a maximal run of [A-Za-z0-9] in the segment. Each random shape
 * leaves a token no name has; what separates them is the length, which
 * classes occur (digits, lower, upper case) and how often the class changes
 * between neighbours, plus the lower-case runs (odd_lower_runs below).
 */
struct tok {
	const char *s;
	size_t n;
	size_t lower, upper, digit;
	size_t changes; /* class changes between neighbours */
};

static int cls(unsigned char c)
{
	return is_digit(c) ? 0 : is_lower(c) ? 1 : 2;
}

static void tok_measure(struct tok *t)
{
	t->lower = t->upper = t->digit = t->changes = 0;
	for (size_t i = 0; i < t->n; i++) {
		unsigned char c = (unsigned char)t->s[i];

		t->digit += is_digit(c);
		t->lower += is_lower(c);
		t->upper += is_upper(c);
		if (i > 0 && cls(c) != cls((unsigned char)t->s[i - 1]))
			t->changes++;
	}
}

/* Lower-case runs no CamelCase word has: a single letter next to a digit
 * or between an acronym and a capital ("KDRvIM"; two-letter words as in
 * "XtIsManaged" are fine), or four or more letters without a vowel. */
static size_t odd_lower_runs(const struct tok *t)
{
	size_t bad = 0;

	for (size_t i = 0; i < t->n;) {
		if (!is_lower((unsigned char)t->s[i])) {
			i++;
			continue;
		}
		size_t start = i;
		bool vowel = false;
		while (i < t->n && is_lower((unsigned char)t->s[i]))
			vowel |= is_vowel((unsigned char)t->s[i++]);
		size_t len = i - start;
		unsigned char prev = start > 0 ? (unsigned char)t->s[start - 1] : 0;
		unsigned char prev2 = start > 1 ? (unsigned char)t->s[start - 2] : 0;
		unsigned char next = i < t->n ? (unsigned char)t->s[i] : 0;
		if (len == 1 && start > 0 &&
		    (is_digit(prev) || is_digit(next) ||
		     (is_upper(prev) && is_upper(prev2) && is_upper(next))))
			bad++;
		else if (len >= 4 && !vowel)
			bad++;
	}
	return bad;
}

static bool tok_random(const struct tok *t)
{
	size_t letters = t->lower + t->upper;

	if (t->digit == t->n)
		return false; /* numbers are judged with their neighbours */

	/* hex ids: one case of a-f plus digits; 8 or more, so that short
	 * names made of hex letters and digits ("ed25519", "e1000e") stay */
	if (t->n >= 8 && t->digit > 0 && letters > 0 &&
	    (all_of(t->s, t->n, is_hex_lower) || all_of(t->s, t->n, is_hex_upper)))
		return true;

	/* base32 without lower case (ULIDs, docker's overlay2/l links): no
	 * upper-case name runs 20 characters without a separator */
	if (t->lower == 0 && t->n >= 20)
		return true;

	/* mixed case (base64): a CamelCase name ("CheckCXXCompilerFlag",
	 * "XftDrawString16") is capitals followed by lower-case runs of two
	 * or more; base64 leaves lone lower-case letters between capitals and
	 * digits and vowel-less runs, and sprinkles digits */
	if (t->upper > 0 && t->lower > 0) {
		size_t bad = odd_lower_runs(t);
		if (t->n >= 8 && bad >= 2)
			return true;
		if (t->n >= 12 && t->digit >= 3 && t->changes * 2 >= t->n)
			return true;
	}

	/* lower case and digits (base36, veth names): names mix in a digit
	 * or two and switch at most three times ("libpng16", "utf8mb4",
	 * "libkrb5support0", "libk5crypto3"); ids switch more. Consonant
	 * runs alone prove nothing here: packagers abbreviate ("iswcntrl",
	 * "libnghttp2"). */
	if (t->upper == 0 && t->lower > 0) {
		if (t->n >= 8 && t->digit >= 2 && t->changes >= 4)
			return true;
		if (t->n >= 6 && t->changes >= 5)
			return true;
	}
	return false;
}

/* ---- the classifier ---- */

/* A Kubernetes generated suffix: a 7-10 character pod-template-hash
 * (the decimal digits of a uint32, each mapped into the safe alphabet)
 * with a digit, or 8-10 without; or a final 5 character pod suffix after
 * such a hash, or alone when letters and digits alternate in it
 * ("-x8k2q", "-fx5wx"; a driver name such as "-rt286" does not). */
static bool k8s_suffix(const char *seg, size_t n, size_t start, size_t len)
{
	if (start == 0 || seg[start - 1] != '-')
		return false;
	if (start + len != n && seg[start + len] != '-')
		return false;
	if (!all_of(seg + start, len, is_k8s_safe))
		return false;
	size_t digits = count_of(seg + start, len, is_digit);
	if (len >= 7 && len <= 10)
		return digits > 0 || len >= 8;
	if (len != 5 || start + len != n)
		return false;
	/* the token before, when it is a hash */
	size_t pe = start - 1, ps = pe;
	while (ps > 0 && is_alnum((unsigned char)seg[ps - 1]))
		ps--;
	if (k8s_suffix(seg, pe, ps, pe - ps))
		return true;
	struct tok t = {.s = seg + start, .n = len};
	tok_measure(&t);
	return digits > 0 && digits < len && t.changes >= 2;
}

/* Longest run of lower-case letters without a vowel (a e i o u y). */
static size_t vowelless_run(const char *s, size_t n)
{
	size_t run = 0, best = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		run = is_lower(c) && !is_vowel(c) ? run + 1 : 0;
		if (run > best)
			best = run;
	}
	return best;
}

/* Python tempfile.mkdtemp(prefix="pip-install-") and the like: the last
 * '-' piece holds 8 of [a-z0-9_] where digits alternate with letters
 * ("-9z3qg7mc", "-__wvm7rp", "-duspw6gg"). Names put their digits in one
 * place ("-256color", "-httplib2") or among vowels ("-mips64el"). */
static bool temp_suffix(const char *seg, size_t n)
{
	if (n < 10 || seg[n - 9] != '-' || !all_of(seg + n - 8, 8, is_py_temp_chars))
		return false;
	const char *p = seg + n - 8;
	struct tok t = {.s = p, .n = 8};
	tok_measure(&t);
	if (t.digit == 0 || t.digit == 8)
		return false;
	return memchr(p, '_', 8) || t.changes >= 3 || (t.changes == 2 && vowelless_run(p, 8) >= 3);
}

/* Does a run of letters read as words: an optional capital, then two or
 * more lower-case letters with a vowel ("Chrome", "Debian"), or capitals
 * alone ("MANAGED"; "KDR" in "KDRvIM" is fine, the lone "v" is not)? */
static bool wordlike(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (is_digit((unsigned char)s[i])) {
			i++;
			continue;
		}
		size_t u = i, l;
		while (i < n && is_upper((unsigned char)s[i]))
			i++;
		l = i;
		bool vowel = false;
		while (i < n && is_lower((unsigned char)s[i]))
			vowel |= strchr("aeiou", s[i++]) != NULL;
		size_t nl = i - l;
		if (l == u && nl == 0)
			i++; /* not a letter or digit: cannot happen, but move on */
		if (nl > 0 && (nl < 2 || !vowel))
			return false;
	}
	return true;
}

/* mkstemp-style suffix: the last piece after '-' or '.', 6 to 16
 * characters with an upper-case letter, that does not read as words or
 * changes class four or more times ("ssh-Y1bQEranML",
 * ".com.google.Chrome.XZ4C8s", "...Chrome.KDRvIM"). Names end in words,
 * extensions and versions ("org.freedesktop.NetworkManager", ".Debian"). */
static bool mkstemp_suffix(const char *seg, size_t n)
{
	size_t start = n;

	while (start > 0 && is_alnum((unsigned char)seg[start - 1]))
		start--;
	if (start == 0 || (seg[start - 1] != '-' && seg[start - 1] != '.') || n - start < 6 ||
	    n - start > 16)
		return false;
	struct tok t = {.s = seg + start, .n = n - start};
	tok_measure(&t);
	if (!t.upper)
		return false;
	return !wordlike(t.s, t.n) || t.changes >= 4;
}

/* The same for base64 with its '+', '-', '_', '=' (no '.'): judge the
 * segment's alphanumerics as one token when it has upper case, since
 * separators cut base64 into short runs ("SytlY-xieXAWdSWjeU_S5j2k"). */
static bool base64_segment(const char *seg, size_t n)
{
	char flat[256];
	size_t k = 0;

	if (n < 16 || n > sizeof(flat) || memchr(seg, '.', n))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)seg[i];
		if (is_alnum(c))
			flat[k++] = (char)c;
		else if (!strchr("+-_=", c))
			return false;
	}
	struct tok t = {.s = flat, .n = k};
	tok_measure(&t);
	return t.upper > 0 && t.lower > 0 && tok_random(&t) &&
	       (odd_lower_runs(&t) >= 3 || t.digit >= 3);
}

int pathnorm_classify_segment(const char *seg, size_t n)
{
	if (!seg || n == 0)
		return 0;
	if (!all_of(seg, n, is_seg_byte))
		return 0;
	if (is_atomic_writer_dir(seg, n) || is_temp_name(seg, n) || has_uuid(seg, n) ||
	    temp_suffix(seg, n) || mkstemp_suffix(seg, n) || base64_segment(seg, n))
		return 1;

	size_t i = 0, prev_start = 0, prev_len = 0;
	bool prev_num = false;
	while (i < n) {
		if (!is_alnum((unsigned char)seg[i])) {
			i++;
			continue;
		}
		size_t start = i;
		while (i < n && is_alnum((unsigned char)seg[i]))
			i++;
		struct tok t = {.s = seg + start, .n = i - start};
		tok_measure(&t);

		if (t.digit == t.n) {
			/* 6+ digits: a pid, a clock, a counter, unless it is a
			 * component of a dotted version ("so.20220623.0") */
			bool dot_before = start > 0 && seg[start - 1] == '.';
			bool dot_after = i < n && seg[i] == '.';
			bool version =
			    (dot_before && prev_num) ||
			    (dot_after && i + 1 < n && is_digit((unsigned char)seg[i + 1])) ||
			    (dot_before && prev_len == 2 && memcmp(seg + prev_start, "so", 2) == 0);
			if (t.n >= 6 && !version)
				return 1;
		} else if (tok_random(&t) || k8s_suffix(seg, n, start, t.n)) {
			return 1;
		}
		prev_num = t.digit == t.n;
		prev_start = start;
		prev_len = t.n;
	}
	return 0;
}

/* ---- normalisation ---- */

struct seg {
	const char *s;
	size_t n;
	bool star; /* replaced by a whole-segment '*' */
};

static bool seg_is(const struct seg *g, const char *lit)
{
	size_t n = strlen(lit);
	return g->n == n && memcmp(g->s, lit, n) == 0;
}

/* True when segs[0..] spell the directory dir ("/a/b/") and there is at
 * least one more segment below it. */
static bool below(const struct seg *segs, size_t nseg, const char *dir)
{
	size_t k = 0;
	const char *p = dir + 1;

	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (k >= nseg || segs[k].n != n || memcmp(segs[k].s, p, n) != 0)
			return false;
		k++;
		p += n + (e != NULL);
	}
	return nseg > k;
}

/* Exactly the directory (with or without the trailing slash). */
static bool is_dir(const struct seg *segs, size_t nseg, const char *dir)
{
	size_t k = 0;
	const char *p = dir + 1;

	while (*p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (k >= nseg || segs[k].n != n || memcmp(segs[k].s, p, n) != 0)
			return false;
		k++;
		p += n + (e != NULL);
	}
	return nseg == k;
}

struct outbuf {
	char *p;
	size_t len, cap;
	bool over;
};

static void put(struct outbuf *o, const char *s, size_t n)
{
	if (o->over || o->cap - o->len <= n) {
		o->over = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static int emit(char *out, size_t outlen, const struct seg *segs, size_t nseg, size_t upto,
		bool dir, const char *tail)
{
	struct outbuf o = {.p = out, .cap = outlen};

	out[0] = '\0';
	for (size_t i = 0; i < upto && i < nseg; i++) {
		put(&o, "/", 1);
		if (segs[i].star)
			put(&o, "*", 1);
		else
			put(&o, segs[i].s, segs[i].n);
	}
	if (tail)
		put(&o, tail, strlen(tail));
	else if (dir || upto == 0)
		put(&o, "/", 1);
	if (o.over) {
		out[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

static bool mask_writes(const char *mask)
{
	return mask && strpbrk(mask, "awlkcd") != NULL;
}

static const char *const lib_dirs[] = {
    "/lib/x86_64-linux-gnu/",
    "/usr/lib/x86_64-linux-gnu/",
    "/usr/lib/aarch64-linux-gnu/",
    "/lib/aarch64-linux-gnu/",
};

static const char *const sa_dirs[] = {
    "/run/secrets/kubernetes.io/serviceaccount/",
    "/var/run/secrets/kubernetes.io/serviceaccount/",
};

static const char *const no_classify[] = {"/lib/", "/usr/lib/", "/usr/local/lib/"};

static const char *const overlay_roots[] = {
    "/var/lib/docker/overlay2/",
    "/var/lib/containers/storage/overlay/",
};

/* Number of segments in a directory spelled "/a/b/". */
static size_t count_segs(const char *dir)
{
	size_t k = 0;

	for (const char *p = dir + 1; *p; p++)
		k += *p == '/';
	return k;
}

static bool all_digits(const struct seg *g)
{
	return all_of(g->s, g->n, is_digit);
}

int pathnorm_normalize_mask(const char *path, const char *mask, char *out, size_t outlen)
{
	if (!path || !out || outlen == 0)
		return -EINVAL;
	out[0] = '\0';
	if (path[0] != '/')
		return -EINVAL;

	size_t plen = strlen(path);
	struct seg *segs = calloc(plen / 2 + 1, sizeof(*segs));
	if (!segs)
		return -ENOMEM;

	/* a. lexical clean */
	size_t nseg = 0;
	bool dir = false;
	for (size_t i = 0; i < plen;) {
		while (i < plen && path[i] == '/')
			i++;
		size_t start = i;
		while (i < plen && path[i] != '/')
			i++;
		size_t n = i - start;
		dir = n == 0 || (n == 1 && path[start] == '.') ||
		      (n == 2 && path[start] == '.' && path[start + 1] == '.');
		if (n == 0 || (n == 1 && path[start] == '.'))
			continue;
		if (n == 2 && path[start] == '.' && path[start + 1] == '.') {
			if (nseg)
				nseg--;
			continue;
		}
		segs[nseg++] = (struct seg){.s = path + start, .n = n};
	}
	if (nseg == 0)
		dir = true;

	int rc;
	/* b. snapshot and overlay layer ids */
	for (size_t i = 0; i + 2 < nseg; i++)
		if (seg_is(&segs[i], "snapshots") && all_digits(&segs[i + 1]) &&
		    seg_is(&segs[i + 2], "fs"))
			segs[i + 1].star = true;
	for (size_t r = 0; r < sizeof(overlay_roots) / sizeof(overlay_roots[0]); r++) {
		if (!below(segs, nseg, overlay_roots[r]))
			continue;
		size_t k = count_segs(overlay_roots[r]);
		if (!seg_is(&segs[k], "l"))
			segs[k].star = true;
		else if (k + 1 < nseg)
			segs[k + 1].star = true;
	}

	/* c. read-only library dirs */
	if (!mask_writes(mask)) {
		for (size_t d = 0; d < sizeof(lib_dirs) / sizeof(lib_dirs[0]); d++) {
			if (below(segs, nseg, lib_dirs[d])) {
				rc = emit(out, outlen, segs, nseg, count_segs(lib_dirs[d]), true,
					  "/**");
				goto done;
			}
		}
	}

	/* d. /tmp */
	if (below(segs, nseg, "/tmp/")) {
		rc = emit(out, outlen, segs, nseg, 1, true, "/**");
		goto done;
	}

	/* e. service-account token dirs */
	for (size_t d = 0; d < sizeof(sa_dirs) / sizeof(sa_dirs[0]); d++) {
		if (below(segs, nseg, sa_dirs[d]) || (dir && is_dir(segs, nseg, sa_dirs[d]))) {
			rc = emit(out, outlen, segs, nseg, count_segs(sa_dirs[d]), true, "/**");
			goto done;
		}
	}

	/* f. /proc */
	if (nseg > 0 && seg_is(&segs[0], "proc")) {
		for (size_t i = 1; i < nseg; i++) {
			if (all_digits(&segs[i]))
				segs[i].star = true;
			if (seg_is(&segs[i - 1], "map_files"))
				segs[i].star = true;
		}
		rc = emit(out, outlen, segs, nseg, nseg, dir, NULL);
		goto done;
	}

	/* g, h. the classifier, outside the library trees */
	bool classify = true;
	for (size_t d = 0; d < sizeof(no_classify) / sizeof(no_classify[0]); d++)
		if (below(segs, nseg, no_classify[d]))
			classify = false;
	if (classify)
		for (size_t i = 0; i < nseg; i++)
			if (!segs[i].star && pathnorm_classify_segment(segs[i].s, segs[i].n))
				segs[i].star = true;
	rc = emit(out, outlen, segs, nseg, nseg, dir, NULL);
done:
	free(segs);
	return rc;
}

int pathnorm_normalize(const char *path, char *out, size_t outlen)
{
	return pathnorm_normalize_mask(path, NULL, out, outlen);
}
