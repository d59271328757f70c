/* libFuzzer target: any bytes as an audit log (lines split at '\n'), through
 * everything the system does with it up to the AppArmor profile:
 *
 *   the probe's dispatch and parsers (audit_parse_apparmor_line, and
 *   audit_parse_seccomp_line for seccomp records) -> the probe's vArmor
 *   preprocessing (apparmor_behavior_fill) -> the store's merge into one
 *   behavior model (its keys and permission union, from
 *   store/migrations) -> profile_build_run(), the builder's own path
 *   normalisation, AppArmor and seccomp generators and ArmorProfileModel.
 *
 * The run's profile is the first ALLOWED record's profile (its //null-
 * child cut off); the model is named after it when that is a DNS-1123
 * label, else "fuzz-profile" (the builder only ever sees policy names).
 * Deliberately wider than production: the merger drops events whose strings
 * are not UTF-8 and the probe attributes seccomp records to runs by process;
 * here every parsed behavior reaches the generators, which must cope with
 * any byte.
 *
 * Beyond "no crash, no sanitizer report" the profile text is read back the
 * way apparmor_parser tokenises it, and the target aborts unless:
 *  - it is printable ASCII lines, starts with the blank line and ends with
 *    "\n}\n", and has exactly the seed's layout: header lines, one
 *    "profile NAME flags=(...) {", the section comments in order with their
 *    fixed rules, "}" as the last line;
 *  - every rule line is two spaces, tokens and a final ',' outside quotes,
 *    with no '#', brace, backslash, AARE character or stray ',' outside a
 *    quoted string, every quoted string closed (never right after a
 *    backslash: apparmor_parser's lexer reads \" as a quote inside the
 *    string) and holding only the generator's escapes;
 *  - decoding each path of a rule gives back exactly a path of the model,
 *    with '*' unescaped only as a whole-segment '*' or '**';
 *  - each section holds exactly one line per distinct rule of the model
 *    (owner, permissions, mount options included), sorted, and
 *    skipped_rules counts exactly the behaviors no safe rule can express;
 *  - the seccomp JSON is present exactly when a syscall beyond the six was
 *    seen, parses with jansson and names every syscall; the
 *    ArmorProfileModel serialises and carries the profile text.
 *
 * ARMORSMITH_FUZZ_DUMP=DIR writes each generated profile to DIR (to compile
 * them with apparmor_parser, too slow for the loop); ARMORSMITH_FUZZ_LOG=1
 * keeps the generators' log lines. */
#include "apparmor_behavior.h"
#include "audit_apparmor.h"
#include "audit_seccomp.h"
#include "behavior.h"
#include "capability.h"
#include "log.h"
#include "profile_build.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FALLBACK_NAME "fuzz-profile"

static const char *dump_dir;
static const char *current_text; /* printed when an invariant fails */

static void fail(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void fail(int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_apparmor_profile.c:%d: invariant broken: ", line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n--- profile ---\n%s--- end ---\n", current_text ? current_text : "");
	abort();
}

#define FAIL(...) fail(__LINE__, __VA_ARGS__)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!getenv("ARMORSMITH_FUZZ_LOG"))
		log_set_level((enum log_level)(LOG_LEVEL_ERROR + 1));
	dump_dir = getenv("ARMORSMITH_FUZZ_DUMP");
	return 0;
}

/* ---- the store's merge ---- */

/* armorsmith_perm_union() of store/migrations: the letters of both, once
 * each, in the order "mrwaklx". */
static void perm_union(char *dst, size_t len, const char *a, const char *b)
{
	size_t n = 0;

	for (const char *c = "mrwaklx"; *c && n + 1 < len; c++)
		if (strchr(a, *c) || strchr(b, *c))
			dst[n++] = *c;
	dst[n] = '\0';
}

static bool same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static int merge_file(struct behavior_model *m, const Armorsmith__V1__FileBehavior *f)
{
	char perms[16];

	for (size_t i = 0; i < m->n_files; i++) {
		struct file_rule *r = &m->files[i];
		char *dup;

		/* merged_files' key: (path, owner, old_path) */
		if (!same(r->path, f->path) || r->owner != (bool)f->owner ||
		    !same(r->old_path, f->old_path))
			continue;
		perm_union(perms, sizeof(perms), r->perms, f->permissions);
		dup = strdup(perms);
		if (!dup)
			return -ENOMEM;
		free(r->perms);
		r->perms = dup;
		return 0;
	}
	perm_union(perms, sizeof(perms), f->permissions, "");
	return behavior_model_add_file(m, f->path, perms, f->owner, f->old_path);
}

