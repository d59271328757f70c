/* Building a batch: events are copied out of their protobuf messages into
 * one arena, so a merger can free each Kafka message as soon as it has been
 * added and a batch of 100,000 events stays a few tens of megabytes. */
#include "log.h"
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GROW(arr, n, cap, init) batch_grow((void **)&(arr), &(cap), (n) + 1, sizeof(*(arr)), (init))

static int batch_grow(void **arr, size_t *cap, size_t need, size_t size, size_t init)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : init;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

uint64_t store_hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

const char *store_kind_name(enum store_kind k)
{
	static const char *const names[STORE_K_COUNT] = {
	    "syscall", "exec", "file", "capability", "network", "ptrace", "signal", "mount",
	};
	return k < STORE_K_COUNT ? names[k] : "unknown";
}

struct store_batch *store_batch_new(void)
{
	return calloc(1, sizeof(struct store_batch));
}

void store_batch_free(struct store_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_parts; i++)
		free(b->parts[i].segs);
	free(b->arena);
	free(b->runs);
	free(b->run_slots);
	free(b->parts);
	free(b->events);
	free(b->reports);
	free(b->controls);
	free(b);
}

/* Copies n bytes (and a NUL) into the arena; sets b->failed on ENOMEM. */
static store_str arena_put(struct store_batch *b, const void *p, size_t n)
{
	size_t off = b->arena_len;

	if (b->failed)
		return 0;
	if (off + n + 1 > UINT32_MAX ||
	    batch_grow((void **)&b->arena, &b->arena_cap, off + n + 1, 1, 1 << 16) < 0) {
		b->failed = true;
		return 0;
	}
	memcpy(b->arena + off, p, n);
	b->arena[off + n] = '\0';
	b->arena_len = off + n + 1;
	return (store_str)off;
}

static store_str arena_str(struct store_batch *b, const char *s)
{
	return arena_put(b, s ? s : "", s ? strlen(s) : 0);
}

static int run_slots_rehash(struct store_batch *b, size_t cap)
{
	uint32_t *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_runs; i++) {
		size_t s = b->runs[i].hash & (cap - 1);
		while (slots[s])
			s = (s + 1) & (cap - 1);
		slots[s] = (uint32_t)i + 1;
	}
	free(b->run_slots);
	b->run_slots = slots;
	b->cap_run_slots = cap;
	return 0;
}

/* The batch's index of (policy_key, generation), added when new. */
static int batch_run(struct store_batch *b, const char *policy_key, uint64_t generation,
		     uint32_t *out)
{
	uint64_t h = store_hash_bytes(0xcbf29ce484222325ULL, policy_key, strlen(policy_key)) ^
		     (generation * 0x9e3779b97f4a7c15ULL);
	struct batch_run *r;
	size_t s;

	if (b->n_runs * 2 >= b->cap_run_slots &&
	    run_slots_rehash(b, b->cap_run_slots ? b->cap_run_slots * 2 : 16) < 0)
		return -ENOMEM;
	for (s = h & (b->cap_run_slots - 1); b->run_slots[s];
	     s = (s + 1) & (b->cap_run_slots - 1)) {
		r = &b->runs[b->run_slots[s] - 1];
		if (r->hash == h && r->generation == generation &&
		    strcmp(batch_str(b, r->policy_key), policy_key) == 0) {
			*out = b->run_slots[s] - 1;
			return 0;
		}
	}
	if (GROW(b->runs, b->n_runs, b->cap_runs, 8) < 0)
		return -ENOMEM;
	r = &b->runs[b->n_runs];
	memset(r, 0, sizeof(*r));
	r->policy_key = arena_str(b, policy_key);
	r->generation = generation;
	r->hash = h;
	if (b->failed)
		return -ENOMEM;
	b->run_slots[s] = (uint32_t)b->n_runs + 1;
	*out = (uint32_t)b->n_runs++;
	return 0;
}

