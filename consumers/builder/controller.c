#include "controller.h"
#include "armorsmith/v1/armorsmith.pb-c.h"
#include "kafka.h"
#include "log.h"
#include "pod_match.h"
#include "policy.h"
#include "timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define API_PREFIX "/apis/crd.varmor.org/v1beta1"
/* Short watches: the stream is the only place a stop request is noticed. */
#define WATCH_TIMEOUT_S 5
#define CONTROL_READ_TIMEOUT_MS 15000

/* One policy key: its latest run (from the control topic or started here)
 * and the policy object that owns it now (from the watch). */
struct ctl_entry {
	char key[200];
	struct policy_run run;
	bool has_owner;
	char kind[24];
	char namespace[64];
	char name[254];
};

struct controller;

struct ctl_watch {
	struct controller *c;
	const char *collection;
	const char *kind;
	atomic_bool synced; /* the first list is done */
};

struct controller {
	struct kube_client *kube;
	rd_kafka_t *producer;
	char install_ns[64];
	char match_label[254];
	pthread_mutex_t lock;
	struct ctl_entry *entries;
	size_t n_entries;
	struct ctl_watch watches[2];
	pthread_t threads[2];
	int n_threads;
	atomic_bool stop;
	_Atomic uint64_t runs_started, deadlines_moved, invalid_policies, watch_restarts;
};

static struct ctl_entry *ctl_find(struct controller *c, const char *key, bool create)
{
	struct ctl_entry *n;

	for (size_t i = 0; i < c->n_entries; i++)
		if (strcmp(c->entries[i].key, key) == 0)
			return &c->entries[i];
	if (!create || strlen(key) >= sizeof(n->key))
		return NULL;
	n = realloc(c->entries, (c->n_entries + 1) * sizeof(*n));
	if (!n)
		return NULL;
	c->entries = n;
	n = &c->entries[c->n_entries++];
	memset(n, 0, sizeof(*n));
	snprintf(n->key, sizeof(n->key), "%s", key);
	return n;
}

static void format_time(int64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / NSEC_PER_SEC);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- the control topic ---------------------------------------------- */

static void ctl_remember_control(struct controller *c, const Armorsmith__V1__ModelingControl *m)
{
	struct ctl_entry *e;

	if (!m->policy_key || !m->target || !m->target->kind ||
	    strcmp(m->target->kind, "LocalProcess") == 0)
		return; /* local runs belong to `armorsmith model` */
	e = ctl_find(c, m->policy_key, true);
	if (!e || e->run.generation > m->generation)
		return;
	e->run.generation = m->generation;
	e->run.start_ns = m->start_unix_nano;
	e->run.deadline_ns = m->deadline_unix_nano;
	e->run.duration_s = m->duration_seconds;
	snprintf(e->run.enforcer, sizeof(e->run.enforcer), "%s", m->enforcer ? m->enforcer : "");
}