static int merge_event(struct behavior_model *m, const Armorsmith__V1__BehaviorEvent *e)
{
	switch (e->behavior_case) {
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_EXEC:
		return strlist_contains(&m->execs, e->exec->path)
			   ? 0
			   : strlist_add(&m->execs, e->exec->path);
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_FILE:
		return merge_file(m, e->file);
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_CAPABILITY:
		return strlist_contains(&m->capabilities, e->capability->name)
			   ? 0
			   : strlist_add(&m->capabilities, e->capability->name);
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_NETWORK: {
		const Armorsmith__V1__NetworkBehavior *n = e->network;

		for (size_t i = 0; i < m->n_networks; i++) {
			const struct network_rule *r = &m->networks[i];
			if (same(r->family, n->family) && same(r->sock_type, n->sock_type) &&
			    same(r->protocol, n->protocol) && same(r->address, n->address) &&
			    r->port == n->port)
				return 0;
		}
		return behavior_model_add_network(m, n->family, n->sock_type, n->protocol,
						  n->address, n->port);
	}
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_PTRACE:
		for (size_t i = 0; i < m->n_ptraces; i++)
			if (same(m->ptraces[i].peer, e->ptrace->peer) &&
			    same(m->ptraces[i].perms, e->ptrace->permissions))
				return 0;
		return behavior_model_add_ptrace(m, e->ptrace->peer, e->ptrace->permissions);
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_SIGNAL:
		for (size_t i = 0; i < m->n_signals; i++)
			if (same(m->signals[i].peer, e->signal->peer) &&
			    same(m->signals[i].signal, e->signal->signal) &&
			    same(m->signals[i].perms, e->signal->permissions))
				return 0;
		return behavior_model_add_signal(m, e->signal->peer, e->signal->signal,
						 e->signal->permissions);
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_MOUNT: {
		const Armorsmith__V1__MountBehavior *b = e->mount;

		for (size_t i = 0; i < m->n_mounts; i++) {
			const struct mount_rule *r = &m->mounts[i];
			if (same(r->operation, b->operation) && same(r->path, b->path) &&
			    same(r->source, b->source) && same(r->fstype, b->fstype) &&
			    same(r->flags, b->flags))
				return 0;
		}
		return behavior_model_add_mount(m, b->operation, b->path, b->source, b->fstype,
						b->flags);
	}
	default:
		FAIL("apparmor_behavior_fill() returned 0 without a behavior");
	}
	return 0;
}

/* ---- the probe's side ---- */

/* The run's profile: the first ALLOWED record's, without its //null- child. */
static void pick_run_profile(const struct apparmor_event *ev, char **run_profile)
{
	const char *child;
	size_t n;

	if (*run_profile || ev->apparmor != APPARMOR_ALLOWED || !ev->profile)
		return;
	child = strstr(ev->profile, "//null-");
	n = child ? (size_t)(child - ev->profile) : strlen(ev->profile);
	if (n)
		*run_profile = strndup(ev->profile, n);
}

/* As probe_handle_line() sends a line to the seccomp or the AppArmor side. */
static int feed_line(struct behavior_model *m, char **run_profile, const char *line, size_t len)
{
	char err[256];
	int rc = 0;

	if (memmem(line, len, "type=SECCOMP", 12) || memmem(line, len, "type=1326", 9)) {
		struct seccomp_event sev;

		if (audit_parse_seccomp_line(line, len, &sev, err, sizeof(err)) == 0 &&
		    !strlist_contains(&m->syscalls, sev.syscall_name))
			rc = strlist_add(&m->syscalls, sev.syscall_name);
	} else if (memmem(line, len, "apparmor=", 9)) {
		Armorsmith__V1__BehaviorEvent e = ARMORSMITH__V1__BEHAVIOR_EVENT__INIT;
		struct apparmor_event ev;
		struct bpf_event_holder h;
		struct apparmor_scratch s;
		char key[9000];

		rc = audit_parse_apparmor_line(line, len, &ev, err, sizeof(err));
		if (rc == -ENOMSG || rc == -ENOMEM)
			return 0;
		if (rc == 0) {
			pick_run_profile(&ev, run_profile);
			if (*run_profile && apparmor_behavior_fill(&ev, *run_profile, &e, &h, &s,
								   key, sizeof(key)) == 0)
				rc = merge_event(m, &e);
		}
		apparmor_event_free(&ev);
		if (rc == -EINVAL)
			rc = 0;
	}
	return rc;
}

