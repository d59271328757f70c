/* `armorsmith diff`: what a run added or dropped compared with an earlier run
 * of the same policy, as behavior sets and as profile text. */
#include "cli.h"
#include "config.h"
#include "log.h"
#include "store.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_diff_usage(FILE *out)
{
	fprintf(out,
		"usage: armorsmith diff --name NAME [OPTIONS]\n"
		"\n"
		"Shows what a modeling run of a policy added (+) or dropped (-) compared with an\n"
		"earlier run of the same policy: first the behavior sets (syscalls, executions,\n"
		"files, ...), then the AppArmor profile text and the seccomp syscall list. By\n"
		"default compares the newest run with the one before it. Exits 0 when the runs\n"
		"are the same, 1 when they differ, 2 on errors.\n"
		"\n"
		"  --name NAME        profile name (the policy key is NAMESPACE/NAME)\n"
		"  --namespace NS     namespace (default: default)\n"
		"  --from GEN         the earlier run's generation\n"
		"  --to GEN           the later run's generation\n"
		"  --pg CONNINFO      PostgreSQL conninfo (env ARMORSMITH_PG_DSN)\n"
		"  --config FILE      YAML configuration (postgres.dsn)\n"
		"  -h, --help         this text\n");
}

/* Prints "+ x" / "- x" for two sorted string lists; returns the count. */
static size_t diff_sorted(const struct strlist *a, const struct strlist *b)
{
	size_t i = 0, j = 0, n = 0;

	while (i < a->len || j < b->len) {
		int c = i == a->len ? 1 : j == b->len ? -1 : strcmp(a->items[i], b->items[j]);
		if (c == 0) {
			i++, j++;
		} else if (c < 0) {
			printf("- %s\n", a->items[i++]);
			n++;
		} else {
			printf("+ %s\n", b->items[j++]);
			n++;
		}
	}
	return n;
}

static int split_lines(const char *text, struct strlist *out)
{
	const char *p = text ? text : "";

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *line = strndup(p, len);
		int rc = line ? strlist_add(out, line) : -ENOMEM;
		free(line);
		if (rc < 0)
			return rc;
		p += len + (nl ? 1 : 0);
	}
	return 0;
}

/* A line diff by longest common subsequence: profiles are a few hundred
 * lines, so the quadratic table is small, and the output keeps order. */
static int diff_lines(const char *old_text, const char *new_text, size_t *changes)
{
	struct strlist a = {0}, b = {0};
	uint32_t *t = NULL;
	size_t i, j, w;
	int rc;

	if ((rc = split_lines(old_text, &a)) < 0 || (rc = split_lines(new_text, &b)) < 0)
		goto out;
	w = b.len + 1;
	t = calloc((a.len + 1) * w, sizeof(*t));
	if (!t) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = a.len; i-- > 0;)
		for (j = b.len; j-- > 0;)
			t[i * w + j] = strcmp(a.items[i], b.items[j]) == 0
					   ? t[(i + 1) * w + j + 1] + 1
				       : t[(i + 1) * w + j] > t[i * w + j + 1] ? t[(i + 1) * w + j]
									       : t[i * w + j + 1];
	for (i = 0, j = 0; i < a.len || j < b.len;) {
		if (i < a.len && j < b.len && strcmp(a.items[i], b.items[j]) == 0) {
			i++, j++;
		} else if (j < b.len && (i == a.len || t[i * w + j + 1] >= t[(i + 1) * w + j])) {
			printf("+%s\n", b.items[j++]);
			(*changes)++;
		} else {
			printf("-%s\n", a.items[i++]);
			(*changes)++;
		}
	}
	rc = 0;
out:
	free(t);
	strlist_free(&a);
	strlist_free(&b);
	return rc;
}