/* Reads every partition of the compacted control topic up to its end. */
static int ctl_load_history(struct controller *c, const char *brokers, char *err, size_t errlen)
{
	rd_kafka_topic_partition_list_t *parts = NULL;
	rd_kafka_t *rk;
	int64_t *high = NULL;
	int n, remaining = 0, rc = 0;
	int64_t until = time_now_ns() + (int64_t)CONTROL_READ_TIMEOUT_MS * 1000000;

	rk = kafka_consumer_new(brokers, NULL, NULL, NULL, err, errlen);
	if (!rk)
		return -EHOSTUNREACH;
	n = kafka_partition_count(rk, TOPIC_CONTROL, 10000);
	if (n <= 0) {
		snprintf(err, errlen, "cannot read the partitions of %s at %s", TOPIC_CONTROL,
			 brokers);
		rc = -EHOSTUNREACH;
		goto out;
	}
	high = calloc((size_t)n, sizeof(*high));
	parts = rd_kafka_topic_partition_list_new(n);
	if (!high || !parts) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		int64_t lo = 0;
		if (rd_kafka_query_watermark_offsets(rk, TOPIC_CONTROL, i, &lo, &high[i], 10000)) {
			snprintf(err, errlen, "cannot read the end of %s[%d] at %s", TOPIC_CONTROL,
				 i, brokers);
			rc = -EHOSTUNREACH;
			goto out;
		}
		if (high[i] > lo)
			remaining++;
		rd_kafka_topic_partition_list_add(parts, TOPIC_CONTROL, i)->offset =
		    RD_KAFKA_OFFSET_BEGINNING;
	}
	if (rd_kafka_assign(rk, parts)) {
		snprintf(err, errlen, "cannot assign %s", TOPIC_CONTROL);
		rc = -EIO;
		goto out;
	}
	while (remaining > 0) {
		rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 200);
		Armorsmith__V1__ModelingControl *m;

		if (time_now_ns() > until) {
			snprintf(err, errlen, "reading %s to its end took longer than %d ms",
				 TOPIC_CONTROL, CONTROL_READ_TIMEOUT_MS);
			rc = -ETIMEDOUT;
			goto out;
		}
		if (!msg)
			continue;
		if (!msg->err && msg->partition >= 0 && msg->partition < n) {
			if (msg->payload) {
				m = armorsmith__v1__modeling_control__unpack(NULL, msg->len,
									     msg->payload);
				if (m) {
					ctl_remember_control(c, m);
					armorsmith__v1__modeling_control__free_unpacked(m, NULL);
				}
			}
			if (msg->offset + 1 >= high[msg->partition] && high[msg->partition] != -1) {
				high[msg->partition] = -1; /* done */
				remaining--;
			}
		}
		rd_kafka_message_destroy(msg);
	}
out:
	if (parts)
		rd_kafka_topic_partition_list_destroy(parts);
	free(high);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}

static int ctl_publish(struct controller *c, const struct policy *p, const struct policy_run *r,
		       char *err, size_t errlen)
{
	Armorsmith__V1__ModelingControl m = ARMORSMITH__V1__MODELING_CONTROL__INIT;
	Armorsmith__V1__Target t = ARMORSMITH__V1__TARGET__INIT;
	Armorsmith__V1__Source sources[1] = {ARMORSMITH__V1__SOURCE__SOURCE_BPF};
	uint8_t *buf;
	size_t len;
	int rc;

	t.kind = (char *)p->target_kind;
	t.name = (char *)p->target_name;
	t.selector_json = p->selector_json ? p->selector_json : "";
	t.containers = p->containers;
	t.n_containers = p->n_containers;
	t.namespace_ = (char *)p->target_namespace;
	m.policy_key = (char *)p->key;
	m.profile_name = (char *)p->profile_name;
	m.namespace_ = (char *)p->model_namespace;
	m.enforcer = (char *)p->enforcer;
	m.target = &t;
	m.duration_seconds = r->duration_s;
	m.start_unix_nano = r->start_ns;
	m.deadline_unix_nano = r->deadline_ns;
	m.generation = r->generation;
	/* Pods are watched with BPF: nothing here can load a complain-mode
	 * AppArmor profile or a SCMP_ACT_LOG filter into a container. */
	m.n_sources = 1;
	m.sources = sources;
	m.state = ARMORSMITH__V1__MODELING_CONTROL__STATE__STATE_MODELING;
	len = armorsmith__v1__modeling_control__get_packed_size(&m);
	buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	armorsmith__v1__modeling_control__pack(&m, buf);
	rc = kafka_produce(c->producer, TOPIC_CONTROL, p->key, buf, len,
			   "armorsmith.v1.ModelingControl");
	free(buf);
	if (rc == 0 && rd_kafka_flush(c->producer, 15000)) {
		rc = -ETIMEDOUT;
		snprintf(err, errlen, "the modeling control for %s was not delivered within 15s",
			 p->key);
	} else if (rc < 0) {
		snprintf(err, errlen, "cannot queue the modeling control for %s", p->key);
	}
	return rc;
}

