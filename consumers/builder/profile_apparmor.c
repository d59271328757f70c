#include "profile_apparmor.h"
#include "capability.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* MOUNT FLAGS of apparmor.d(5). */
static const char *const mount_flag_names[] = {
    "ro",	"rw",	      "nosuid",	     "suid",	      "nodev",	    "dev",
    "noexec",	"exec",	      "sync",	     "async",	      "remount",    "mand",
    "nomand",	"dirsync",    "noatime",     "atime",	      "nodiratime", "diratime",
    "bind",	"rbind",      "move",	     "verbose",	      "silent",	    "loud",
    "acl",	"noacl",      "unbindable",  "runbindable",   "private",    "rprivate",
    "slave",	"rslave",     "shared",	     "rshared",	      "relatime",   "norelatime",
    "iversion", "noiversion", "strictatime", "nostrictatime", "lazytime",   "nolazytime",
    "nouser",	"user",	      "symfollow",   "nosymfollow",
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static bool in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The name is printed bare in the profile line and in peer= rules. */
static bool valid_profile_name(const char *s)
{
	size_t len = s ? strlen(s) : 0;

	if (!len || len > 255 || !is_alnum((unsigned char)s[0]))
		return false;
	for (; *s; s++)
		if (!is_alnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return false;
	return true;
}

/* Bytes that need neither quotes nor escapes in an unquoted FILEGLOB. */
static bool bare_safe(unsigned char c)
{
	return is_alnum(c) || (c && strchr("/._+~:@%=-", c));
}

/* A run of one or two stars that fills a path segment is a glob the
 * normaliser put there; anything else made of stars is part of a name. */
static size_t glob_run(const char *p, size_t i)
{
	size_t j = i;

	while (p[j] == '*')
		j++;
	if (j - i > 2 || i == 0 || p[i - 1] != '/' || (p[j] && p[j] != '/'))
		return 0;
	return j - i;
}

struct buf {
	char *data;
	size_t len, cap;
};

static int buf_put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 64;
		char *d;

		while (b->len + n + 1 > ncap)
			ncap *= 2;
		d = realloc(b->data, ncap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = ncap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int buf_puts(struct buf *b, const char *s)
{
	return buf_put(b, s, strlen(s));
}

/*
 * Appends path to b in a form that matches exactly the literal name (plus the
 * whole-segment globs). what names the value in the error message.
 */
static int put_path(struct buf *b, const char *path, bool absolute, const char *what)
{
	bool quote = false, relative;
	size_t n;
	int ret;

	if (!path || !*path || (absolute && path[0] != '/')) {
		char a[256];

		log_error("apparmor profile: invalid %s \"%s\": not an absolute path", what,
			  log_printable(path, a, sizeof(a)));
		return -EINVAL;
	}
	/* A relative mount source is lexed in mount mode, where "NAME=" starts
	 * a condition (source "fstype=x" would read as fstype=x) and a leading
	 * '+' or '=' is no name at all: bare only when a plain name. */
	relative = path[0] != '/';
	for (size_t i = 0; path[i]; i++) {
		if (path[i] == '*' && (n = glob_run(path, i))) {
			i += n - 1;
			continue;
		}
		if (!bare_safe((unsigned char)path[i]) ||
		    (relative && !is_alnum((unsigned char)path[i]) && !strchr("._-", path[i])))
			quote = true;
	}
	if (!quote)
		return buf_puts(b, path);

	ret = buf_put(b, "\"", 1);
	for (size_t i = 0; !ret && path[i]; i++) {
		unsigned char c = (unsigned char)path[i];
		char esc[5];

		if (c == '*' && (n = glob_run(path, i))) {
			ret = buf_put(b, path + i, n);
			i += n - 1;
		} else if (c < 0x20 || c >= 0x7f || c == '\\') {
			/* Octal, not \\: a name ending in a backslash would end
			 * in \\" and the parser's lexer takes that \" for a quote
			 * inside the string, which then runs on to the next
			 * rule's quote. */
			snprintf(esc, sizeof(esc), "\\%03o", c);
			ret = buf_put(b, esc, 4);
		} else if (strchr("\"*?[]{}^", c)) {
			esc[0] = '\\';
			esc[1] = (char)c;
			ret = buf_put(b, esc, 2);
		} else {
			ret = buf_put(b, path + i, 1);
		}
	}
	return ret ? ret : buf_put(b, "\"", 1);
}

/* Adds the finished rule in b to the section list and resets b. */
/* With a skipped counter, a rule that cannot be written safely is left out
 * (its error already logged) instead of failing the whole profile. */
static int skip_or_fail(int ret, struct buf *b, size_t *skipped)
{
	if (ret != -EINVAL || !skipped)
		return ret;
	(*skipped)++;
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
	return 0;
}

static int take_rule(struct strlist *rules, struct buf *b)
{
	int ret = strlist_add(rules, b->data ? b->data : "");

	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
	return ret;
}

static int exec_rules(const struct behavior_model *m, struct strlist *rules, struct buf *b,
		      size_t *skipped)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < m->execs.len; i++) {
		ret = buf_puts(b, "  ");
		if (!ret)
			ret = put_path(b, m->execs.items[i], true, "executable path");
		if (ret) {
			ret = skip_or_fail(ret, b, skipped);
			continue;
		}
		ret = buf_puts(b, " ix,\n");
		if (!ret)
			ret = take_rule(rules, b);
	}
	return ret;
}

/* vArmor's permission letters: sorted, 'a' folded into 'w'. */
static int file_perms(const struct file_rule *f, char out[8])
{
	static const char order[] = "aklmrw";
	bool seen[sizeof(order)] = {false};
	size_t n = 0;

	for (const char *p = f->perms; *p; p++) {
		const char *pos = strchr(order, *p);

		if (*p && pos) {
			seen[pos - order] = true;
		} else if (!strchr("xipucPUC", *p)) {
			char a[16], b[256], c[2] = {*p, '\0'};

			log_error("apparmor profile: invalid permission '%s' for file \"%s\"",
				  log_printable(c, a, sizeof(a)),
				  log_printable(f->path, b, sizeof(b)));
			return -EINVAL;
		}
	}
	if (seen[5])
		seen[0] = false;
	for (size_t i = 0; i < sizeof(order) - 1; i++)
		if (seen[i])
			out[n++] = order[i];
	out[n] = '\0';
	return 0;
}

static int file_rules(const struct behavior_model *m, struct strlist *rules, struct buf *b,
		      size_t *skipped)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < m->n_files; i++) {
		const struct file_rule *f = &m->files[i];
		char perms[8];

		ret = file_perms(f, perms);
		if (ret || !perms[0]) {
			ret = skip_or_fail(ret, b, skipped);
			continue;
		}
		ret = buf_puts(b, f->owner ? "  owner " : "  ");
		if (!ret)
			ret = put_path(b, f->path, true, "file path");
		if (ret) {
			ret = skip_or_fail(ret, b, skipped);
			continue;
		}
		ret = buf_puts(b, " ");
		if (!ret)
			ret = buf_puts(b, perms);
		if (!ret)
			ret = buf_puts(b, ",\n");
		if (!ret)
			ret = take_rule(rules, b);
	}
	return ret;
}

