#include "merger.h"
#include "kafka.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decoding allocates a dozen small objects per message and frees them right
 * after: a bump arena per thread, reset once no decoded message is alive,
 * takes malloc and free off the merger's profile. What does not fit falls
 * back to malloc. */
#define DECODE_ARENA_BYTES (256 * 1024)

struct decode_arena {
	uint8_t *buf;
	size_t used;
	unsigned live;	    /* decoded messages not yet freed */
	unsigned fallbacks; /* mallocs since the last reset: they need freeing */
};

static _Thread_local struct decode_arena decode_arena;

static void *arena_alloc(void *data, size_t size)
{
	struct decode_arena *a = data;
	size_t at = (a->used + 15) & ~(size_t)15;

	if (!a->buf)
		a->buf = malloc(DECODE_ARENA_BYTES);
	if (a->buf && size <= DECODE_ARENA_BYTES && at + size <= DECODE_ARENA_BYTES) {
		a->used = at + size;
		return a->buf + at;
	}
	a->fallbacks++;
	return malloc(size);
}

static void arena_free(void *data, void *p)
{
	struct decode_arena *a = data;

	if (a->buf && (uint8_t *)p >= a->buf && (uint8_t *)p < a->buf + DECODE_ARENA_BYTES)
		return;
	free(p);
}

static ProtobufCAllocator *decode_allocator(void)
{
	static _Thread_local ProtobufCAllocator alloc;

	alloc.alloc = arena_alloc;
	alloc.free = arena_free;
	alloc.allocator_data = &decode_arena;
	return &alloc;
}

/* Whether the sequence at p (n bytes left) is one character PostgreSQL
 * accepts: RFC 3629 UTF-8, so no overlong forms, no surrogates, nothing
 * above U+10FFFF. Returns its length, or 0. */
static int utf8_char(const unsigned char *p, ptrdiff_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (int i = 2; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + strlen(s);

	while (p < end) {
		uint64_t w;
		int len;

		/* Most strings are ASCII: eight bytes at a time. */
		if (end - p >= 8) {
			memcpy(&w, p, 8);
			if (!(w & 0x8080808080808080ULL)) {
				p += 8;
				continue;
			}
		}
		len = utf8_char(p, end - p);
		if (!len)
			return false;
		p += len;
	}
	return true;
}

/* Every string field, recursively, is valid UTF-8: PostgreSQL rejects
 * anything else, and one bad event must not block a whole batch forever. */
static bool message_strings_valid(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m + f->offset;

		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t which =
			    *(const uint32_t *)((const char *)m + f->quantifier_offset);
			if (which != f->id)
				continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
			void *const *items = *(void *const *const *)base;
			for (size_t k = 0; k < n; k++)
				if ((f->type == PROTOBUF_C_TYPE_STRING && !utf8_valid(items[k])) ||
				    (f->type == PROTOBUF_C_TYPE_MESSAGE &&
				     !message_strings_valid(items[k])))
					return false;
			continue;
		}
		if (f->type == PROTOBUF_C_TYPE_STRING) {
			const char *v = *(const char *const *)base;
			if (v && !utf8_valid(v))
				return false;
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)base;
			if (sub && !message_strings_valid(sub))
				return false;
		}
	}
	return true;
}

static bool key_matches(const void *key, size_t key_len, const char *policy_key)
{
	return key && key_len == strlen(policy_key) && memcmp(key, policy_key, key_len) == 0;
}

static int check_event(const Armorsmith__V1__BehaviorEvent *ev, char *reason, size_t len)
{
	if (!*ev->policy_key || !*ev->event_id || !*ev->node) {
		snprintf(reason, len, "behavior event without policy_key, event_id or node");
		return -EINVAL;
	}
	switch (ev->behavior_case) {
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_SYSCALL:
		if (!*ev->syscall->name) {
			snprintf(reason, len, "syscall event %s without a name", ev->event_id);
			return -EINVAL;
		}
		return 0;
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_EXEC:
		if (ev->exec->path[0] != '/') {
			snprintf(reason, len, "exec event %s with a non-absolute path",
				 ev->event_id);
			return -EINVAL;
		}
		return 0;
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_FILE:
		if (ev->file->path[0] != '/') {
			snprintf(reason, len, "file event %s with a non-absolute path",
				 ev->event_id);
			return -EINVAL;
		}
		if (strspn(ev->file->permissions, "mrwaklx") != strlen(ev->file->permissions)) {
			snprintf(reason, len, "file event %s with unknown permissions '%s'",
				 ev->event_id, ev->file->permissions);
			return -EINVAL;
		}
		return 0;
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_CAPABILITY:
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_NETWORK:
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_PTRACE:
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_SIGNAL:
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_MOUNT:
		return 0;
	default:
		snprintf(reason, len, "behavior event %s carries no behavior", ev->event_id);
		return -EINVAL;
	}
}