/* ---- status --------------------------------------------------------- */

struct status_change {
	const char *phase;
	bool ready;
	const char *profile_name; /* NULL: leave as it is */
	const char *cond_type;
	const char *cond_status;
	const char *reason;
	const char *message;
};

/* Replaces the condition of the same type; the transition time moves only
 * when its status changes, as Kubernetes conditions do. */
static int set_condition(json_t *status, const struct status_change *s)
{
	json_t *conds = json_object_get(status, "conditions"), *cond = NULL, *item;
	char now[32];
	size_t i;

	if (!json_is_array(conds)) {
		conds = json_array();
		if (!conds || json_object_set_new(status, "conditions", conds))
			return -ENOMEM;
	}
	json_array_foreach(conds, i, item)
	{
		if (json_is_string(json_object_get(item, "type")) &&
		    strcmp(json_string_value(json_object_get(item, "type")), s->cond_type) == 0) {
			cond = item;
			break;
		}
	}
	format_time(time_now_ns(), now, sizeof(now));
	if (!cond) {
		cond = json_object();
		if (!cond || json_array_append_new(conds, cond))
			return -ENOMEM;
	}
	if (!json_is_string(json_object_get(cond, "status")) ||
	    strcmp(json_string_value(json_object_get(cond, "status")), s->cond_status) != 0 ||
	    !json_object_get(cond, "lastTransitionTime"))
		json_object_set_new(cond, "lastTransitionTime", json_string(now));
	json_object_set_new(cond, "type", json_string(s->cond_type));
	json_object_set_new(cond, "status", json_string(s->cond_status));
	json_object_set_new(cond, "reason", json_string(s->reason));
	json_object_set_new(cond, "message", json_string(s->message));
	return 0;
}

static bool status_matches(json_t *status, const struct status_change *s)
{
	json_t *conds = json_object_get(status, "conditions"), *item;
	const char *phase = json_string_value(json_object_get(status, "phase"));
	size_t i;

	if (!phase || strcmp(phase, s->phase) ||
	    json_is_true(json_object_get(status, "ready")) != s->ready)
		return false;
	if (s->profile_name &&
	    (!json_is_string(json_object_get(status, "profileName")) ||
	     strcmp(json_string_value(json_object_get(status, "profileName")), s->profile_name)))
		return false;
	json_array_foreach(conds, i, item)
	{
		const char *t = json_string_value(json_object_get(item, "type"));
		const char *st = json_string_value(json_object_get(item, "status"));
		const char *msg = json_string_value(json_object_get(item, "message"));
		if (t && !strcmp(t, s->cond_type))
			return st && msg && !strcmp(st, s->cond_status) && !strcmp(msg, s->message);
	}
	return false;
}

static int mutate_status(json_t *obj, void *ctx)
{
	const struct status_change *s = ctx;
	json_t *status = json_object_get(obj, "status");

	if (!json_is_object(status)) {
		status = json_object();
		if (!status || json_object_set_new(obj, "status", status))
			return -ENOMEM;
	}
	/* Our own status writes come back as watch events: writing the same
	 * status again would loop. */
	if (status_matches(status, s))
		return 1;
	json_object_set_new(status, "phase", json_string(s->phase));
	json_object_set_new(status, "ready", json_boolean(s->ready));
	if (s->profile_name)
		json_object_set_new(status, "profileName", json_string(s->profile_name));
	return set_condition(status, s);
}

static void policy_path(char *buf, size_t len, const char *kind, const char *ns, const char *name)
{
	if (strcmp(kind, POLICY_KIND_CLUSTER) == 0)
		snprintf(buf, len, API_PREFIX "/varmorclusterpolicies/%s/status", name);
	else
		snprintf(buf, len, API_PREFIX "/namespaces/%s/varmorpolicies/%s/status", ns, name);
}

