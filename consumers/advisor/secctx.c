/* securityContext minimization from the behavior data. */
#include "secctx.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/xattr.h>

/* Evidence lists longer than this are cut in the comments. */
#define MAX_EVIDENCE_LINES 25

/* Temp dirs that live in the image's root filesystem: with a read-only root
 * they need an emptyDir. */
static const char *const temp_dirs[] = {"/tmp", "/var/tmp", "/run", "/var/run"};

/* Writable without any volume of ours: kernel filesystems, the tmpfs a
 * runtime mounts at /dev and /dev/shm, and the files the kubelet bind-mounts. */
static const char *const runtime_writable[] = {
    "/dev",	    "/proc",	       "/sys", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf",
    "/run/secrets", "/var/run/secrets"};

/* Programs that distributions install setuid or setgid; used only when the
 * executed file is not on this machine to look at. */
static const char *const usually_setuid[] = {
    "su",	 "sudo",      "passwd",	   "ping",	  "ping6",  "mount",	   "umount",
    "newgrp",	 "chsh",      "chfn",	   "gpasswd",	  "pkexec", "fusermount",  "fusermount3",
    "crontab",	 "expiry",    "chage",	   "wall",	  "write",  "unix_chkpwd", "doas",
    "ssh-agent", "newuidmap", "newgidmap", "traceroute6", "at",	    "bsd-write"};

/* Syscalls that only do what they are called for with uid 0 or a
 * capability: seeing one means the workload expected privilege. */
static const char *const root_syscalls[] = {
    "setuid",	     "setgid",	      "setreuid", "setregid",	 "setresuid",	 "setresgid",
    "setgroups",     "setfsuid",      "setfsgid", "chroot",	 "mount",	 "umount2",
    "pivot_root",    "mknod",	      "mknodat",  "init_module", "finit_module", "delete_module",
    "settimeofday",  "clock_settime", "reboot",	  "swapon",	 "swapoff",	 "sethostname",
    "setdomainname", "iopl",	      "ioperm",	  "acct"};