static int seccomp_names(const char *json, struct strlist *out)
{
	json_t *root, *groups, *g, *n;
	size_t i, k;

	if (!json || !*json)
		return 0;
	root = json_loads(json, 0, NULL);
	if (!root)
		return -EINVAL;
	groups = json_object_get(root, "syscalls");
	json_array_foreach(groups, i, g)
	{
		json_array_foreach(json_object_get(g, "names"), k, n)
		{
			if (json_is_string(n))
				strlist_add(out, json_string_value(n));
		}
	}
	json_decref(root);
	strlist_sort_unique(out);
	return 0;
}

static int parse_gen(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || end == s || *end ? -EINVAL : 0;
}

int cli_diff(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"name", required_argument, NULL, 'n'}, {"namespace", required_argument, NULL, 'N'},
	    {"from", required_argument, NULL, 'f'}, {"to", required_argument, NULL, 't'},
	    {"pg", required_argument, NULL, 'p'},   {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},	    {NULL, 0, NULL, 0},
	};
	const char *name = NULL, *ns = "default", *from = NULL, *to = NULL, *pg = NULL,
		   *config = NULL;
	struct armorsmith_config cfg = {0};
	struct strlist a = {0}, b = {0}, sa = {0}, sb = {0};
	char *aa_old = NULL, *sc_old = NULL, *aa_new = NULL, *sc_new = NULL;
	struct store *st = NULL;
	uint64_t gens[2], g_from = 0, g_to = 0;
	size_t n = 0, changes = 0;
	char key[320], err[512];
	int c, rc = 2;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'N':
			ns = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'p':
			pg = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'h':
			cli_diff_usage(stdout);
			return 0;
		default:
			cli_diff_usage(stderr);
			return 2;
		}
	}
	if (!name) {
		log_error("--name is required");
		return 2;
	}
	if ((from && parse_gen(from, &g_from) < 0) || (to && parse_gen(to, &g_to) < 0)) {
		log_error("--from and --to take generation numbers");
		return 2;
	}
	if (config_init_defaults(&cfg) < 0)
		return 2;
	if (config_load_sources(&cfg, config, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if (pg && config_set(&cfg.pg_dsn, pg))
		goto out;
	if (store_open(cfg.pg_dsn, &st, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	if (!from || !to) {
		if (store_list_generations(st, key, gens, 2, &n) < 0)
			goto out;
		if (n < 2 && !(from && to)) {
			log_error("policy %s has %zu run(s); diff needs two (or --from and --to)",
				  key, n);
			goto out;
		}
		if (!to)
			g_to = gens[0];
		if (!from)
			g_from = gens[0] == g_to ? gens[1] : gens[0];
	}
	if (store_run_items(st, key, g_from, &a) < 0 || store_run_items(st, key, g_to, &b) < 0 ||
	    store_run_profiles(st, key, g_from, &aa_old, &sc_old) < 0 ||
	    store_run_profiles(st, key, g_to, &aa_new, &sc_new) < 0) {
		log_error("cannot read runs %" PRIu64 " and %" PRIu64 " of %s", g_from, g_to, key);
		goto out;
	}
	printf("# %s: generation %" PRIu64 " -> %" PRIu64 "\n", key, g_from, g_to);
	printf("## behaviors\n");
	changes += diff_sorted(&a, &b);
	printf("## apparmor profile\n");
	if (diff_lines(aa_old, aa_new, &changes) < 0)
		goto out;
	printf("## seccomp syscalls\n");
	if (seccomp_names(sc_old, &sa) < 0 || seccomp_names(sc_new, &sb) < 0) {
		log_error("a stored seccomp profile of %s is not valid JSON", key);
		goto out;
	}
	changes += diff_sorted(&sa, &sb);
	rc = changes ? 1 : 0;
out:
	strlist_free(&a);
	strlist_free(&b);
	strlist_free(&sa);
	strlist_free(&sb);
	free(aa_old);
	free(sc_old);
	free(aa_new);
	free(sc_new);
	store_close(st);
	config_free(&cfg);
	return rc;
}