static int ctl_set_status(struct controller *c, const char *kind, const char *ns, const char *name,
			  const struct status_change *s, char *err, size_t errlen)
{
	char path[700];
	int rc;

	policy_path(path, sizeof(path), kind, ns, name);
	rc = kube_update(c->kube, path, mutate_status, (void *)s, NULL, err, errlen);
	if (rc == -ENOENT)
		rc = 0; /* deleted meanwhile: nothing to report to */
	return rc;
}

/* ---- reconciling one policy --------------------------------------- */

static void ctl_report_invalid(struct controller *c, json_t *obj, const char *kind, const char *why)
{
	const char *name =
	    json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	const char *ns =
	    json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
	struct status_change s = {"Error", false, NULL, "Created", "False", "InvalidPolicy", why};
	char err[512], profile[600];

	if (!name)
		return;
	/* The CRD requires profileName even on an error: name it as a valid
	 * policy of that name would be named. */
	if (strcmp(kind, POLICY_KIND_CLUSTER) == 0)
		snprintf(profile, sizeof(profile), "varmor-cluster-%s-%s", c->install_ns, name);
	else
		snprintf(profile, sizeof(profile), "varmor-%s-%s", ns ? ns : "", name);
	for (char *q = profile; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	s.profile_name = profile;
	if (ctl_set_status(c, kind, ns ? ns : "", name, &s, err, sizeof(err)) < 0)
		log_warn("cannot report invalid policy %s/%s: %s", ns ? ns : "", name, err);
}

/* ---- updateExistingWorkloads ---------------------------------------- */

struct ctl_restart {
	struct controller *c;
	const struct policy *p;
	json_t *selector;
	const char *plural;
	char stamp[32];
	unsigned restarted;
};

static int ctl_restart_one(const char *type, json_t *obj, void *ctx)
{
	struct ctl_restart *r = ctx;
	json_t *meta = json_object_get(obj, "metadata");
	json_t *labels = json_object_get(meta, "labels");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *flag;
	char path[700], body[200], err[512];
	json_t *resp = NULL;
	long status;

	(void)type;
	if (!name || !ns)
		return 0;
	if (r->p->target_name[0] ? strcmp(name, r->p->target_name) != 0
				 : pod_match_selector(r->selector, labels, err, sizeof(err)) != 1)
		return 0;
	/* The workloads vArmor's webhook would see: those with the match label. */
	flag = json_string_value(json_object_get(labels, r->c->match_label));
	if (r->c->match_label[0] && (!flag || strcmp(flag, POD_MATCH_LABEL_VALUE) != 0))
		return 0;
	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/%s/%s", ns, r->plural, name);
	snprintf(body, sizeof(body),
		 "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{"
		 "\"armorsmith.io/restartedAt\":\"%s\"}}}}}",
		 r->stamp);
	if (kube_request(r->c->kube, "PATCH", path, body, &status, &resp, err, sizeof(err)) < 0)
		log_warn("policy %s: cannot restart %s: %s", r->p->key, path, err);
	else
		r->restarted++;
	json_decref(resp);
	return 0;
}

/* spec.updateExistingWorkloads: a rolling restart of the target workloads,
 * as `kubectl rollout restart` does, so the run sees them start. */
static void ctl_restart_workloads(struct controller *c, const struct policy *p)
{
	static const char *const kinds[][2] = {{"Deployment", "deployments"},
					       {"StatefulSet", "statefulsets"},
					       {"DaemonSet", "daemonsets"}};
	struct ctl_restart r = {c, p, NULL, NULL, "", 0};
	char collection[300], rv[64], err[512];

	if (!p->update_existing)
		return;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(*kinds); i++)
		if (!strcmp(p->target_kind, kinds[i][0]))
			r.plural = kinds[i][1];
	if (!r.plural)
		return; /* vArmor restarts no bare pods either */
	if (p->selector_json && !(r.selector = json_loads(p->selector_json, 0, NULL)))
		return;
	format_time(time_now_ns(), r.stamp, sizeof(r.stamp));
	if (p->target_namespace[0])
		snprintf(collection, sizeof(collection), "/apis/apps/v1/namespaces/%s/%s",
			 p->target_namespace, r.plural);
	else
		snprintf(collection, sizeof(collection), "/apis/apps/v1/%s", r.plural);
	if (kube_list(c->kube, collection, ctl_restart_one, &r, rv, sizeof(rv), err, sizeof(err)) <
	    0)
		log_warn("policy %s: cannot list %s to restart them: %s", p->key, collection, err);
	if (r.restarted)
		log_info("policy %s: restarted %u %s (updateExistingWorkloads)", p->key,
			 r.restarted, p->target_kind);
	json_decref(r.selector);
}

