/* The pipeline programs `armorsmith model` starts for the local case, each
 * logging to a file of its own. */
#ifndef ARMORSMITH_SERVICES_H
#define ARMORSMITH_SERVICES_H

#include <stdbool.h>
#include <sys/types.h>

struct service {
	const char *name; /* armorsmith-probe, ... */
	pid_t pid;
	char log_path[4096];
};

/* Starts bindir/name with argv (argv[0] is replaced), output to logdir/name.log. */
int service_start(struct service *s, const char *bindir, const char *logdir, char *const argv[]);
/* True while the program runs; reaps it when it has exited. */
bool service_alive(struct service *s);
/* SIGTERM, then SIGKILL after timeout_ms. */
void service_stop(struct service *s, int timeout_ms);
/* Prints the last lines of the service's log to stderr. */
void service_print_log_tail(const struct service *s, int lines);
/* Directory of the running executable. */
int service_bindir(char *out, size_t len);

#endif