/* ---- reading the profile back ---- */

/* Bytes the generator may write outside quotes in a path. */
static bool bare_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("/._+~:@%=-", c));
}

#define MAX_TOKENS 16

struct tokens {
	char *t[MAX_TOKENS];
	size_t n;
};

/* Splits a rule line ("  BODY,") into space separated tokens the way the
 * AppArmor lexer sees them: a double-quoted string is one token whatever
 * it holds. Fails unless the line is two spaces, tokens, and a final ','
 * outside quotes, with nothing outside quotes that could start a comment,
 * a block, an alternation or a second rule. The line is modified. */
static void split_rule(char *line, struct tokens *out)
{
	static char shown[8192]; /* the line as it was, for messages */
	size_t len = strlen(line);
	bool quoted = false;
	int parens = 0;
	char *p, *start;

	snprintf(shown, sizeof(shown), "%s", line);
	if (len < 4 || strncmp(line, "  ", 2) != 0 || line[2] == ' ' || line[len - 1] != ',')
		FAIL("rule line \"%s\" is not two spaces, a rule and a ','", shown);
	line[len - 1] = '\0';
	out->n = 0;
	start = line + 2;
	for (p = start;; p++) {
		if (quoted) {
			if (!*p)
				FAIL("unterminated quoted string in rule \"%s\"", shown);
			if (*p == '\\' && p[1]) {
				p++;
			} else if (*p == '"') {
				/* The lexer (QUOTED_ID) takes any \" as a quote inside
				 * the string, even after an escaped backslash. */
				if (p[-1] == '\\')
					FAIL("quoted string ends in '\\' in rule \"%s\": the "
					     "lexer reads on past its closing quote",
					     shown);
				quoted = false;
			}
			continue;
		}
		if (*p == ' ' || !*p) {
			bool end = !*p;

			if (p == start)
				FAIL("empty token in rule \"%s\"", shown);
			if (out->n == MAX_TOKENS)
				FAIL("rule \"%s\" has too many tokens", shown);
			*p = '\0';
			out->t[out->n++] = start;
			if (end)
				break;
			start = p + 1;
			continue;
		}
		if (*p == '"') {
			quoted = true;
		} else if (*p == '(') {
			parens++;
		} else if (*p == ')') {
			if (--parens < 0)
				FAIL("unbalanced ')' in rule \"%s\"", shown);
		} else if (*p == ',' && !parens) {
			FAIL("',' outside quotes ends rule \"%s\" early", shown);
		} else if (strchr("#{}\\?[]^'", *p)) {
			FAIL("'%c' outside quotes in rule \"%s\"", *p, shown);
		}
	}
	if (parens)
		FAIL("unbalanced '(' in rule \"%s\"", shown);
}

/* Whether the glob run of n stars ending before out[pos] is a whole
 * segment: '/' before it, '/' or the end after it, one or two stars. */
static bool glob_ok(const char *out, size_t start, size_t n, char next)
{
	return n <= 2 && start > 0 && out[start - 1] == '/' && (next == '/' || next == '\0');
}

/* Decodes a path token as AppArmor reads it (a quoted string with the
 * generator's escapes, or a bare FILEGLOB) into out, rejecting anything the
 * generator must never write. Unescaped stars are globs and must each be a
 * whole segment. Returns the decoded path (out). */
