#include "spool.h"
#include "kafka.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Record layout in spool.data: u32 total length, then u16 topic length,
 * u16 key length, u16 type length, u32 value length, and the four byte
 * strings. Lengths are little-endian host order: the file never leaves
 * the node. */
struct spool_hdr {
	uint32_t total;
	uint16_t topic_len, key_len, type_len;
	uint16_t pad;
	uint32_t value_len;
};

struct spool {
	char data_path[4096];
	char pos_path[4096];
	int fd;
	uint64_t read_off;  /* next record to replay */
	uint64_t write_off; /* end of the file */
	uint64_t max_bytes;
	int queue_limit;
	struct spool_stats stats;
};

static int spool_save_pos(struct spool *sp)
{
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", sp->pos_path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "%llu\n", (unsigned long long)sp->read_off);
	if (fclose(f) != 0 || rename(tmp, sp->pos_path) < 0)
		return -errno;
	return 0;
}

int spool_open(const char *dir, uint64_t max_bytes, int queue_limit, struct spool **out, char *err,
	       size_t errlen)
{
	struct spool *sp = calloc(1, sizeof(*sp));
	struct stat st;
	FILE *f;
	int rc;

	if (!sp)
		return -ENOMEM;
	sp->max_bytes = max_bytes;
	sp->queue_limit = queue_limit;
	snprintf(sp->data_path, sizeof(sp->data_path), "%s/spool.data", dir);
	snprintf(sp->pos_path, sizeof(sp->pos_path), "%s/spool.pos", dir);
	sp->fd = open(sp->data_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open spool %s: %s", sp->data_path, strerror(errno));
		goto fail;
	}
	if (fstat(sp->fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	sp->write_off = (uint64_t)st.st_size;
	f = fopen(sp->pos_path, "re");
	if (f) {
		unsigned long long pos = 0;
		if (fscanf(f, "%llu", &pos) == 1 && pos <= sp->write_off)
			sp->read_off = pos;
		fclose(f);
	}
	sp->stats.bytes = sp->write_off - sp->read_off;
	if (sp->stats.bytes)
		log_info("spool %s holds %llu bytes from an earlier run; delivering them first",
			 sp->data_path, (unsigned long long)sp->stats.bytes);
	*out = sp;
	return 0;
fail:
	if (sp->fd >= 0)
		close(sp->fd);
	free(sp);
	return rc;
}

static int spool_append(struct spool *sp, const char *topic, const char *key, const void *value,
			size_t len, const char *type)
{
	struct spool_hdr h = {0};
	size_t tl = strlen(topic), kl = key ? strlen(key) : 0, yl = type ? strlen(type) : 0;
	struct iovec_like {
		const void *p;
		size_t n;
	} parts[5];
	uint64_t off = sp->write_off;

	if (tl > UINT16_MAX || kl > UINT16_MAX || yl > UINT16_MAX || len > UINT32_MAX / 2)
		return -EINVAL;
	h.topic_len = (uint16_t)tl;
	h.key_len = (uint16_t)kl;
	h.type_len = (uint16_t)yl;
	h.value_len = (uint32_t)len;
	h.total = (uint32_t)(sizeof(h) + tl + kl + yl + len);
	if (sp->stats.bytes + h.total > sp->max_bytes) {
		sp->stats.dropped++;
		return -ENOSPC;
	}
	parts[0] = (struct iovec_like){&h, sizeof(h)};
	parts[1] = (struct iovec_like){topic, tl};
	parts[2] = (struct iovec_like){key, kl};
	parts[3] = (struct iovec_like){type, yl};
	parts[4] = (struct iovec_like){value, len};
	for (int i = 0; i < 5; i++) {
		if (parts[i].n &&
		    pwrite(sp->fd, parts[i].p, parts[i].n, (off_t)off) != (ssize_t)parts[i].n)
			return -EIO; /* the partial record is overwritten by the next append */
		off += parts[i].n;
	}
	sp->write_off = off;
	sp->stats.bytes += h.total;
	sp->stats.spooled++;
	return 0;
}

int spool_pending(const struct spool *sp)
{
	return sp->read_off < sp->write_off;
}

int spool_publish(struct spool *sp, rd_kafka_t *rk, const char *topic, const char *key,
		  const void *value, size_t len, const char *type)
{
	int rc;

	/* Order matters more than speed: while anything waits in the spool,
	 * new records queue behind it. */
	if (!spool_pending(sp) && rd_kafka_outq_len(rk) < sp->queue_limit)
		return kafka_produce(rk, topic, key, value, len, type);
	rc = spool_append(sp, topic, key, value, len, type);
	if (rc == -ENOSPC && sp->stats.dropped == 1)
		log_error("spool %s is full (%llu bytes): behaviors are being dropped and will be "
			  "reported",
			  sp->data_path, (unsigned long long)sp->max_bytes);
	else if (rc == 0 && sp->stats.spooled == 1)
		log_warn("kafka is not taking messages; spooling to %s", sp->data_path);
	return rc;
}

int spool_drain(struct spool *sp, rd_kafka_t *rk)
{
	int moved = 0;

	while (spool_pending(sp) && rd_kafka_outq_len(rk) < sp->queue_limit / 2) {
		struct spool_hdr h;
		char *buf;
		int rc;

		if (pread(sp->fd, &h, sizeof(h), (off_t)sp->read_off) != (ssize_t)sizeof(h) ||
		    h.total < sizeof(h) || sp->read_off + h.total > sp->write_off) {
			log_error("spool %s is corrupt at offset %llu; discarding the rest",
				  sp->data_path, (unsigned long long)sp->read_off);
			sp->read_off = sp->write_off;
			break;
		}
		buf = malloc(h.total - sizeof(h) + 3);
		if (!buf)
			return -ENOMEM;
		if (pread(sp->fd, buf, h.total - sizeof(h), (off_t)(sp->read_off + sizeof(h))) !=
		    (ssize_t)(h.total - sizeof(h))) {
			free(buf);
			return -EIO;
		}
		{
			char topic[256], key[1024], type[128];
			const char *p = buf;
			if (h.topic_len >= sizeof(topic) || h.key_len >= sizeof(key) ||
			    h.type_len >= sizeof(type)) {
				free(buf);
				sp->read_off += h.total;
				continue;
			}
			memcpy(topic, p, h.topic_len);
			topic[h.topic_len] = '\0';
			p += h.topic_len;
			memcpy(key, p, h.key_len);
			key[h.key_len] = '\0';
			p += h.key_len;
			memcpy(type, p, h.type_len);
			type[h.type_len] = '\0';
			p += h.type_len;
			rc = kafka_produce(rk, topic, key, p, h.value_len, type);
		}
		free(buf);
		if (rc < 0)
			return rc;
		sp->read_off += h.total;
		sp->stats.bytes -= h.total;
		sp->stats.replayed++;
		moved++;
	}
	if (moved || (!spool_pending(sp) && sp->write_off)) {
		if (!spool_pending(sp)) {
			/* Empty: start the file over so it never grows without bound. */
			if (ftruncate(sp->fd, 0) == 0)
				sp->read_off = sp->write_off = 0;
			if (moved)
				log_info("spool drained: %llu records delivered to kafka",
					 (unsigned long long)sp->stats.replayed);
		}
		spool_save_pos(sp);
	}
	return moved;
}

void spool_get_stats(const struct spool *sp, struct spool_stats *out)
{
	*out = sp->stats;
}

void spool_close(struct spool *sp)
{
	if (!sp)
		return;
	spool_save_pos(sp);
	close(sp->fd);
	free(sp);
}
