/* PostgreSQL's binary COPY format, written straight into one buffer that is
 * sent with a single PQputCopyData(): no text rendering, no parsing on the
 * server beyond each type's receive function. */
#include "log.h"
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL's type oid of text, needed inside a binary array. */
#define PG_TEXT_OID 25
/* PQputCopyData() takes an int length. */
#define COPY_CHUNK ((size_t)4 << 20)
/* A streamed COPY hands PostgreSQL rows while later ones are still being
 * rendered: the two overlap instead of taking turns. */
#define COPY_STREAM_CHUNK ((size_t)256 << 10)

bool copy_grow(struct copybuf *c, size_t n)
{
	size_t ncap;
	uint8_t *d;

	if (c->failed)
		return false;
	if (c->len + n <= c->cap)
		return true;
	ncap = c->cap ? c->cap * 2 : 1 << 16;
	while (ncap < c->len + n)
		ncap *= 2;
	d = realloc(c->data, ncap);
	if (!d) {
		c->failed = true;
		return false;
	}
	c->data = d;
	c->cap = ncap;
	return true;
}

void copy_begin(struct copybuf *c)
{
	static const char header[] = "PGCOPY\n\377\r\n";

	c->len = 0;
	c->failed = false;
	copy_put(c, header, 11);
	copy_u32(c, 0); /* flags */
	copy_u32(c, 0); /* header extension length */
}

void copy_end(struct copybuf *c)
{
	copy_u16(c, 0xffff);
}

size_t copy_field_open(struct copybuf *c)
{
	size_t at = c->len;

	copy_u32(c, 0);
	return at;
}

void copy_field_close(struct copybuf *c, size_t at)
{
	uint32_t be;

	if (c->failed)
		return;
	be = htobe32((uint32_t)(c->len - at - 4));
	memcpy(c->data + at, &be, 4);
}

void copy_text_array_field(struct copybuf *c, const char *const *items, size_t n)
{
	size_t at = copy_field_open(c);

	copy_u32(c, 1); /* dimensions */
	copy_u32(c, 0); /* no NULLs */
	copy_u32(c, PG_TEXT_OID);
	copy_u32(c, (uint32_t)n);
	copy_u32(c, 1); /* lower bound */
	for (size_t i = 0; i < n; i++)
		copy_text_field(c, items[i]);
	copy_field_close(c, at);
}

static int copy_start(struct store *st, const char *sql)
{
	PGresult *res = PQexec(st->conn, sql);

	if (PQresultStatus(res) != PGRES_COPY_IN) {
		log_error("store: cannot start '%s': %s", sql, PQerrorMessage(st->conn));
		PQclear(res);
		return -EIO;
	}
	PQclear(res);
	return 0;
}

static int copy_put_data(struct store *st, const char *sql, struct copybuf *c)
{
	for (size_t off = 0; off < c->len; off += COPY_CHUNK) {
		size_t n = c->len - off < COPY_CHUNK ? c->len - off : COPY_CHUNK;

		if (PQputCopyData(st->conn, (const char *)c->data + off, (int)n) != 1) {
			log_error("store: sending '%s' failed: %s", sql, PQerrorMessage(st->conn));
			return -EIO;
		}
	}
	c->len = 0;
	return 0;
}

/* Ends the COPY and collects its result; with failed set, aborts it. */
static int copy_finish(struct store *st, const char *sql, bool failed)
{
	PGresult *res;
	int rc;

	if (PQputCopyEnd(st->conn, failed ? "aborted by armorsmith" : NULL) != 1) {
		log_error("store: ending '%s' failed: %s", sql, PQerrorMessage(st->conn));
		return -EIO;
	}
	res = PQgetResult(st->conn);
	rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -EIO;
	if (rc)
		log_error("store: '%s' failed: %s", sql, PQerrorMessage(st->conn));
	PQclear(res);
	while ((res = PQgetResult(st->conn)))
		PQclear(res);
	return failed ? -EIO : rc;
}

int copy_send(struct store *st, const char *sql, struct copybuf *c)
{
	int rc;

	if (c->failed)
		return -ENOMEM;
	rc = copy_start(st, sql);
	if (rc < 0)
		return rc;
	rc = copy_put_data(st, sql, c);
	return copy_finish(st, sql, rc < 0);
}

int copy_stream_begin(struct store *st, const char *sql, struct copybuf *c)
{
	int rc = copy_start(st, sql);

	if (rc == 0)
		copy_begin(c);
	return rc;
}

int copy_stream_flush(struct store *st, const char *sql, struct copybuf *c)
{
	if (c->len < COPY_STREAM_CHUNK)
		return 0;
	if (c->failed)
		return -ENOMEM;
	return copy_put_data(st, sql, c);
}

int copy_stream_end(struct store *st, const char *sql, struct copybuf *c, bool abort)
{
	int rc = 0;

	if (abort || c->failed) {
		rc = c->failed ? -ENOMEM : -ECANCELED;
		copy_finish(st, sql, true);
		return rc;
	}
	copy_end(c);
	rc = copy_put_data(st, sql, c);
	return copy_finish(st, sql, rc < 0);
}
