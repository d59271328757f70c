/* libFuzzer target: any bytes as an audit log line (or several), through
 * the generic record parser (strict and lenient) and the AppArmor parser.
 * Beyond "no crash, no sanitizer report" it checks the invariants callers
 * rely on: damage is INVALID with a message, and every string reported is
 * NUL-terminated inside what the record owns. */
#include "audit_apparmor.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apparmor_field f[APPARMOR_MAX_FIELDS];
	struct apparmor_event ev;
	struct audit_record rec;
	char err[256], idbuf[64];
	const char *line = (const char *)data;
	int ret;

	if (audit_record_parse(line, size, &rec) == 0)
		audit_record_free(&rec);

	ret = audit_parse_apparmor_line(line, size, &ev, err, sizeof(err));
	if (ret == -ENOMSG || ret == -ENOMEM)
		return 0;
	if (ret != 0 && ret != -EINVAL)
		abort();
	if (ret == -EINVAL && (ev.apparmor != APPARMOR_INVALID || !err[0]))
		abort();
	size_t n = apparmor_event_fields(&ev, f, idbuf, sizeof(idbuf));
	if (n > APPARMOR_MAX_FIELDS)
		abort();
	for (size_t i = 0; i < n; i++)
		if (f[i].str && strlen(f[i].str) > size * 2 + 64)
			abort();
	apparmor_event_free(&ev);

	/* the record variant over a separately parsed record */
	if (audit_record_parse_ex(line, size, AUDIT_PARSE_LENIENT, &rec) == 0) {
		ret = audit_parse_apparmor(&rec, &ev, err, sizeof(err));
		if (ret != 0 && ret != -EINVAL)
			abort();
		apparmor_event_free(&ev);
		audit_record_free(&rec);
	}
	return 0;
}
