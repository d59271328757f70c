#ifndef ARMORSMITH_TIMEUTIL_H
#define ARMORSMITH_TIMEUTIL_H

#include <stdint.h>

#define NSEC_PER_SEC ((int64_t)1000000000)
#define NSEC_PER_MSEC ((int64_t)1000000)

int64_t time_now_ns(void);
/* "250ms", "30s", "5m", "2h", or a bare number of seconds; -EINVAL otherwise. */
int time_parse_duration(const char *text, int64_t *out_ns);
/* RFC 3339 UTC with seconds, as Kubernetes writes times. */
void time_format_rfc3339(int64_t unix_ns, char *buf, int len);

#endif
