#include "audit_sync.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int audit_socket(void)
{
	struct sockaddr_nl addr = {.nl_family = AF_NETLINK};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static int audit_send(int fd, uint16_t type, uint16_t flags, const void *data, size_t len)
{
	char buf[NLMSG_SPACE(1024)];
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};

	if (len > 1024)
		return -EMSGSIZE;
	memset(buf, 0, sizeof(buf));
	nh->nlmsg_len = (uint32_t)NLMSG_LENGTH(len);
	nh->nlmsg_type = type;
	nh->nlmsg_flags = NLM_F_REQUEST | flags;
	nh->nlmsg_seq = 1;
	if (len)
		memcpy(NLMSG_DATA(nh), data, len);
	if (sendto(fd, buf, nh->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	return 0;
}

/* Waits for the kernel's reply of the given type, or an error ack. */
static int audit_recv(int fd, uint16_t type, void *out, size_t len)
{
	char buf[8192];

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;
		struct nlmsghdr *nh;

		if (poll(&p, 1, 2000) <= 0)
			return -ETIMEDOUT;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			return -errno;
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);
				if (e->error)
					return e->error;
				if (!out)
					return 0; /* plain ack */
				continue;
			}
			if (nh->nlmsg_type == type && out) {
				size_t plen = nh->nlmsg_len - NLMSG_LENGTH(0);
				memcpy(out, NLMSG_DATA(nh), plen < len ? plen : len);
				return 0;
			}
		}
	}
}

int audit_sync_send_marker(const char *token)
{
	char msg[256];
	int fd = audit_socket(), rc;
	int n;

	if (fd < 0)
		return fd;
	n = snprintf(msg, sizeof(msg), AUDIT_SYNC_PREFIX "%s", token);
	if (n < 0 || (size_t)n >= sizeof(msg)) {
		rc = -EINVAL;
		goto out;
	}
	rc = audit_send(fd, AUDIT_USER, NLM_F_ACK, msg, (size_t)n + 1);
	if (rc == 0)
		rc = audit_recv(fd, 0, NULL, 0);
out:
	close(fd);
	return rc;
}

int audit_sync_lost_counter(uint64_t *lost)
{
	struct audit_status st;
	int fd = audit_socket(), rc;

	if (fd < 0)
		return fd;
	memset(&st, 0, sizeof(st));
	rc = audit_send(fd, AUDIT_GET, NLM_F_ACK, NULL, 0);
	if (rc == 0)
		rc = audit_recv(fd, AUDIT_GET, &st, sizeof(st));
	if (rc == 0)
		*lost = st.lost;
	close(fd);
	return rc;
}
