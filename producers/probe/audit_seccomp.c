#include "audit_seccomp.h"

#include <errno.h>
#include <inttypes.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* x32 tasks enter through the x86_64 syscall table with this bit set, and
 * seccomp/audit report them as AUDIT_ARCH_X86_64; only the bit tells the
 * ABI apart. libseccomp names them under SCMP_ARCH_X32 (with or without the
 * bit) and has no name for them under SCMP_ARCH_X86_64. */
#define X32_SYSCALL_BIT 0x40000000

/* libseccomp resolves names to arch tokens but not back; asking it for each
 * name it may know keeps the token values its own. Names an older
 * libseccomp lacks resolve to 0 and are skipped. */
static const char *const arch_names[] = {
    "x86_64", "x86",	 "x32",	     "arm",	  "aarch64",	 "loongarch64", "m68k",	    "mips",
    "mipsel", "mips64",	 "mipsel64", "mips64n32", "mipsel64n32", "parisc",	"parisc64", "ppc",
    "ppc64",  "ppc64le", "s390",     "s390x",	  "riscv64",	 "sh",		"sheb",
};

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

static const char *arch_name_of(uint32_t token)
{
	for (size_t i = 0; i < sizeof(arch_names) / sizeof(arch_names[0]); i++)
		if (seccomp_arch_resolve_name(arch_names[i]) == token)
			return arch_names[i];
	return NULL;
}

static bool parse_unsigned(const char *s, int base, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return false;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_int32(const char *s, int32_t *out)
{
	char *end;
	long long v;

	if (!s || !*s || *s == '+' || *s == ' ')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < INT32_MIN || v > INT32_MAX)
		return false;
	*out = (int32_t)v;
	return true;
}

static bool is_unset(const char *v)
{
	return !v || strcmp(v, "?") == 0 || strcmp(v, "(null)") == 0;
}

/* Optional ids default to the kernel's "unset"; present but garbled ones are
 * errors, since they attribute the event. */
static int get_id(const struct audit_record *rec, const char *key, bool required, uint32_t *out,
		  char *err, size_t errlen)
{
	const char *v = audit_record_get(rec, key);
	uint64_t n;

	if (is_unset(v)) {
		if (required) {
			set_err(err, errlen, "seccomp record %" PRIu64 " has no %s=", rec->serial,
				key);
			return -EINVAL;
		}
		*out = AUDIT_ID_UNSET;
		return 0;
	}
	if (!parse_unsigned(v, 10, UINT32_MAX, &n)) {
		set_err(err, errlen, "seccomp record %" PRIu64 ": invalid %s=%s", rec->serial, key,
			v);
		return -EINVAL;
	}
	*out = (uint32_t)n;
	return 0;
}

int audit_parse_seccomp(const struct audit_record *rec, struct seccomp_event *out, char *err,
			size_t errlen)
{
	const char *v, *arch_name;
	uint32_t resolve_arch;
	char *name = NULL;
	uint64_t n;
	int ret;

	memset(out, 0, sizeof(*out));
	if (rec->type != AUDIT_TYPE_SECCOMP) {
		set_err(err, errlen, "audit record %" PRIu64 " is type %d (%s), not SECCOMP (1326)",
			rec->serial, rec->type, rec->type_name[0] ? rec->type_name : "none");
		return -EINVAL;
	}
	out->sec = rec->sec;
	out->msec = rec->msec;
	out->serial = rec->serial;

	ret = get_id(rec, "pid", true, &out->pid, err, errlen);
	if (!ret)
		ret = get_id(rec, "uid", false, &out->uid, err, errlen);
	if (!ret)
		ret = get_id(rec, "auid", false, &out->auid, err, errlen);
	if (!ret)
		ret = get_id(rec, "ses", false, &out->ses, err, errlen);
	if (ret)
		return ret;

	v = audit_record_get(rec, "comm");
	if (!is_unset(v))
		snprintf(out->comm, sizeof(out->comm), "%s", v);
	v = audit_record_get(rec, "exe");
	if (!is_unset(v)) {
		if (strlen(v) >= sizeof(out->exe)) {
			set_err(err, errlen,
				"seccomp record %" PRIu64 ": exe= longer than %zu bytes",
				rec->serial, sizeof(out->exe) - 1);
			return -ENAMETOOLONG;
		}
		snprintf(out->exe, sizeof(out->exe), "%s", v);
	}

	v = audit_record_get(rec, "code");
	if (!is_unset(v)) {
		if (!parse_unsigned(v, 16, UINT32_MAX, &n)) {
			set_err(err, errlen, "seccomp record %" PRIu64 ": invalid code=%s",
				rec->serial, v);
			return -EINVAL;
		}
		out->code = (uint32_t)n;
	}

	v = audit_record_get(rec, "arch");
	if (is_unset(v)) {
		set_err(err, errlen, "seccomp record %" PRIu64 " has no arch=", rec->serial);
		return -EINVAL;
	}
	if (!parse_unsigned(v, 16, UINT32_MAX, &n)) {
		set_err(err, errlen, "seccomp record %" PRIu64 ": invalid arch=%s", rec->serial, v);
		return -EINVAL;
	}
	out->arch = (uint32_t)n;

	v = audit_record_get(rec, "syscall");
	if (is_unset(v)) {
		set_err(err, errlen, "seccomp record %" PRIu64 " has no syscall=", rec->serial);
		return -EINVAL;
	}
	if (!parse_int32(v, &out->syscall_nr)) {
		set_err(err, errlen, "seccomp record %" PRIu64 ": invalid syscall=%s", rec->serial,
			v);
		return -EINVAL;
	}

	resolve_arch = out->arch;
	if (out->arch == SCMP_ARCH_X86_64 && out->syscall_nr >= 0 &&
	    (out->syscall_nr & X32_SYSCALL_BIT))
		resolve_arch = SCMP_ARCH_X32;
	arch_name = arch_name_of(resolve_arch);
	if (!arch_name) {
		set_err(err, errlen,
			"seccomp record %" PRIu64 ": arch=%" PRIx32 " is unknown to libseccomp",
			rec->serial, out->arch);
		return -EINVAL;
	}
	snprintf(out->arch_name, sizeof(out->arch_name), "%s", arch_name);

	name = seccomp_syscall_resolve_num_arch(resolve_arch, out->syscall_nr);
	if (!name) {
		set_err(err, errlen, "seccomp record %" PRIu64 ": no syscall %d on %s", rec->serial,
			out->syscall_nr, arch_name);
		return -ENOENT;
	}
	snprintf(out->syscall_name, sizeof(out->syscall_name), "%s", name);
	free(name);
	return 0;
}

int audit_parse_seccomp_line(const char *line, size_t len, struct seccomp_event *out, char *err,
			     size_t errlen)
{
	struct audit_record rec;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = audit_record_parse(line, len, &rec);
	if (ret) {
		if (ret == -EINVAL)
			set_err(err, errlen, "not an audit record: %.*s%s",
				line ? (int)(len < 60 ? len : 60) : 0, line ? line : "",
				line && len > 60 ? "..." : "");
		else
			set_err(err, errlen, "parsing audit record: %s", strerror(-ret));
		return ret;
	}
	ret = audit_parse_seccomp(&rec, out, err, errlen);
	audit_record_free(&rec);
	return ret;
}
