#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_program = "armorsmith";
static enum log_level log_threshold = LOG_LEVEL_INFO;

void log_init(const char *program)
{
	const char *env = getenv("ARMORSMITH_LOG_LEVEL");

	log_program = program;
	if (!env)
		return;
	if (strcmp(env, "debug") == 0)
		log_threshold = LOG_LEVEL_DEBUG;
	else if (strcmp(env, "warn") == 0)
		log_threshold = LOG_LEVEL_WARN;
	else if (strcmp(env, "error") == 0)
		log_threshold = LOG_LEVEL_ERROR;
}

void log_set_level(enum log_level level)
{
	log_threshold = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	va_list ap;

	if (level < log_threshold)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	/* One fprintf per line keeps lines whole when several programs share stderr. */
	char line[4096];
	int n = snprintf(line, sizeof(line), "%s.%03ld %s %s: ", stamp, ts.tv_nsec / 1000000,
			 log_program, names[level]);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}

const char *log_printable(const char *s, char *buf, size_t size)
{
	size_t n = 0;

	for (; s && *s && n + 5 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[n++] = (char)c;
		else
			n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
	}
	if (size)
		buf[n] = '\0';
	return buf;
}