static int capability_rules(const struct behavior_model *m, struct strlist *rules, struct buf *b,
			    size_t *skipped)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < m->capabilities.len; i++) {
		const char *cap = m->capabilities.items[i];

		if (!capability_known(cap)) {
			char a[128];

			log_error("apparmor profile: unknown capability \"%s\"",
				  log_printable(cap, a, sizeof(a)));
			ret = skip_or_fail(-EINVAL, b, skipped);
			continue;
		}
		ret = buf_puts(b, "  capability ");
		if (!ret)
			ret = buf_puts(b, cap);
		if (!ret)
			ret = buf_puts(b, ",\n");
		if (!ret)
			ret = take_rule(rules, b);
	}
	return ret;
}

/* Appends " options=(a,b)" for the comma separated flags, sorted and unique. */
static int put_mount_options(struct buf *b, const char *flags)
{
	struct strlist list = {0};
	char *copy = strdup(flags), *save = NULL, *tok;
	int ret = copy ? 0 : -ENOMEM;

	for (tok = copy ? strtok_r(copy, ",", &save) : NULL; !ret && tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *end;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!*tok)
			continue;
		if (!in_list(mount_flag_names, ARRAY_LEN(mount_flag_names), tok)) {
			char a[128], b[256];

			log_error("apparmor profile: unknown mount flag \"%s\" in \"%s\"",
				  log_printable(tok, a, sizeof(a)),
				  log_printable(flags, b, sizeof(b)));
			ret = -EINVAL;
			break;
		}
		ret = strlist_add(&list, tok);
	}
	strlist_sort_unique(&list);
	for (size_t i = 0; !ret && i < list.len; i++) {
		ret = buf_puts(b, i ? "," : " options=(");
		if (!ret)
			ret = buf_puts(b, list.items[i]);
		if (!ret && i + 1 == list.len)
			ret = buf_puts(b, ")");
	}
	strlist_free(&list);
	free(copy);
	return ret;
}

static bool valid_fstype(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_alnum((unsigned char)*s) && !strchr("._+-", *s))
			return false;
	return true;
}