/* The Modeling condition's message: the same text from every path, so a
 * status written from an older event's view changes nothing. */
static void ctl_modeling_message(const struct policy_run *run, char *buf, size_t len)
{
	char until[32];

	format_time(run->deadline_ns, until, sizeof(until));
	snprintf(buf, len, "modeling generation %" PRIu64 " until %s", run->generation, until);
}

static void ctl_start_run(struct controller *c, struct policy *p, struct policy_run *run)
{
	struct status_change pending = {"Pending",
					false,
					p->profile_name,
					"Created",
					"True",
					"Accepted",
					"waiting for the modeling control to be published"};
	struct status_change modeling = {"Modeling", true, p->profile_name, "Created", "True",
					 "Modeling", NULL};
	struct policy_run next = {0};
	char err[512], until[32], msg[160];
	struct ctl_entry *e;
	int64_t now = time_now_ns();

	if (ctl_set_status(c, p->kind, p->namespace, p->name, &pending, err, sizeof(err)) < 0)
		log_warn("policy %s: %s", p->key, err);
	next.generation = run->generation + 1;
	next.start_ns = now;
	next.duration_s = p->duration_min * 60;
	next.deadline_ns = now + next.duration_s * NSEC_PER_SEC;
	snprintf(next.enforcer, sizeof(next.enforcer), "%s", p->enforcer);
	if (ctl_publish(c, p, &next, err, sizeof(err)) < 0) {
		log_error("policy %s: %s", p->key, err);
		return; /* stays Pending; the next event or re-list retries */
	}
	pthread_mutex_lock(&c->lock);
	e = ctl_find(c, p->key, true);
	if (e)
		e->run = next;
	pthread_mutex_unlock(&c->lock);
	c->runs_started++;
	format_time(next.deadline_ns, until, sizeof(until));
	ctl_modeling_message(&next, msg, sizeof(msg));
	modeling.message = msg;
	if (ctl_set_status(c, p->kind, p->namespace, p->name, &modeling, err, sizeof(err)) < 0)
		log_warn("policy %s: %s", p->key, err);
	ctl_restart_workloads(c, p);
	log_info("policy %s %s%s%s: modeling %s generation %" PRIu64 " until %s", p->kind,
		 p->namespace, *p->namespace ? "/" : "", p->name, p->key, next.generation, until);
}

static void ctl_move_deadline(struct controller *c, struct policy *p, struct policy_run *run,
			      int64_t deadline)
{
	struct status_change s = {"Modeling",	     true, p->profile_name, "Updated", "True",
				  "DurationChanged", NULL};
	struct policy_run next = *run;
	char err[512], until[32], msg[160];
	struct ctl_entry *e;

	next.deadline_ns = deadline;
	next.duration_s = p->duration_min * 60;
	if (ctl_publish(c, p, &next, err, sizeof(err)) < 0) {
		log_error("policy %s: %s", p->key, err);
		return;
	}
	pthread_mutex_lock(&c->lock);
	e = ctl_find(c, p->key, true);
	if (e)
		e->run = next;
	pthread_mutex_unlock(&c->lock);
	c->deadlines_moved++;
	format_time(deadline, until, sizeof(until));
	snprintf(msg, sizeof(msg), "duration %" PRId64 " min: modeling until %s", p->duration_min,
		 until);
	s.message = msg;
	if (ctl_set_status(c, p->kind, p->namespace, p->name, &s, err, sizeof(err)) < 0)
		log_warn("policy %s: %s", p->key, err);
	log_info("policy %s: deadline moved to %s", p->key, until);
}