__attribute__((format(printf, 2, 3))) static int addf(struct strlist *l, const char *f, ...)
{
	va_list ap;
	char *s = NULL;
	int ret;

	va_start(ap, f);
	ret = vasprintf(&s, f, ap) < 0 ? -ENOMEM : 0;
	va_end(ap);
	if (ret)
		return ret;
	/* Comments must stay comments: a path with a newline or other control
	 * byte in it cannot end the comment and start YAML of its own. */
	for (unsigned char *p = (unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	ret = strlist_add(l, s);
	free(s);
	return ret;
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

#define IN_LIST(s, arr) in_list((s), (arr), sizeof(arr) / sizeof((arr)[0]))

/* path is dir or below it. */
static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool lsm_data_present(const struct behavior_data *bd)
{
	/* The enforcer names the sources that captured the run: only AppArmor
	 * and BPF capture capabilities, executions and files. */
	if (bd->enforcer)
		return strstr(bd->enforcer, "AppArmor") || strstr(bd->enforcer, "BPF");
	return bd->capabilities.n || bd->executions.n || bd->n_files;
}

static int propose_capabilities(const struct behavior_data *bd, struct secctx_proposal *p)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < bd->capabilities.n; i++) {
		const struct bd_item *c = &bd->capabilities.v[i];
		const char *name = c->value;
		char upper[64];
		size_t k;

		if (strncasecmp(name, "cap_", 4) == 0)
			name += 4;
		for (k = 0; name[k] && k < sizeof(upper) - 1; k++)
			upper[k] = (char)toupper((unsigned char)name[k]);
		upper[k] = '\0';
		if (!strlist_contains(&p->add_capabilities, upper))
			ret = strlist_add(&p->add_capabilities, upper);
		if (!ret)
			ret = addf(&p->capabilities_evidence,
				   "%s: exercised (data.dynamicResult.%s.capabilities[%zu])", upper,
				   bd_source_name(c->source), c->index);
	}
	if (!ret && !bd->capabilities.n)
		ret = addf(&p->capabilities_evidence,
			   "no capability was exercised during modeling: add none");
	strlist_sort_unique(&p->add_capabilities);
	return ret;
}

/* The mode and file capabilities of an executed file on this machine. */
static int check_exec(const struct secctx_options *o, const struct bd_item *e,
		      struct secctx_proposal *p, size_t *checked, struct strlist *absent)
{
	const char *base = strrchr(e->value, '/') ? strrchr(e->value, '/') + 1 : e->value;
	char path[4096];
	struct stat st;
	const char *why = NULL;

	if (!o->exec_root || strpbrk(e->value, "*?[{") || e->value[0] != '/')
		goto by_name;
	snprintf(path, sizeof(path), "%s%s", strcmp(o->exec_root, "/") ? o->exec_root : "",
		 e->value);
	if (stat(path, &st) != 0)
		goto by_name;
	(*checked)++;
	if (st.st_mode & S_ISUID)
		why = "setuid";
	else if ((st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP))
		why = "setgid";
	else if (getxattr(path, "security.capability", NULL, 0) > 0)
		why = "carries file capabilities";
	if (!why)
		return 0;
	p->allow_privilege_escalation = true;
	return addf(&p->ape_evidence,
		    "%s was executed (data.dynamicResult.%s.executions[%zu]) and is %s on this "
		    "machine (mode %04o): it gains privilege only with escalation allowed",
		    e->value, bd_source_name(e->source), e->index, why,
		    (unsigned)(st.st_mode & 07777));

by_name:
	if (IN_LIST(base, usually_setuid)) {
		p->allow_privilege_escalation = true;
		return addf(&p->ape_evidence,
			    "%s was executed (data.dynamicResult.%s.executions[%zu]); it is not "
			    "on this machine to check, and distributions install %s setuid",
			    e->value, bd_source_name(e->source), e->index, base);
	}
	return strlist_add(absent, e->value);
}

static int propose_escalation(const struct behavior_data *bd, const struct secctx_options *o,
			      struct secctx_proposal *p)
{
	struct strlist absent = {0};
	size_t checked = 0;
	int ret = 0;

	p->propose_ape = true;
	for (size_t i = 0; !ret && i < bd->executions.n; i++)
		ret = check_exec(o, &bd->executions.v[i], p, &checked, &absent);
	if (ret)
		goto cleanup;
	if (strlist_contains(&p->add_capabilities, "SYS_ADMIN")) {
		/* The API server rejects false together with CAP_SYS_ADMIN. */
		p->allow_privilege_escalation = true;
		ret = addf(&p->ape_evidence, "CAP_SYS_ADMIN is added, and Kubernetes refuses "
					     "allowPrivilegeEscalation: false with it");
	}
	if (!ret && !p->allow_privilege_escalation)
		ret = addf(&p->ape_evidence,
			   "%zu executed programs: %zu checked on this machine%s, none setuid, "
			   "setgid or with file capabilities",
			   bd->executions.n, checked, o->exec_root ? "" : " (checking disabled)");
	for (size_t i = 0; !ret && !p->allow_privilege_escalation && i < absent.len; i++) {
		if (i == MAX_EVIDENCE_LINES) {
			ret = addf(&p->ape_evidence, "... and %zu more not on this machine",
				   absent.len - i);
			break;
		}
		ret = addf(&p->ape_evidence,
			   "not on this machine to check: %s (its name is not a usual setuid "
			   "program)",
			   absent.items[i]);
	}

cleanup:
	strlist_free(&absent);
	return ret;
}

static bool is_write(const struct bd_file *f)
{
	static const char *const writes[] = {"w", "a", "l", "write", "append"};

	for (size_t i = 0; i < f->n_permissions; i++)
		if (IN_LIST(f->permissions[i], writes))
			return true;
	return false;
}

/* The directory to mount for a written path: its parent, cut before the
 * first glob segment. */
static void mount_dir(const char *path, char *out, size_t len)
{
	const char *glob = strpbrk(path, "*?[{");
	size_t n = glob ? (size_t)(glob - path) : strlen(path);
	char *slash;

	snprintf(out, len, "%.*s", (int)n, path);
	slash = strrchr(out, '/');
	if (slash && slash != out)
		*slash = '\0';
	else if (slash)
		slash[1] = '\0';
}

static int classify_write(const struct bd_file *f, const char *path, const struct secctx_options *o,
			  struct secctx_proposal *p, size_t *outside)
{
	char dir[4096];
	const char *src = bd_source_name(f->source);

	for (size_t i = 0; i < o->volumes.len; i++)
		if (under(path, o->volumes.items[i]))
			return 0;
	for (size_t i = 0; i < sizeof(runtime_writable) / sizeof(runtime_writable[0]); i++)
		if (under(path, runtime_writable[i]))
			return 0;
	for (size_t i = 0; i < sizeof(temp_dirs) / sizeof(temp_dirs[0]); i++) {
		if (!under(path, temp_dirs[i]))
			continue;
		if (strlist_contains(&p->temp_mounts, temp_dirs[i]))
			return 0;
		if (strlist_add(&p->temp_mounts, temp_dirs[i]))
			return -ENOMEM;
		return addf(&p->read_only_evidence,
			    "%s was written (data.dynamicResult.%s.files[%zu]): a temp dir, the "
			    "patch mounts an emptyDir at %s",
			    path, src, f->index, temp_dirs[i]);
	}
	(*outside)++;
	p->read_only_root_filesystem = false;
	if (*outside > MAX_EVIDENCE_LINES)
		return 0;
	mount_dir(path, dir, sizeof(dir));
	return addf(&p->read_only_evidence,
		    "%s was written (data.dynamicResult.%s.files[%zu]): mount a volume at %s "
		    "(an emptyDir hides what the image has there) to make the root read-only",
		    path, src, f->index, dir);
}

static int propose_read_only(const struct behavior_data *bd, const struct secctx_options *o,
			     struct secctx_proposal *p)
{
	size_t writes = 0, outside = 0;
	int ret = 0;

	p->propose_read_only = true;
	p->read_only_root_filesystem = true;
	for (size_t i = 0; !ret && i < bd->n_files; i++) {
		const struct bd_file *f = &bd->files[i];

		if (!is_write(f))
			continue;
		writes++;
		ret = classify_write(f, f->path, o, p, &outside);
		/* A rename also changes the directory the file left. */
		if (!ret && f->old_path)
			ret = classify_write(f, f->old_path, o, p, &outside);
	}
	if (!ret && outside > MAX_EVIDENCE_LINES)
		ret = addf(&p->read_only_evidence, "... and %zu more written paths",
			   outside - MAX_EVIDENCE_LINES);
	if (!ret && !outside)
		ret = addf(&p->read_only_evidence,
			   "%zu written paths, all in volumes, temp dirs or runtime-provided "
			   "mounts (/dev, /proc, /sys, /etc/hosts, /etc/hostname, "
			   "/etc/resolv.conf, secrets)",
			   writes);
	return ret;
}

static int propose_non_root(const struct behavior_data *bd, struct secctx_proposal *p)
{
	size_t reasons = 0;
	int ret = 0;

	/* For a non-zero uid, capabilities added to the container stay out of
	 * the effective set (Kubernetes sets no ambient capabilities), so any
	 * exercised capability means the work was done as uid 0. */
	for (size_t i = 0; !ret && i < p->add_capabilities.len; i++, reasons++)
		ret = addf(&p->non_root_evidence, "needs uid 0: CAP_%s was exercised",
			   p->add_capabilities.items[i]);
	for (size_t i = 0; !ret && i < bd->syscalls.n; i++) {
		if (!IN_LIST(bd->syscalls.v[i].value, root_syscalls))
			continue;
		reasons++;
		ret = addf(&p->non_root_evidence,
			   "needs uid 0: the syscall %s was used "
			   "(data.dynamicResult.seccomp.syscalls[%zu]), which only a privileged "
			   "process makes to any effect",
			   bd->syscalls.v[i].value, bd->syscalls.v[i].index);
	}
	if (ret)
		return ret;
	if (reasons) {
		p->propose_non_root = false;
		return addf(&p->non_root_evidence, "runAsNonRoot is not proposed");
	}
	if (!p->have_lsm_data)
		return addf(&p->non_root_evidence,
			    "not proposed: the model has no capability data, so whether the "
			    "workload needed uid 0 is unknown");
	p->propose_non_root = true;
	p->run_as_non_root = true;
	return addf(&p->non_root_evidence,
		    "heuristic: no capability was exercised and no uid-0-only syscall was made, "
		    "so nothing observed needed uid 0; the image must then run as a numeric "
		    "non-zero USER (or set runAsUser), and the files it writes must be writable "
		    "by that user");
}

int secctx_propose(const struct behavior_data *bd, const struct secctx_options *o,
		   struct secctx_proposal *p)
{
	const char *name = bd->profile_name ? bd->profile_name : bd->name;
	int ret = 0;

	memset(p, 0, sizeof(*p));
	p->have_lsm_data = lsm_data_present(bd);
	if (p->have_lsm_data) {
		ret = propose_capabilities(bd, p);
		if (!ret)
			ret = propose_escalation(bd, o, p);
		if (!ret)
			ret = propose_read_only(bd, o, p);
	} else {
		const char *why = "the model carries no AppArmor or BPF behavior data "
				  "(data.profile.enforcer is";

		ret = addf(&p->capabilities_evidence,
			   "not proposed: %s %s), so exercised capabilities are unknown", why,
			   bd->enforcer ? bd->enforcer : "absent");
		if (!ret)
			ret = addf(&p->ape_evidence,
				   "not proposed: %s %s), so executed programs are unknown", why,
				   bd->enforcer ? bd->enforcer : "absent");
		if (!ret)
			ret = addf(&p->read_only_evidence,
				   "not proposed: %s %s), so written paths are unknown", why,
				   bd->enforcer ? bd->enforcer : "absent");
	}
	if (!ret)
		ret = propose_non_root(bd, p);
	if (!ret && name && bd->has_seccomp && bd->syscalls.n) {
		p->seccomp_profile = strdup(name);
		ret = p->seccomp_profile ? 0 : -ENOMEM;
		if (!ret)
			ret =
			    addf(&p->seccomp_evidence,
				 "the model's seccomp profile %s allows the %zu observed syscalls "
				 "and denies the rest",
				 name, bd->syscalls.n);
		if (!ret)
			ret = addf(
			    &p->seccomp_evidence,
			    "the kubelet reads it from /var/lib/kubelet/seccomp/%s on each "
			    "node (vArmor's agent puts it there; for `armorsmith model` output "
			    "copy %s.seccomp.json there)",
			    name, name);
	} else if (!ret) {
		ret = addf(&p->seccomp_evidence, "not proposed: the model has no seccomp syscalls");
	}
	if (!ret)
		ret = addf(&p->privileged_evidence,
			   "no observed behavior needs a privileged container: exercised "
			   "capabilities are added one by one%s",
			   bd->n_mounts ? "; mounts were observed, CAP_SYS_ADMIN covers them" : "");
	if (ret)
		secctx_proposal_free(p);
	return ret;
}

static void comments(FILE *out, const char *indent, const char *field, const struct strlist *l)
{
	for (size_t i = 0; i < l->len; i++)
		fprintf(out, "%s# %s%s%s\n", indent, i ? "" : field, i ? "  " : ": ", l->items[i]);
}

/* A double-quoted YAML scalar (JSON escaping is valid YAML). */
static void quoted(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\x%02x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void volume_name(const char *dir, char *out, size_t len)
{
	size_t k = (size_t)snprintf(out, len, "armorsmith");

	for (const char *p = dir; *p && k + 1 < len; p++)
		out[k++] = *p == '/' ? '-' : *p;
	out[k < len ? k : len - 1] = '\0';
}

static void print_container(FILE *out, const char *name, const struct secctx_proposal *p)
{
	const char *in = "          ";

	fprintf(out, "      - name: ");
	quoted(out, name);
	fprintf(out, "\n        securityContext:\n");
	comments(out, in, "privileged", &p->privileged_evidence);
	fprintf(out, "%sprivileged: false\n", in);
	comments(out, in, "allowPrivilegeEscalation", &p->ape_evidence);
	if (p->propose_ape)
		fprintf(out, "%sallowPrivilegeEscalation: %s\n", in,
			p->allow_privilege_escalation ? "true" : "false");
	comments(out, in, "capabilities", &p->capabilities_evidence);
	if (p->have_lsm_data) {
		fprintf(out, "%scapabilities:\n%s  drop:\n%s  - ALL\n", in, in, in);
		/* An empty add replaces whatever the Deployment adds today:
		 * capability lists have no merge key, so a patch replaces them. */
		fprintf(out, "%s  add:%s\n", in, p->add_capabilities.len ? "" : " []");
		for (size_t i = 0; i < p->add_capabilities.len; i++)
			fprintf(out, "%s  - %s\n", in, p->add_capabilities.items[i]);
	}
	comments(out, in, "readOnlyRootFilesystem", &p->read_only_evidence);
	if (p->propose_read_only)
		fprintf(out, "%sreadOnlyRootFilesystem: %s\n", in,
			p->read_only_root_filesystem ? "true" : "false");
	comments(out, in, "runAsNonRoot", &p->non_root_evidence);
	if (p->propose_non_root)
		fprintf(out, "%srunAsNonRoot: %s\n", in, p->run_as_non_root ? "true" : "false");
	comments(out, in, "seccompProfile", &p->seccomp_evidence);
	if (p->seccomp_profile) {
		fprintf(out, "%sseccompProfile:\n%s  type: Localhost\n%s  localhostProfile: ", in,
			in, in);
		quoted(out, p->seccomp_profile);
		fputc('\n', out);
	}
	if (p->temp_mounts.len && p->read_only_root_filesystem) {
		fprintf(out, "        volumeMounts:\n");
		for (size_t i = 0; i < p->temp_mounts.len; i++) {
			char vol[128];

			volume_name(p->temp_mounts.items[i], vol, sizeof(vol));
			fprintf(out, "        - name: %s\n          mountPath: %s\n", vol,
				p->temp_mounts.items[i]);
		}
	}
}

int secctx_print_patch(FILE *out, const struct behavior_data *bd, const struct secctx_options *o,
		       const struct secctx_proposal *p)
{
	fprintf(out, "# The tightest securityContext the behavior modeled as %s%s%s still allows\n",
		bd->namespace ? bd->namespace : "", bd->namespace ? "/" : "",
		bd->name ? bd->name : "(unnamed)");
	fputs("# (armorsmith advise --security-context); each field cites its evidence.\n"
	      "# A strategic merge patch of a Deployment's pod template: containers merge by\n"
	      "# name, volumes by name, volumeMounts by mountPath.\n"
	      "#   kubectl patch deployment NAME --type strategic --patch-file THIS.yaml\n",
	      out);
	if (!o->containers.len)
		fputs("# No --container was given: replace CONTAINER with the container's name.\n",
		      out);
	fputs("spec:\n  template:\n    spec:\n      containers:\n", out);
	if (!o->containers.len)
		print_container(out, "CONTAINER", p);
	for (size_t i = 0; i < o->containers.len; i++)
		print_container(out, o->containers.items[i], p);
	if (p->temp_mounts.len && p->read_only_root_filesystem) {
		fputs("      volumes:\n", out);
		for (size_t i = 0; i < p->temp_mounts.len; i++) {
			char vol[128];

			volume_name(p->temp_mounts.items[i], vol, sizeof(vol));
			fprintf(out, "      - name: %s\n        emptyDir: {}\n", vol);
		}
	}
	return fflush(out) || ferror(out) ? -EIO : 0;
}

void secctx_proposal_free(struct secctx_proposal *p)
{
	strlist_free(&p->add_capabilities);
	strlist_free(&p->capabilities_evidence);
	strlist_free(&p->ape_evidence);
	strlist_free(&p->read_only_evidence);
	strlist_free(&p->temp_mounts);
	strlist_free(&p->non_root_evidence);
	free(p->seccomp_profile);
	strlist_free(&p->seccomp_evidence);
	strlist_free(&p->privileged_evidence);
	memset(p, 0, sizeof(*p));
}