static int mount_rule(const struct mount_rule *r, struct buf *b)
{
	bool is_mount = strcmp(r->operation, "mount") == 0;
	int ret;

	if (is_mount || strcmp(r->operation, "remount") == 0) {
		ret = buf_puts(b, is_mount ? "  mount" : "  remount");
		if (!ret && *r->fstype && is_mount) {
			if (!valid_fstype(r->fstype)) {
				char a[128], b[256];

				log_error(
				    "apparmor profile: invalid fstype \"%s\" for mount on \"%s\"",
				    log_printable(r->fstype, a, sizeof(a)),
				    log_printable(r->path, b, sizeof(b)));
				return -EINVAL;
			}
			ret = buf_puts(b, " fstype=");
			if (!ret)
				ret = buf_puts(b, r->fstype);
		}
		if (!ret)
			ret = put_mount_options(b, r->flags);
		if (!ret && *r->source && is_mount) {
			ret = buf_puts(b, " ");
			if (!ret)
				ret = put_path(b, r->source, false, "mount source");
		}
		if (!ret)
			ret = buf_puts(b, is_mount ? " -> " : " ");
	} else if (strcmp(r->operation, "pivot_root") == 0) {
		ret = buf_puts(b, "  pivot_root ");
		if (!ret && *r->source) {
			ret = buf_puts(b, "oldroot=");
			if (!ret)
				ret = put_path(b, r->source, true, "pivot_root old root");
			if (!ret)
				ret = buf_puts(b, " ");
		}
	} else {
		char a[128], b[256];

		log_error("apparmor profile: unknown mount operation \"%s\" on \"%s\"",
			  log_printable(r->operation, a, sizeof(a)),
			  log_printable(r->path, b, sizeof(b)));
		return -EINVAL;
	}
	if (!ret)
		ret = put_path(b, r->path, true, "mount point");
	return ret ? ret : buf_puts(b, ",\n");
}

static int mount_rules(const struct behavior_model *m, struct strlist *rules, struct buf *b,
		       size_t *skipped)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < m->n_mounts; i++) {
		/* The template's bare "umount," already allows every unmount. */
		if (strcmp(m->mounts[i].operation, "umount") == 0)
			continue;
		ret = mount_rule(&m->mounts[i], b);
		if (ret) {
			ret = skip_or_fail(ret, b, skipped);
			continue;
		}
		ret = take_rule(rules, b);
	}
	return ret;
}

/* Writes a section: blank line, header, fixed rules, then the sorted rules. */
static void put_section(FILE *f, const char *title, const char *fixed, struct strlist *rules)
{
	fprintf(f, "\n  # ---- %s ----\n%s", title, fixed ? fixed : "");
	if (!rules)
		return;
	strlist_sort_unique(rules);
	for (size_t i = 0; i < rules->len; i++)
		fputs(rules->items[i], f);
}

int profile_apparmor_generate(const struct behavior_model *m, char **out_text)
{
	return profile_apparmor_generate_ex(m, out_text, NULL);
}

int profile_apparmor_generate_ex(const struct behavior_model *m, char **out_text, size_t *skipped)
{
	struct strlist execs = {0}, files = {0}, caps = {0}, mounts = {0};
	struct buf b = {0};
	const char *name = m->profile_name;
	char *text = NULL;
	size_t text_len = 0;
	FILE *f = NULL;
	int ret;

	*out_text = NULL;
	if (!valid_profile_name(name)) {
		char a[300];

		log_error("apparmor profile: invalid profile name \"%s\"",
			  log_printable(name, a, sizeof(a)));
		return -EINVAL;
	}
	if (skipped)
		*skipped = 0;
	ret = exec_rules(m, &execs, &b, skipped);
	if (!ret)
		ret = file_rules(m, &files, &b, skipped);
	if (!ret)
		ret = capability_rules(m, &caps, &b, skipped);
	if (!ret)
		ret = mount_rules(m, &mounts, &b, skipped);
	if (ret)
		goto cleanup;

	ret = -ENOMEM;
	f = open_memstream(&text, &text_len);
	if (!f)
		goto cleanup;
	fprintf(f,
		"\n## == Managed by vArmor == ##\n\nabi <abi/3.0>,\n#include <tunables/global>\n\n"
		"profile %s flags=(attach_disconnected,mediate_deleted) {\n\n"
		"  #include <abstractions/base>\n",
		name);
	put_section(f, "EXEC", NULL, &execs);
	put_section(f, "FILE", NULL, &files);
	put_section(f, "CAPABILITY", NULL, &caps);
	put_section(f, "NETWORK", "  network,\n", NULL);
	/* The docker-default peer rules that vArmor keeps in every profile. */
	fprintf(f,
		"\n  # ---- PTRACE ----\n"
		"  ## suppress ptrace denials when using 'docker ps' or using 'ps' inside a "
		"container\n"
		"  ptrace (trace,read,tracedby,readby) peer=%s,\n",
		name);
	fprintf(f,
		"\n  # ---- SIGNAL ----\n"
		"  ## host (privileged) processes may send signals to container processes.\n"
		"  signal (receive) peer=unconfined,\n"
		"  ## container processes may send signals amongst themselves.\n"
		"  signal (send,receive) peer=%s,\n",
		name);
	put_section(f, "ADDITIONAL", "  umount,\n", &mounts);
	fputs("\n}\n", f);
	if (ferror(f) || fclose(f)) {
		f = NULL;
		goto cleanup;
	}
	f = NULL;
	*out_text = text;
	text = NULL;
	ret = 0;

cleanup:
	if (ret == -ENOMEM)
		log_error("apparmor profile %s: out of memory", name);
	if (f)
		fclose(f);
	free(text);
	free(b.data);
	strlist_free(&execs);
	strlist_free(&files);
	strlist_free(&caps);
	strlist_free(&mounts);
	return ret;
}