static int batch_part(struct store_batch *b, const char *topic, int32_t partition, uint32_t *out)
{
	struct batch_part *p;

	for (size_t i = b->n_parts; i-- > 0;) {
		p = &b->parts[i];
		if (p->partition == partition && strcmp(batch_str(b, p->topic), topic) == 0) {
			*out = (uint32_t)i;
			return 0;
		}
	}
	if (GROW(b->parts, b->n_parts, b->cap_parts, 4) < 0)
		return -ENOMEM;
	p = &b->parts[b->n_parts];
	memset(p, 0, sizeof(*p));
	p->topic = arena_str(b, topic);
	p->partition = partition;
	p->next_offset = -1;
	if (b->failed)
		return -ENOMEM;
	*out = (uint32_t)b->n_parts++;
	return 0;
}

/* Notes a consumed offset. Returns 1 when the batch had consumed it already
 * (the partition was revoked and assigned again mid-batch), else 0 and the
 * segment it is in. */
static int part_note(struct batch_part *p, int64_t offset, uint32_t *seg)
{
	struct batch_segment *last = p->n_segs ? &p->segs[p->n_segs - 1] : NULL;

	if (last && offset == last->last + 1) {
		last->last = offset;
		*seg = (uint32_t)p->n_segs - 1;
		return 0;
	}
	for (size_t i = 0; i < p->n_segs; i++)
		if (offset >= p->segs[i].first && offset <= p->segs[i].last)
			return 1;
	if (GROW(p->segs, p->n_segs, p->cap_segs, 2) < 0)
		return -ENOMEM;
	p->segs[p->n_segs] = (struct batch_segment){offset, offset};
	*seg = (uint32_t)p->n_segs++;
	return 0;
}

int store_batch_note_message(struct store_batch *b, const char *topic, int32_t partition,
			     int64_t offset)
{
	uint32_t part, seg;
	int rc;

	if (offset < 0)
		return -EINVAL;
	rc = batch_part(b, topic, partition, &part);
	if (rc < 0)
		return rc;
	rc = part_note(&b->parts[part], offset, &seg);
	return rc < 0 ? rc : 0;
}

/* The behavior's strings in the field order store_merge.c expects. */
static int event_fields(struct store_batch *b, struct batch_event *e,
			const Armorsmith__V1__BehaviorEvent *ev)
{
	const char *s[5] = {NULL};

	switch (ev->behavior_case) {
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_SYSCALL:
		e->kind = STORE_K_SYSCALL;
		s[0] = ev->syscall->name;
		s[1] = ev->syscall->arch;
		e->num = ev->syscall->number;
		break;
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_EXEC:
		e->kind = STORE_K_EXEC;
		s[0] = ev->exec->path;
		break;
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_FILE:
		e->kind = STORE_K_FILE;
		s[0] = ev->file->path;
		s[1] = ev->file->old_path;
		s[2] = ev->file->permissions;
		e->owner = ev->file->owner;
		for (const char *p = ev->file->permissions; p && *p; p++) {
			const char *l = strchr(STORE_PERM_LETTERS, *p);
			if (!l)
				return -EINVAL;
			e->perms |= (uint8_t)(1u << (l - STORE_PERM_LETTERS));
		}
		break;
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_CAPABILITY:
		e->kind = STORE_K_CAPABILITY;
		s[0] = ev->capability->name;
		break;
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_NETWORK:
		e->kind = STORE_K_NETWORK;
		s[0] = ev->network->family;
		s[1] = ev->network->sock_type;
		s[2] = ev->network->protocol;
		s[3] = ev->network->address;
		s[4] = ev->network->operation;
		e->num = (int32_t)ev->network->port;
		break;
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_PTRACE:
		e->kind = STORE_K_PTRACE;
		s[0] = ev->ptrace->peer;
		s[1] = ev->ptrace->permissions;
		break;
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_SIGNAL:
		e->kind = STORE_K_SIGNAL;
		s[0] = ev->signal->peer;
		s[1] = ev->signal->signal;
		s[2] = ev->signal->permissions;
		break;
	case ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_MOUNT:
		e->kind = STORE_K_MOUNT;
		s[0] = ev->mount->operation;
		s[1] = ev->mount->path;
		s[2] = ev->mount->source;
		s[3] = ev->mount->fstype;
		s[4] = ev->mount->flags;
		break;
	default:
		return -EINVAL;
	}
	for (int i = 0; i < 5; i++)
		e->f[i] = arena_str(b, s[i]);
	return 0;
}