/* vArmor's webhook refuses leaving BehaviorModeling while modeling; with
 * no webhook here the run goes on to its deadline and the status says so. */
static void ctl_refuse_mode_change(struct controller *c, const struct policy *p, int64_t now)
{
	struct status_change s = {"Modeling",  true, p->profile_name, "Updated", "False",
				  "Forbidden", NULL};
	struct ctl_entry *e;
	char msg[200], err[512];
	bool active = false;

	if (!p->key[0])
		return;
	pthread_mutex_lock(&c->lock);
	e = ctl_find(c, p->key, false);
	active = e && e->run.deadline_ns > now;
	pthread_mutex_unlock(&c->lock);
	if (!active)
		return;
	snprintf(msg, sizeof(msg),
		 "the mode cannot change while modeling (now %s): the modeling goes on until it "
		 "completes",
		 p->mode);
	s.message = msg;
	if (ctl_set_status(c, p->kind, p->namespace, p->name, &s, err, sizeof(err)) < 0)
		log_warn("policy %s: %s", p->key, err);
}

static void ctl_reconcile(struct controller *c, json_t *obj, const char *kind)
{
	struct policy p;
	struct policy_run run = {0};
	struct ctl_entry *e;
	char err[512];
	int64_t deadline = 0, now = time_now_ns();
	int rc;

	rc = policy_from_json(obj, c->install_ns, &p, err, sizeof(err));
	if (rc == 1) {
		ctl_refuse_mode_change(c, &p, now);
		return;
	}
	if (rc < 0) {
		c->invalid_policies++;
		log_warn("invalid %s: %s", kind, err);
		ctl_report_invalid(c, obj, kind, err);
		return;
	}
	pthread_mutex_lock(&c->lock);
	e = ctl_find(c, p.key, true);
	if (e) {
		run = e->run;
		e->has_owner = true;
		snprintf(e->kind, sizeof(e->kind), "%s", p.kind);
		snprintf(e->namespace, sizeof(e->namespace), "%s", p.namespace);
		snprintf(e->name, sizeof(e->name), "%s", p.name);
	}
	pthread_mutex_unlock(&c->lock);
	switch (policy_decide(&p, &run, now, &deadline, err, sizeof(err))) {
	case POLICY_START:
		ctl_start_run(c, &p, &run);
		break;
	case POLICY_MOVE_DEADLINE:
		ctl_move_deadline(c, &p, &run, deadline);
		break;
	case POLICY_REFUSE: {
		struct status_change s = {"Modeling",  true, p.profile_name, "Updated", "False",
					  "Forbidden", err};
		log_warn("policy %s: %s", p.key, err);
		if (ctl_set_status(c, p.kind, p.namespace, p.name, &s, err, sizeof(err)) < 0)
			log_warn("policy %s: %s", p.key, err);
		break;
	}
	case POLICY_KEEP:
		/* A run still going whose status was lost or never written. */
		if (run.deadline_ns > now && strcmp(p.status_phase, "Modeling") != 0) {
			char msg[160];
			struct status_change s = {
			    "Modeling", true, p.profile_name, "Created", "True", "Modeling", msg};

			ctl_modeling_message(&run, msg, sizeof(msg));
			if (ctl_set_status(c, p.kind, p.namespace, p.name, &s, err, sizeof(err)) <
			    0)
				log_warn("policy %s: %s", p.key, err);
		}
		break;
	}
	policy_free(&p);
}

