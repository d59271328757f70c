#include "timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t time_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

int time_parse_duration(const char *text, int64_t *out_ns)
{
	char *end;
	double v;
	int64_t unit = NSEC_PER_SEC;

	if (!text || !*text || isspace((unsigned char)*text) || *text == '-')
		return -EINVAL;
	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text)
		return -EINVAL;
	if (strcmp(end, "ms") == 0)
		unit = NSEC_PER_MSEC;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		unit = NSEC_PER_SEC;
	else if (strcmp(end, "m") == 0)
		unit = 60 * NSEC_PER_SEC;
	else if (strcmp(end, "h") == 0)
		unit = 3600 * NSEC_PER_SEC;
	else if (strcmp(end, "d") == 0)
		unit = 86400 * NSEC_PER_SEC;
	else
		return -EINVAL;
	/* Reject what would overflow int64 nanoseconds (about 292 years). */
	if (v < 0 || v * (double)unit > 9.2e18)
		return -EINVAL;
	*out_ns = (int64_t)(v * (double)unit);
	return 0;
}

void time_format_rfc3339(int64_t unix_ns, char *buf, int len)
{
	time_t s = (time_t)(unix_ns / NSEC_PER_SEC);
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(buf, (size_t)len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