int merger_decode(const char *topic, const void *key, size_t key_len, const void *value, size_t len,
		  struct merger_decoded *out, char *reason, size_t reason_len)
{
	memset(out, 0, sizeof(*out));
	if (strcmp(topic, TOPIC_CONTROL) == 0) {
		if (!value) {
			out->kind = MERGER_TOMBSTONE; /* compaction delete marker */
			return 0;
		}
		out->control =
		    armorsmith__v1__modeling_control__unpack(decode_allocator(), len, value);
		if (out->control)
			decode_arena.live++;
		if (!out->control) {
			snprintf(reason, reason_len, "undecodable ModelingControl (%zu bytes)",
				 len);
			return -EINVAL;
		}
		if (!*out->control->policy_key ||
		    !key_matches(key, key_len, out->control->policy_key) ||
		    !*out->control->profile_name) {
			snprintf(reason, reason_len,
				 "ModelingControl without profile name or whose key is not its "
				 "policy key");
			merger_decoded_free(out);
			return -EINVAL;
		}
		if (!message_strings_valid(&out->control->base)) {
			snprintf(reason, reason_len,
				 "ModelingControl with a string that is not UTF-8");
			merger_decoded_free(out);
			return -EINVAL;
		}
		out->kind = MERGER_CONTROL;
		return 0;
	}
	if (strcmp(topic, TOPIC_BEHAVIOR) != 0) {
		snprintf(reason, reason_len, "message from unexpected topic %s", topic);
		return -EINVAL;
	}
	if (!value) {
		snprintf(reason, reason_len, "empty message on %s", topic);
		return -EINVAL;
	}
	out->record = armorsmith__v1__behavior_record__unpack(decode_allocator(), len, value);
	if (out->record)
		decode_arena.live++;
	if (!out->record) {
		snprintf(reason, reason_len, "undecodable BehaviorRecord (%zu bytes)", len);
		return -EINVAL;
	}
	if (!message_strings_valid(&out->record->base)) {
		snprintf(reason, reason_len, "BehaviorRecord with a string that is not UTF-8");
		goto invalid;
	}
	switch (out->record->record_case) {
	case ARMORSMITH__V1__BEHAVIOR_RECORD__RECORD_EVENT:
		if (check_event(out->record->event, reason, reason_len) < 0)
			goto invalid;
		if (!key_matches(key, key_len, out->record->event->policy_key)) {
			snprintf(reason, reason_len, "event %s keyed by another policy",
				 out->record->event->event_id);
			goto invalid;
		}
		out->kind = MERGER_EVENT;
		return 0;
	case ARMORSMITH__V1__BEHAVIOR_RECORD__RECORD_REPORT: {
		const Armorsmith__V1__NodeReport *r = out->record->report;
		if (!*r->policy_key || !*r->node || !*r->report_id ||
		    r->phase == ARMORSMITH__V1__NODE_REPORT__PHASE__PHASE_UNSPECIFIED ||
		    !key_matches(key, key_len, r->policy_key)) {
			snprintf(reason, reason_len,
				 "node report without policy_key, node, report_id or phase, or "
				 "keyed by another policy");
			goto invalid;
		}
		out->kind = MERGER_REPORT;
		return 0;
	}
	default:
		snprintf(reason, reason_len, "BehaviorRecord with neither event nor report");
		goto invalid;
	}
invalid:
	merger_decoded_free(out);
	return -EINVAL;
}

void merger_decoded_free(struct merger_decoded *d)
{
	/* Walking a message to free it is only needed for what did not fit
	 * in the arena. */
	bool walk = decode_arena.fallbacks > 0;

	if (d->record) {
		if (walk)
			armorsmith__v1__behavior_record__free_unpacked(d->record,
								       decode_allocator());
		decode_arena.live--;
	}
	if (d->control) {
		if (walk)
			armorsmith__v1__modeling_control__free_unpacked(d->control,
									decode_allocator());
		decode_arena.live--;
	}
	if (!decode_arena.live)
		decode_arena.used = decode_arena.fallbacks = 0;
	memset(d, 0, sizeof(*d));
}