static const char *decode_path(const char *tok, char *out, size_t outlen, bool absolute)
{
	bool quoted = tok[0] == '"';
	size_t len = strlen(tok), o = 0, star_start = 0, stars = 0;
	const char *p = tok + quoted, *end = tok + len - quoted;

	if (quoted && (len < 2 || tok[len - 1] != '"'))
		FAIL("quoted path %s is not closed at the end of its token", tok);
	for (; p < end; p++) {
		unsigned char c = (unsigned char)*p;
		bool glob = false;

		if (o + 2 > outlen)
			FAIL("path %s too long", tok);
		if (quoted && c == '\\') {
			if (p + 1 < end && strchr("\"\\*?[]{}^", p[1])) {
				c = (unsigned char)*++p;
			} else if (p + 3 < end && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' &&
				   p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
				c = (unsigned char)((p[1] - '0') * 64 + (p[2] - '0') * 8 +
						    (p[3] - '0'));
				p += 3;
				if (!c)
					FAIL("\\000 in path %s", tok);
			} else {
				FAIL("unknown escape in path %s", tok);
			}
		} else if (c == '*') {
			glob = true;
		} else if (quoted ? (c < 0x20 || c > 0x7e || strchr("\"?[]{}^", c) != NULL)
				  : !bare_byte(c)) {
			FAIL("unescaped '%c' in path %s", c, tok);
		}
		if (glob) {
			if (!stars)
				star_start = o;
			stars++;
		} else if (stars) {
			if (!glob_ok(out, star_start, stars, (char)c))
				FAIL("glob '*' that is not a whole segment in path %s", tok);
			stars = 0;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	if (stars && !glob_ok(out, star_start, stars, '\0'))
		FAIL("glob '*' that is not a whole segment in path %s", tok);
	if (!o || (absolute && out[0] != '/'))
		FAIL("path %s is empty or not absolute", tok);
	return out;
}

/* The FILE permissions the generator writes for a model's letters:
 * "aklmrw" order, 'a' dropped beside 'w', exec letters dropped. NULL for
 * a letter it must refuse. */
static const char *generated_perms(const char *perms, char out[8])
{
	size_t n = 0;

	for (const char *p = perms; *p; p++)
		if (!strchr("aklmrwxipucPUC", *p))
			return NULL;
	for (const char *c = "aklmrw"; *c; c++)
		if (strchr(perms, *c) && !(*c == 'a' && strchr(perms, 'w')))
			out[n++] = *c;
	out[n] = '\0';
	return out;
}

static bool valid_path(const char *p)
{
	return p && p[0] == '/';
}

struct profile_lines {
	char **l;
	size_t n, i;
};

static void expect(struct profile_lines *pl, const char *want)
{
	if (pl->i >= pl->n || strcmp(pl->l[pl->i], want) != 0)
		FAIL("line %zu is \"%s\", the layout wants \"%s\"", pl->i + 1,
		     pl->i < pl->n ? pl->l[pl->i] : "(end)", want);
	pl->i++;
}

/* The rule lines of a section, up to the blank line before the next one;
 * they must be sorted and unique, as the generator writes them. */
static size_t section_rules(struct profile_lines *pl, size_t *first)
{
	*first = pl->i;
	while (pl->i < pl->n && pl->l[pl->i][0]) {
		if (pl->i > *first && strcmp(pl->l[pl->i - 1], pl->l[pl->i]) >= 0)
			FAIL("rules \"%s\" and \"%s\" are not sorted and unique", pl->l[pl->i - 1],
			     pl->l[pl->i]);
		pl->i++;
	}
	return pl->i - *first;
}

static void check_exec(char **lines, size_t n, const struct behavior_model *m, size_t *skipped)
{
	char path[8192];
	size_t expected = 0;

	for (size_t i = 0; i < m->execs.len; i++) {
		if (valid_path(m->execs.items[i]))
			expected++;
		else
			(*skipped)++;
	}
	if (n != expected)
		FAIL("%zu EXEC rules for %zu executables", n, expected);
	for (size_t i = 0; i < n; i++) {
		struct tokens t;

		split_rule(lines[i], &t);
		if (t.n != 2 || strcmp(t.t[1], "ix") != 0)
			FAIL("EXEC rule is not \"PATH ix,\"");
		decode_path(t.t[0], path, sizeof(path), true);
		if (!strlist_contains(&m->execs, path))
			FAIL("EXEC rule for %s, which the model has not", t.t[0]);
	}
}

static void check_files(char **lines, size_t n, const struct behavior_model *m, size_t *skipped)
{
	char path[8192], perms[8];
	size_t expected = 0;

	/* One line per distinct (owner, path, letters): old_path is not printed.
	 * Lines are unique, so n == expected and each line matching the model
	 * make them one to one. */
	for (size_t i = 0; i < m->n_files; i++) {
		const struct file_rule *f = &m->files[i];
		bool dup = false;

		if (!generated_perms(f->perms, perms) || !valid_path(f->path)) {
			(*skipped)++;
			continue;
		}
		if (!perms[0])
			continue;
		for (size_t j = 0; j < i && !dup; j++) {
			char other[8];
			const struct file_rule *g = &m->files[j];

			dup = g->owner == f->owner && strcmp(g->path, f->path) == 0 &&
			      generated_perms(g->perms, other) && strcmp(other, perms) == 0;
		}
		expected += !dup;
	}
	if (n != expected)
		FAIL("%zu FILE rules for %zu distinct file rules of the model", n, expected);
	for (size_t i = 0; i < n; i++) {
		struct tokens t;
		bool owner, found = false;

		split_rule(lines[i], &t);
		owner = t.n == 3;
		if ((t.n != 2 && t.n != 3) || (owner && strcmp(t.t[0], "owner") != 0))
			FAIL("FILE rule is not \"[owner ]PATH PERMS,\"");
		decode_path(t.t[owner], path, sizeof(path), true);
		for (size_t j = 0; j < m->n_files && !found; j++) {
			const struct file_rule *f = &m->files[j];

			found = f->owner == owner && strcmp(f->path, path) == 0 &&
				generated_perms(f->perms, perms) &&
				strcmp(perms, t.t[owner + 1]) == 0;
		}
		if (!found)
			FAIL("FILE rule for %s %s matches no file rule of the model", t.t[owner],
			     t.t[owner + 1]);
	}
}

static void check_capabilities(char **lines, size_t n, const struct behavior_model *m,
			       size_t *skipped)
{
	size_t expected = 0;

	for (size_t i = 0; i < m->capabilities.len; i++) {
		if (capability_known(m->capabilities.items[i]))
			expected++;
		else
			(*skipped)++;
	}
	if (n != expected)
		FAIL("%zu CAPABILITY rules for %zu known capabilities", n, expected);
	for (size_t i = 0; i < n; i++) {
		struct tokens t;

		split_rule(lines[i], &t);
		if (t.n != 2 || strcmp(t.t[0], "capability") != 0 ||
		    !strlist_contains(&m->capabilities, t.t[1]) || !capability_known(t.t[1]))
			FAIL("CAPABILITY rule names no known capability of the model");
	}
}

/* MOUNT FLAGS of apparmor.d(5): the generator must refuse any other. */
static const char *const mount_flags[] = {
    "ro",	"rw",	      "nosuid",	     "suid",	      "nodev",	    "dev",
    "noexec",	"exec",	      "sync",	     "async",	      "remount",    "mand",
    "nomand",	"dirsync",    "noatime",     "atime",	      "nodiratime", "diratime",
    "bind",	"rbind",      "move",	     "verbose",	      "silent",	    "loud",
    "acl",	"noacl",      "unbindable",  "runbindable",   "private",    "rprivate",
    "slave",	"rslave",     "shared",	     "rshared",	      "relatime",   "norelatime",
    "iversion", "noiversion", "strictatime", "nostrictatime", "lazytime",   "nolazytime",
    "nouser",	"user",	      "symfollow",   "nosymfollow",
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The options a mount's flags become: trimmed, sorted, unique, joined by
 * ','. false when a flag is no mount flag. */
static bool canonical_flags(const char *flags, char *out, size_t outlen)
{
	char *copy = strdup(flags), *save = NULL, *tok, *list[256];
	size_t n = 0, o = 0;
	bool ok = true;

	if (!copy)
		abort();
	for (tok = strtok_r(copy, ",", &save); tok && ok; tok = strtok_r(NULL, ",", &save)) {
		char *e;

		tok += strspn(tok, " \t");
		e = tok + strlen(tok);
		while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (!*tok)
			continue;
		ok = false;
		for (size_t i = 0; i < sizeof(mount_flags) / sizeof(*mount_flags); i++)
			ok |= strcmp(tok, mount_flags[i]) == 0;
		if (ok && n < 256)
			list[n++] = tok;
	}
	if (n)
		qsort(list, n, sizeof(*list), cmp_str);
	out[0] = '\0';
	for (size_t i = 0; ok && i < n; i++) {
		if (i && strcmp(list[i - 1], list[i]) == 0)
			continue;
		o += (size_t)snprintf(out + o, outlen - o, "%s%s", o ? "," : "", list[i]);
		if (o >= outlen)
			FAIL("mount flags \"%s\" too long", flags);
	}
	free(copy);
	return ok;
}

/* A mount rule as a string that tells two rules apart exactly when their
 * text differs: each part with its length. */
static char *mount_key(const char *op, const char *path, const char *source, const char *fstype,
		       const char *options)
{
	char *key = NULL;

	if (asprintf(&key, "%zu:%s%zu:%s%zu:%s%zu:%s%zu:%s", strlen(op), op, strlen(path), path,
		     strlen(source), source, strlen(fstype), fstype, strlen(options), options) < 0)
		abort();
	return key;
}

/* The rule key of a model mount; NULL when the generator must skip it
 * (an umount has no rule and is not skipped either: *umount). */
static char *model_mount_key(const struct mount_rule *r, bool *umount)
{
	bool is_mount = strcmp(r->operation, "mount") == 0;
	char options[4096];

	*umount = strcmp(r->operation, "umount") == 0;
	if (*umount || !valid_path(r->path))
		return NULL;
	if (is_mount || strcmp(r->operation, "remount") == 0) {
		if (!canonical_flags(r->flags, options, sizeof(options)))
			return NULL;
		if (!is_mount)
			return mount_key("remount", r->path, "", "", options);
		if (*r->fstype &&
		    strspn(r->fstype, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				      "0123456789._+-") != strlen(r->fstype))
			return NULL;
		return mount_key("mount", r->path, r->source, r->fstype, options);
	}
	if (strcmp(r->operation, "pivot_root") == 0) {
		if (*r->source && !valid_path(r->source))
			return NULL;
		return mount_key("pivot_root", r->path, r->source, "", "");
	}
	return NULL;
}

/* "mount[ fstype=T][ options=(F,...)][ SOURCE] -> PATH", "remount[ options=
 * (F,...)] PATH", "pivot_root[ oldroot=SOURCE] PATH": one line per distinct
 * rule of the model's mounts; what the generator cannot write is counted
 * in *skipped. */
static void check_mounts(char **lines, size_t n, const struct behavior_model *m, size_t *skipped)
{
	char path[8192], source[8192], options[4096];
	char **keys = calloc(m->n_mounts ? m->n_mounts : 1, sizeof(*keys));
	size_t expected = 0;

	if (!keys)
		abort();
	for (size_t i = 0; i < m->n_mounts; i++) {
		bool umount, dup = false;

		keys[i] = model_mount_key(&m->mounts[i], &umount);
		if (!keys[i]) {
			*skipped += !umount;
			continue;
		}
		for (size_t j = 0; j < i && !dup; j++)
			dup = keys[j] && strcmp(keys[j], keys[i]) == 0;
		expected += !dup;
	}
	if (n != expected)
		FAIL("%zu mount rules for %zu distinct mount rules of the model", n, expected);
	for (size_t i = 0; i < n; i++) {
		const char *op, *fstype = "";
		bool found = false;
		struct tokens t;
		size_t k = 1;
		char *key;

		split_rule(lines[i], &t);
		op = t.t[0];
		source[0] = options[0] = '\0';
		if (strcmp(op, "mount") && strcmp(op, "remount") && strcmp(op, "pivot_root"))
			FAIL("ADDITIONAL rule \"%s\" is no mount rule", op);
		if (!strcmp(op, "mount") && k < t.n && !strncmp(t.t[k], "fstype=", 7)) {
			fstype = t.t[k++] + 7;
			if (!*fstype)
				FAIL("empty mount fstype");
		}
		if (strcmp(op, "pivot_root") && k < t.n && !strncmp(t.t[k], "options=(", 9)) {
			const char *o = t.t[k++] + 9;
			size_t ol = strlen(o);

			if (ol < 2 || ol > sizeof(options) || o[ol - 1] != ')')
				FAIL("mount options %s", t.t[k - 1]);
			memcpy(options, o, ol - 1);
			options[ol - 1] = '\0';
		}
		if (!strcmp(op, "pivot_root") && k < t.n && !strncmp(t.t[k], "oldroot=", 8))
			decode_path(t.t[k++] + 8, source, sizeof(source), true);
		if (!strcmp(op, "mount")) {
			/* In mount mode a bare "NAME=..." is a condition and a
			 * leading '+' no name: a bare relative source must be
			 * a plain name. */
			if (k + 3 == t.n && t.t[k][0] != '"' && t.t[k][0] != '/' &&
			    strspn(t.t[k], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					   "0123456789._-") != strlen(t.t[k]))
				FAIL("bare mount source %s is read as more than a name", t.t[k]);
			if (k + 3 == t.n)
				decode_path(t.t[k++], source, sizeof(source), false);
			if (k + 2 != t.n || strcmp(t.t[k++], "->") != 0)
				FAIL("mount rule without \"-> PATH\"");
		}
		if (k + 1 != t.n)
			FAIL("%s rule with %zu tokens", op, t.n);
		decode_path(t.t[k], path, sizeof(path), true);
		key = mount_key(op, path, source, fstype, options);
		for (size_t j = 0; j < m->n_mounts && !found; j++)
			found = keys[j] && strcmp(keys[j], key) == 0;
		if (!found)
			FAIL("%s rule for %s matches no mount of the model", op, t.t[k]);
		free(key);
	}
	for (size_t i = 0; i < m->n_mounts; i++)
		free(keys[i]);
	free(keys);
}

static void check_profile(const char *text, const struct behavior_model *m, const char *name,
			  size_t skipped)
{
	size_t len = strlen(text), first, n, expect_skipped = 0;
	struct profile_lines pl = {0};
	char want[512], *copy, *p;

	for (size_t i = 0; i < len; i++)
		if (text[i] != '\n' && (text[i] < 0x20 || text[i] > 0x7e))
			FAIL("byte 0x%02x at offset %zu", (unsigned char)text[i], i);
	if (len < 4 || text[0] != '\n' || strcmp(text + len - 3, "\n}\n") != 0)
		FAIL("the profile does not start with a blank line and end with \"\\n}\\n\"");

	copy = strdup(text);
	pl.l = calloc(len + 1, sizeof(*pl.l));
	if (!copy || !pl.l)
		abort();
	for (p = copy; *p;) {
		char *nl = strchr(p, '\n');

		*nl = '\0';
		pl.l[pl.n++] = p;
		p = nl + 1;
	}

	expect(&pl, "");
	expect(&pl, "## == Managed by vArmor == ##");
	expect(&pl, "");
	expect(&pl, "abi <abi/3.0>,");
	expect(&pl, "#include <tunables/global>");
	expect(&pl, "");
	snprintf(want, sizeof(want), "profile %s flags=(attach_disconnected,mediate_deleted) {",
		 name);
	expect(&pl, want);
	expect(&pl, "");
	expect(&pl, "  #include <abstractions/base>");

	expect(&pl, "");
	expect(&pl, "  # ---- EXEC ----");
	n = section_rules(&pl, &first);
	check_exec(pl.l + first, n, m, &expect_skipped);

	expect(&pl, "");
	expect(&pl, "  # ---- FILE ----");
	n = section_rules(&pl, &first);
	check_files(pl.l + first, n, m, &expect_skipped);

	expect(&pl, "");
	expect(&pl, "  # ---- CAPABILITY ----");
	n = section_rules(&pl, &first);
	check_capabilities(pl.l + first, n, m, &expect_skipped);

	expect(&pl, "");
	expect(&pl, "  # ---- NETWORK ----");
	expect(&pl, "  network,");
	expect(&pl, "");
	expect(&pl, "  # ---- PTRACE ----");
	expect(&pl, "  ## suppress ptrace denials when using 'docker ps' or using 'ps' inside a "
		    "container");
	snprintf(want, sizeof(want), "  ptrace (trace,read,tracedby,readby) peer=%s,", name);
	expect(&pl, want);
	expect(&pl, "");
	expect(&pl, "  # ---- SIGNAL ----");
	expect(&pl, "  ## host (privileged) processes may send signals to container processes.");
	expect(&pl, "  signal (receive) peer=unconfined,");
	expect(&pl, "  ## container processes may send signals amongst themselves.");
	snprintf(want, sizeof(want), "  signal (send,receive) peer=%s,", name);
	expect(&pl, want);

	expect(&pl, "");
	expect(&pl, "  # ---- ADDITIONAL ----");
	expect(&pl, "  umount,");
	n = section_rules(&pl, &first);
	check_mounts(pl.l + first, n, m, &expect_skipped);

	expect(&pl, "");
	expect(&pl, "}");
	if (pl.i != pl.n)
		FAIL("%zu lines after the closing '}'", pl.n - pl.i);
	if (skipped != expect_skipped)
		FAIL("skipped_rules is %zu, %zu rules of the model cannot be written", skipped,
		     expect_skipped);
	free(pl.l);
	free(copy);
}

/* ---- seccomp and the ArmorProfileModel ---- */

static void check_seccomp(const char *json, const struct behavior_model *m)
{
	static const char *const six[] = {"open", "openat", "openat2", "close", "read", "write"};
	bool beyond = false;
	json_error_t jerr;
	json_t *root, *groups;

	for (size_t i = 0; i < m->syscalls.len && !beyond; i++) {
		beyond = true;
		for (size_t k = 0; k < 6; k++)
			if (strcmp(m->syscalls.items[i], six[k]) == 0)
				beyond = false;
	}
	if (!beyond) {
		if (json)
			FAIL("a seccomp profile without a syscall beyond the six");
		return;
	}
	if (!json)
		FAIL("no seccomp profile for %zu syscalls", m->syscalls.len);
	root = json_loads(json, 0, &jerr);
	if (!root)
		FAIL("seccomp JSON does not parse: %s: %s", jerr.text, json);
	groups = json_object_get(root, "syscalls");
	if (!json_is_string(json_object_get(root, "defaultAction")) || !json_is_array(groups))
		FAIL("seccomp JSON without defaultAction or syscalls: %s", json);
	for (size_t i = 0; i < m->syscalls.len; i++) {
		bool found = false;
		size_t g, k;
		json_t *group, *name;

		json_array_foreach(groups, g, group)
		{
			json_array_foreach(json_object_get(group, "names"), k, name)
			{
				found |= json_is_string(name) &&
					 strcmp(json_string_value(name), m->syscalls.items[i]) == 0;
			}
		}
		if (!found)
			FAIL("syscall %s missing from the seccomp JSON", m->syscalls.items[i]);
	}
	json_decref(root);
}

static void check_model(json_t *model, const char *apparmor)
{
	char *dumped = json_dumps(model, JSON_COMPACT);
	json_error_t jerr;
	json_t *back, *content;

	if (!dumped)
		FAIL("the ArmorProfileModel does not serialise");
	back = json_loads(dumped, 0, &jerr);
	if (!back)
		FAIL("the ArmorProfileModel JSON does not parse back: %s", jerr.text);
	content =
	    json_object_get(json_object_get(json_object_get(back, "data"), "profile"), "content");
	if (!json_is_string(content) || strcmp(json_string_value(content), apparmor) != 0)
		FAIL("data.profile.content is not the generated profile");
	json_decref(back);
	free(dumped);
}

static void dump_profile(const char *text)
{
	uint64_t h = 14695981039346656037ull;
	char path[4096];
	FILE *f;

	for (const char *p = text; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	snprintf(path, sizeof(path), "%s/%016llx.apparmor", dump_dir, (unsigned long long)h);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "fuzz_apparmor_profile: cannot write %s\n", path);
		abort();
	}
}

/* A DNS-1123 label, the shape of the policy names the builder sees. */
static bool dns_label(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n && n <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n &&
	       s[0] != '-' && s[n - 1] != '-';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct behavior_model m = {0};
	struct profile_build out;
	const char *text = (const char *)data, *end = text + size;
	char *run_profile = NULL;
	int rc = 0;

	for (const char *line = text; line < end && rc == 0;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t len = nl ? (size_t)(nl - line) : (size_t)(end - line);

		rc = feed_line(&m, &run_profile, line, len);
		line += len + 1;
	}
	if (rc == -ENOMEM)
		goto cleanup;
	if (rc != 0)
		FAIL("feeding the lines failed: %d", rc);

	m.profile_name = strdup(dns_label(run_profile) ? run_profile : FALLBACK_NAME);
	m.namespace = strdup("default");
	m.enforcer = strdup("AppArmorSeccomp");
	if (!m.profile_name || !m.namespace || !m.enforcer)
		goto cleanup;
	behavior_model_normalize(&m);
	rc = profile_build_run(&m, &out);
	if (rc == -ENOMEM)
		goto cleanup;
	if (rc != 0 || !out.apparmor || !out.model)
		FAIL("profile_build_run() failed: %d", rc);

	current_text = out.apparmor;
	check_profile(out.apparmor, &m, m.profile_name, out.skipped_rules);
	check_seccomp(out.seccomp, &m);
	check_model(out.model, out.apparmor);
	if (dump_dir)
		dump_profile(out.apparmor);
	current_text = NULL;
	profile_build_free(&out);

cleanup:
	behavior_model_free(&m);
	free(run_profile);
	return 0;
}
