/* A seccomp audit record (type 1326, written for SCMP_ACT_LOG and other
 * logged actions) turned into the syscall it reports, named with the
 * record's own arch through libseccomp. */
#ifndef ARMORSMITH_AUDIT_SECCOMP_H
#define ARMORSMITH_AUDIT_SECCOMP_H

#include <stddef.h>
#include <stdint.h>

#include "audit_record.h"

/* The kernel's "unset" auid and ses, also used when a record lacks them. */
#define AUDIT_ID_UNSET UINT32_MAX

struct seccomp_event {
	int64_t sec;
	int32_t msec;
	uint64_t serial;
	uint32_t pid;
	uint32_t uid;
	uint32_t auid;
	uint32_t ses;
	char comm[64];	    /* hex-decoded when the kernel encoded it */
	char exe[4096];	    /* empty when the record has none */
	uint32_t arch;	    /* AUDIT_ARCH_* as in arch=, e.g. 0xc000003e */
	int32_t syscall_nr; /* as in syscall=; x32 calls keep bit 0x40000000 */
	uint32_t code;	    /* the seccomp action, e.g. 0x7ffc0000 SECCOMP_RET_LOG */
	/* libseccomp's name of the ABI: "x86_64", "x86", and "x32" for x32
	 * calls, which the kernel reports as arch=c000003e with the x32 bit set
	 * in the number. */
	char arch_name[32];
	char syscall_name[64];
};

/* Returns 0; -EINVAL when the record is not type 1326 or a needed field
 * (arch, syscall, pid) is missing or malformed, or the arch is not one
 * libseccomp knows; -ENOENT when libseccomp has no name for the number on
 * that arch (every other field is filled then, so the caller can still
 * attribute the event); -ENAMETOOLONG for an exe beyond PATH_MAX. err (may
 * be NULL) then holds a message naming the field and its value. */
int audit_parse_seccomp(const struct audit_record *rec, struct seccomp_event *out, char *err,
			size_t errlen);
/* audit_record_parse() and audit_parse_seccomp() in one; -EINVAL as well for
 * lines that are no audit record at all. */
int audit_parse_seccomp_line(const char *line, size_t len, struct seccomp_event *out, char *err,
			     size_t errlen);

#endif
