#include "services.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int service_bindir(char *out, size_t len)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		return -errno;
	exe[n] = '\0';
	snprintf(out, len, "%s", dirname(exe));
	return 0;
}

int service_start(struct service *s, const char *bindir, const char *logdir, char *const argv[])
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", bindir, s->name);
	if (access(path, X_OK) < 0) {
		log_error("cannot find %s next to armorsmith (%s): %s", s->name, path,
			  strerror(errno));
		return -ENOENT;
	}
	snprintf(s->log_path, sizeof(s->log_path), "%s/%s.log", logdir, s->name);
	fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_error("cannot open log %s: %s", s->log_path, strerror(errno));
		return -errno;
	}
	s->pid = fork();
	if (s->pid < 0) {
		close(fd);
		return -errno;
	}
	if (s->pid == 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		/* Not part of the target: it must not inherit a terminal's signals. */
		setpgid(0, 0);
		execv(path, argv);
		fprintf(stderr, "cannot exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(fd);
	return 0;
}

bool service_alive(struct service *s)
{
	int status;

	if (s->pid <= 0)
		return false;
	if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
		s->pid = 0;
		return false;
	}
	return true;
}

void service_stop(struct service *s, int timeout_ms)
{
	int status;

	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			return;
		}
		usleep(20000);
	}
	log_warn("%s did not stop within %d ms; killing it", s->name, timeout_ms);
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &status, 0);
	s->pid = 0;
}

void service_print_log_tail(const struct service *s, int lines)
{
	char cmd[4200];

	if (!s->log_path[0])
		return;
	fprintf(stderr, "--- last lines of %s ---\n", s->log_path);
	fflush(stderr);
	snprintf(cmd, sizeof(cmd), "tail -n %d '%s' >&2", lines, s->log_path);
	if (system(cmd) != 0)
		fprintf(stderr, "(cannot read %s)\n", s->log_path);
}