static void ctl_forget(struct controller *c, json_t *obj, const char *kind)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *ns = json_string_value(json_object_get(meta, "namespace"));

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; name && i < c->n_entries; i++) {
		struct ctl_entry *e = &c->entries[i];
		if (e->has_owner && !strcmp(e->kind, kind) && !strcmp(e->name, name) &&
		    !strcmp(e->namespace, strcmp(kind, POLICY_KIND_CLUSTER) ? (ns ? ns : "") : ""))
			e->has_owner = false;
	}
	pthread_mutex_unlock(&c->lock);
}

static int ctl_on_event(const char *type, json_t *object, void *ctx)
{
	struct ctl_watch *w = ctx;

	/* List items of built-in types come without kind; do not rely on it. */
	if (json_is_object(object) && !json_is_string(json_object_get(object, "kind")))
		json_object_set_new(object, "kind", json_string(w->kind));
	if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED"))
		ctl_reconcile(w->c, object, w->kind);
	else if (!strcmp(type, "DELETED"))
		ctl_forget(w->c, object, w->kind);
	return atomic_load(&w->c->stop) ? 1 : 0;
}

static void *ctl_watch_thread(void *arg)
{
	struct ctl_watch *w = arg;
	struct controller *c = w->c;
	char rv[64] = "", err[512];
	int rc;

	while (!atomic_load(&c->stop)) {
		if (!rv[0]) {
			rc = kube_list(c->kube, w->collection, ctl_on_event, w, rv, sizeof(rv), err,
				       sizeof(err));
			if (rc < 0) {
				log_warn("cannot list %s: %s", w->collection, err);
				rv[0] = '\0';
				sleep(2);
				continue;
			}
			atomic_store(&w->synced, true);
		}
		rc = kube_watch(c->kube, w->collection, NULL, rv, sizeof(rv), WATCH_TIMEOUT_S,
				ctl_on_event, w, err, sizeof(err));
		if (rc == -ESTALE) {
			c->watch_restarts++;
			log_info("watch of %s expired (410 Gone): listing again", w->collection);
			rv[0] = '\0';
		} else if (rc < 0 && !atomic_load(&c->stop)) {
			c->watch_restarts++;
			log_warn("watch of %s failed: %s", w->collection, err);
			sleep(1);
		}
	}
	return NULL;
}

int controller_start(struct controller **out, struct kube_client *kube, rd_kafka_t *producer,
		     const char *brokers, const char *install_ns, const char *match_label,
		     char *err, size_t errlen)
{
	struct controller *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	c->kube = kube;
	c->producer = producer;
	snprintf(c->install_ns, sizeof(c->install_ns), "%s", install_ns);
	snprintf(c->match_label, sizeof(c->match_label), "%s", match_label ? match_label : "");
	pthread_mutex_init(&c->lock, NULL);
	rc = ctl_load_history(c, brokers, err, errlen);
	if (rc < 0)
		goto fail;
	log_info("controller: %zu policy runs known from %s", c->n_entries, TOPIC_CONTROL);
	c->watches[0].collection = API_PREFIX "/varmorpolicies";
	c->watches[0].kind = POLICY_KIND_NAMESPACED;
	c->watches[1].collection = API_PREFIX "/varmorclusterpolicies";
	c->watches[1].kind = POLICY_KIND_CLUSTER;
	for (int i = 0; i < 2; i++) {
		c->watches[i].c = c;
		rc = -pthread_create(&c->threads[i], NULL, ctl_watch_thread, &c->watches[i]);
		if (rc < 0) {
			snprintf(err, errlen, "cannot start the watch thread: %s", strerror(-rc));
			goto fail;
		}
		c->n_threads++;
	}
	*out = c;
	return 0;
fail:
	controller_stop(c);
	return rc;
}

/* ---- models and completion ---------------------------------------- */

static int mutate_model_status(json_t *obj, void *ctx)
{
	json_t *status = ctx;

	if (json_equal(json_object_get(obj, "status"), status))
		return 1;
	return json_object_set(obj, "status", status) ? -ENOMEM : 0;
}