int store_batch_add_event(struct store_batch *b, const Armorsmith__V1__BehaviorEvent *ev,
			  const char *topic, int32_t partition, int64_t offset)
{
	struct batch_event *e;
	uint32_t part, seg;
	int rc;

	if (offset < 0 || !ev->policy_key || !ev->node)
		return -EINVAL;
	rc = batch_part(b, topic, partition, &part);
	if (rc < 0)
		return rc;
	rc = part_note(&b->parts[part], offset, &seg);
	if (rc != 0)
		return rc < 0 ? rc : 0; /* a redelivery within the batch */
	if (GROW(b->events, b->n_events, b->cap_events, 256) < 0)
		return -ENOMEM;
	e = &b->events[b->n_events];
	memset(e, 0, sizeof(*e));
	rc = batch_run(b, ev->policy_key, ev->generation, &e->run);
	if (rc < 0)
		return rc;
	e->part = part;
	e->seg = seg;
	e->source = (uint8_t)ev->source;
	e->offset = offset;
	e->time_ns = ev->time_unix_nano;
	e->cgroup_id = ev->cgroup_id;
	e->pid = ev->pid;
	rc = event_fields(b, e, ev);
	if (rc < 0) {
		log_warn("store: event %s at %s[%d]@%lld carries no behavior the store knows",
			 ev->event_id ? ev->event_id : "?", topic, partition, (long long)offset);
		return rc;
	}
	e->node = arena_str(b, ev->node);
	e->comm = arena_str(b, ev->comm);
	e->container_id = arena_str(b, ev->container_id);
	e->event_id = arena_str(b, ev->event_id);
	if (b->failed)
		return -ENOMEM;
	b->n_events++;
	return 0;
}

/* Reports and controls are few: kept packed and unpacked at merge time. */
static int batch_blob(struct store_batch *b, const ProtobufCMessage *m, struct batch_blob **arr,
		      size_t *n, size_t *cap)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	size_t off = b->arena_len;
	uint8_t *buf;

	if (batch_grow((void **)arr, cap, *n + 1, sizeof(**arr), 8) < 0)
		return -ENOMEM;
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(m, buf);
	arena_put(b, buf, len);
	free(buf);
	if (b->failed)
		return -ENOMEM;
	(*arr)[(*n)++] = (struct batch_blob){off, len};
	return 0;
}

int store_batch_add_report(struct store_batch *b, const Armorsmith__V1__NodeReport *rep)
{
	return batch_blob(b, &rep->base, &b->reports, &b->n_reports, &b->cap_reports);
}

int store_batch_add_control(struct store_batch *b, const Armorsmith__V1__ModelingControl *ctl)
{
	return batch_blob(b, &ctl->base, &b->controls, &b->n_controls, &b->cap_controls);
}

int store_batch_add_offset(struct store_batch *b, const char *topic, int32_t partition,
			   int64_t next_offset)
{
	uint32_t part;
	int rc = batch_part(b, topic, partition, &part);

	if (rc < 0)
		return rc;
	if (next_offset > b->parts[part].next_offset)
		b->parts[part].next_offset = next_offset;
	return 0;
}

size_t store_batch_len(const struct store_batch *b)
{
	return b->n_events + b->n_reports + b->n_controls;
}