int controller_write_model(struct controller *c, json_t *obj, bool *local_disk, char *err,
			   size_t errlen)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	json_t *status = json_object_get(obj, "status");
	json_t *copy = json_deep_copy(obj);
	char collection[300], path[600];
	int rc;

	*local_disk = false;
	if (!copy)
		return -ENOMEM;
	if (!ns || !name) {
		snprintf(err, errlen, "armorprofilemodel without namespace or name");
		rc = -EINVAL;
		goto out;
	}
	snprintf(collection, sizeof(collection), API_PREFIX "/namespaces/%s/armorprofilemodels",
		 ns);
	json_object_del(copy, "status"); /* ignored on create: the subresource owns it */
	rc = kube_create_or_replace(c->kube, collection, copy, NULL, err, errlen);
	if (rc == -E2BIG) {
		log_warn("armorprofilemodel %s/%s is too large for the API server: storing its "
			 "data on local disk",
			 ns, name);
		json_object_set_new(copy, "storageType", json_string("LocalDisk"));
		json_object_set_new(copy, "data", json_object());
		rc = kube_create_or_replace(c->kube, collection, copy, NULL, err, errlen);
		*local_disk = rc == 0;
	}
	if (rc < 0)
		goto out;
	if (json_is_object(status)) {
		snprintf(path, sizeof(path), "%s/%s/status", collection, name);
		rc = kube_update(c->kube, path, mutate_model_status, status, NULL, err, errlen);
	}
out:
	json_decref(copy);
	return rc;
}

int controller_run_owner(struct controller *c, const char *key)
{
	struct ctl_entry *e;
	int owner;

	pthread_mutex_lock(&c->lock);
	e = ctl_find(c, key, false);
	owner = !e ? CONTROLLER_LOCAL : e->has_owner ? CONTROLLER_OWNED : CONTROLLER_ORPHANED;
	pthread_mutex_unlock(&c->lock);
	if (owner == CONTROLLER_ORPHANED &&
	    (!atomic_load(&c->watches[0].synced) || !atomic_load(&c->watches[1].synced)))
		return -EAGAIN;
	return owner;
}

int controller_run_completed(struct controller *c, const char *key, uint64_t generation,
			     const char *message, char *err, size_t errlen)
{
	struct status_change s = {"Completed", true, NULL, "Ready", "True", "Completed", message};
	char kind[24], ns[64], name[254];
	struct ctl_entry *e;
	bool found = false;

	/* Until both lists are in, a policy not seen yet may still exist. */
	if (!atomic_load(&c->watches[0].synced) || !atomic_load(&c->watches[1].synced)) {
		snprintf(err, errlen, "policies not listed yet");
		return -EAGAIN;
	}
	pthread_mutex_lock(&c->lock);
	e = ctl_find(c, key, false);
	if (e && e->has_owner && e->run.generation == generation) {
		found = true;
		snprintf(kind, sizeof(kind), "%s", e->kind);
		snprintf(ns, sizeof(ns), "%s", e->namespace);
		snprintf(name, sizeof(name), "%s", e->name);
	}
	pthread_mutex_unlock(&c->lock);
	if (!found)
		return 0;
	return ctl_set_status(c, kind, ns, name, &s, err, errlen);
}

void controller_get_stats(struct controller *c, struct controller_stats *out)
{
	out->runs_started = c->runs_started;
	out->deadlines_moved = c->deadlines_moved;
	out->invalid_policies = c->invalid_policies;
	out->watch_restarts = c->watch_restarts;
}

void controller_stop(struct controller *c)
{
	if (!c)
		return;
	atomic_store(&c->stop, true);
	for (int i = 0; i < c->n_threads; i++)
		pthread_join(c->threads[i], NULL);
	pthread_mutex_destroy(&c->lock);
	free(c->entries);
	free(c);
}
