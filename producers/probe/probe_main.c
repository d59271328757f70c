/* armorsmith-probe: the node probe. Reads modeling controls, tails the audit
 * log, attributes seccomp records to the runs this node takes part in,
 * publishes each distinct behavior once per run, and ends every run with a
 * NodeReport once the log has provably caught up with the deadline. */
#include "apparmor_behavior.h"
#include "audit_apparmor.h"
#include "audit_record.h"
#include "audit_seccomp.h"
#include "audit_sync.h"
#include "audit_tail.h"
#include "bpf_capture.h"
#include "bpf_event.h"
#include "cap_infer.h"
#include "config.h"
#include "httpd.h"
#include "kafka.h"
#include "kube.h"
#include "log.h"
#include "metrics.h"
#include "pod_discovery.h"
#include "probe_run.h"
#include "spool.h"
#include "timeutil.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <linux/audit.h>
#include <seccomp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long to wait for the sync marker before reporting anyway (with a note). */
#define PROBE_DRAIN_TIMEOUT_NS (15 * NSEC_PER_SEC)
/* Without a marker (kern.log, no audit netlink): a quiet log for this long. */
#define PROBE_QUIET_NS (1500 * NSEC_PER_MSEC)

static volatile sig_atomic_t probe_stop;

struct probe {
	struct armorsmith_config cfg;
	char *audit_path;
	bool from_start;
	rd_kafka_t *producer;
	struct spool *spool;
	uint64_t spool_max_bytes;
	int queue_limit;
	rd_kafka_t *control;
	struct bpf_capture *bpf;
	char bpf_error[256]; /* why BPF capture could not start, once tried */
	uint32_t next_bpf_run_id;
	struct audit_tail *tail;
	struct probe_runs runs;
	char instance[17];
	uint64_t seq;
	int64_t last_line_ns;
	uint64_t delivery_failures;
	uint64_t malformed;
	struct kube_client *kube;   /* kube.enabled: Kubernetes targets */
	struct pod_discovery *pods; /* finds their containers on this node */
};

static void on_signal(int sig)
{
	(void)sig;
	probe_stop = 1;
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: armorsmith-probe [OPTIONS]\n"
	    "\n"
	    "The node probe. Reads armorsmith.control.v1, joins the modeling runs whose targets\n"
	    "run on this node, tails the audit log for their seccomp records (type=1326, from\n"
	    "the SCMP_ACT_LOG modeling filter), resolves each syscall number with the record's\n"
	    "own arch= through libseccomp, and publishes every distinct behavior once per run to\n"
	    "armorsmith.behavior.v1 (key: the policy key). At a run's deadline it writes an\n"
	    "audit marker, reads the log up to it, and publishes a NodeReport.\n"
	    "\n"
	    "  --config FILE      YAML configuration (kafka.brokers, node.name, probe.audit_log,\n"
	    "                     probe.state_dir)\n"
	    "  --kafka BROKERS    Kafka bootstrap servers (env ARMORSMITH_KAFKA_BROKERS,\n"
	    "                     default %s)\n"
	    "  --node NAME        this node's name (env ARMORSMITH_NODE_NAME, default hostname)\n"
	    "  --audit-log FILE   the log to tail (env ARMORSMITH_AUDIT_LOG; default the first of\n"
	    "                     /var/log/audit/audit.log and /var/log/kern.log that exists)\n"
	    "  --state-dir DIR    where the read position is kept across restarts\n"
	    "                     (env ARMORSMITH_PROBE_STATE_DIR, default /var/lib/armorsmith)\n"
	    "  --from-start       read the log from its beginning instead of its end when\n"
	    "                     there is no saved position\n"
	    "  --kube             Kubernetes mode (kube.enabled, env ARMORSMITH_KUBE=true):\n"
	    "                     runs that target a Deployment, StatefulSet, DaemonSet or Pod\n"
	    "                     capture the matching containers of this node's pods (listed\n"
	    "                     with spec.nodeName = --node), found by their cgroups\n"
	    "  --match-label KEY  the label a target workload must carry with value \"true\"\n"
	    "                     (kube.match_label, env ARMORSMITH_MATCH_LABEL, default\n"
	    "                     " CONFIG_DEFAULT_MATCH_LABEL "; empty: no label check)\n"
	    "  --metrics-addr H:P serve /healthz and /metrics over HTTP on HOST:PORT\n"
	    "                     (http.metrics_addr, env ARMORSMITH_METRICS_ADDR; default off)\n"
	    "  -h, --help         this text\n",
	    CONFIG_DEFAULT_BROKERS);
}

static void delivery_report(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	(void)rk;
	if (msg->err) {
		struct probe *p = opaque;
		p->delivery_failures++;
		log_error("delivery to %s failed: %s", rd_kafka_topic_name(msg->rkt),
			  rd_kafka_err2str(msg->err));
	}
}

static struct metric *m_events, *m_reports;

static int publish_record(struct probe *p, const char *key, Armorsmith__V1__BehaviorRecord *rec,
			  const char *type)
{
	size_t len = armorsmith__v1__behavior_record__get_packed_size(rec);
	uint8_t *buf = malloc(len ? len : 1);
	int rc;

	if (!buf)
		return -ENOMEM;
	armorsmith__v1__behavior_record__pack(rec, buf);
	rc = spool_publish(p->spool, p->producer, TOPIC_BEHAVIOR, key, buf, len, type);
	free(buf);
	if (rc == 0)
		metric_inc(strcmp(type, "armorsmith.v1.NodeReport") == 0 ? m_reports : m_events);
	return rc;
}

static int publish_report(struct probe *p, struct probe_run *r,
			  Armorsmith__V1__NodeReport__Phase phase, const char *message)
{
	Armorsmith__V1__BehaviorRecord rec = ARMORSMITH__V1__BEHAVIOR_RECORD__INIT;
	Armorsmith__V1__NodeReport rep = ARMORSMITH__V1__NODE_REPORT__INIT;
	char id[128];
	uint64_t lost = 0;

	snprintf(id, sizeof(id), "%s/%s/r%" PRIu64, p->cfg.node_name, p->instance, ++p->seq);
	rep.policy_key = r->policy_key;
	rep.generation = r->generation;
	rep.node = p->cfg.node_name;
	rep.phase = phase;
	rep.events_published = r->events_published;
	rep.records_seen = r->records_seen;
	if (r->lost_known && audit_sync_lost_counter(&lost) == 0 && lost > r->lost_at_join)
		rep.audit_lost = lost - r->lost_at_join;
	rep.message = (char *)(message ? message : "");
	rep.time_unix_nano = time_now_ns();
	rep.report_id = id;
	rec.record_case = ARMORSMITH__V1__BEHAVIOR_RECORD__RECORD_REPORT;
	rec.report = &rep;
	return publish_record(p, r->policy_key, &rec, "armorsmith.v1.NodeReport");
}

static int publish_syscall(struct probe *p, struct probe_run *r, const struct seccomp_event *ev)
{
	Armorsmith__V1__BehaviorRecord rec = ARMORSMITH__V1__BEHAVIOR_RECORD__INIT;
	Armorsmith__V1__BehaviorEvent e = ARMORSMITH__V1__BEHAVIOR_EVENT__INIT;
	Armorsmith__V1__SyscallBehavior s = ARMORSMITH__V1__SYSCALL_BEHAVIOR__INIT;
	char id[128];
	int rc;

	snprintf(id, sizeof(id), "%s/%s/%" PRIu64, p->cfg.node_name, p->instance, ++p->seq);
	s.name = (char *)ev->syscall_name;
	s.arch = (char *)ev->arch_name;
	s.number = ev->syscall_nr;
	e.policy_key = r->policy_key;
	e.generation = r->generation;
	e.node = p->cfg.node_name;
	e.pid = ev->pid;
	e.time_unix_nano = ev->sec * NSEC_PER_SEC + (int64_t)ev->msec * NSEC_PER_MSEC;
	e.source = ARMORSMITH__V1__SOURCE__SOURCE_SECCOMP_AUDIT;
	e.comm = (char *)ev->comm;
	e.event_id = id;
	e.behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_SYSCALL;
	e.syscall = &s;
	rec.record_case = ARMORSMITH__V1__BEHAVIOR_RECORD__RECORD_EVENT;
	rec.event = &e;
	rc = publish_record(p, r->policy_key, &rec, "armorsmith.v1.BehaviorEvent");
	if (rc == 0)
		r->events_published++;
	return rc;
}

/* Publishes one behavior of a run, filling the envelope fields. */
static int publish_event(struct probe *p, struct probe_run *r, Armorsmith__V1__BehaviorEvent *e,
			 Armorsmith__V1__Source source)
{
	Armorsmith__V1__BehaviorRecord rec = ARMORSMITH__V1__BEHAVIOR_RECORD__INIT;
	char id[128];
	int rc;

	snprintf(id, sizeof(id), "%s/%s/%" PRIu64, p->cfg.node_name, p->instance, ++p->seq);
	e->policy_key = r->policy_key;
	e->generation = r->generation;
	e->node = p->cfg.node_name;
	e->source = source;
	e->event_id = id;
	if (!e->time_unix_nano)
		e->time_unix_nano = time_now_ns();
	rec.record_case = ARMORSMITH__V1__BEHAVIOR_RECORD__RECORD_EVENT;
	rec.event = e;
	rc = publish_record(p, r->policy_key, &rec, "armorsmith.v1.BehaviorEvent");
	if (rc == 0)
		r->events_published++;
	else
		r->publish_failures++;
	return rc;
}

static struct probe_run *run_by_bpf_id(struct probe *p, uint32_t id)
{
	for (size_t i = 0; i < p->runs.len; i++)
		if (p->runs.items[i].bpf_attached && p->runs.items[i].bpf_run_id == id)
			return &p->runs.items[i];
	return NULL;
}

/* Without the cap_capable tracepoint: a capability the behavior implies
 * (cap_infer.h), under the same dedup key as a reported one. */
static void probe_infer_capability(struct probe *p, struct probe_run *r, const char *cap)
{
	Armorsmith__V1__BehaviorEvent e = ARMORSMITH__V1__BEHAVIOR_EVENT__INIT;
	Armorsmith__V1__CapabilityBehavior c = ARMORSMITH__V1__CAPABILITY_BEHAVIOR__INIT;
	char key[64];

	if (!cap || !p->bpf || bpf_capture_has_capabilities(p->bpf))
		return;
	snprintf(key, sizeof(key), "cap\t%s", cap);
	if (strset_add(&r->seen, key) != 1)
		return;
	c.name = (char *)cap;
	e.behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_CAPABILITY;
	e.capability = &c;
	publish_event(p, r, &e, ARMORSMITH__V1__SOURCE__SOURCE_BPF);
}

static void probe_bpf_behavior(const struct bpf_behavior *b, void *ctx)
{
	struct probe *p = ctx;
	struct probe_run *r = run_by_bpf_id(p, b->run_id);
	Armorsmith__V1__BehaviorEvent e = ARMORSMITH__V1__BEHAVIOR_EVENT__INIT;
	struct bpf_event_holder h;
	char key[9000];

	if (!r || r->state == PROBE_RUN_DONE)
		return;
	r->records_seen++;
	if (bpf_event_fill(b, &e, &h, key, sizeof(key)) < 0)
		return;
	/* The kernel dedups per run already; this catches what its LRU forgot. */
	if (strset_add(&r->seen, key) != 1)
		return;
	e.pid = b->pid;
	e.cgroup_id = b->cgroup_id;
	e.mnt_ns = b->mnt_ns;
	e.comm = (char *)b->comm;
	publish_event(p, r, &e, ARMORSMITH__V1__SOURCE__SOURCE_BPF);
	if (b->kind == BPF_B_NETWORK)
		probe_infer_capability(
		    p, r, cap_infer_network(b->family, b->sock_type, b->operation, b->port));
	else if (b->kind == BPF_B_MOUNT)
		probe_infer_capability(p, r, "sys_admin");
}

struct syscall_drain {
	struct probe *p;
	struct probe_run *r;
	uint32_t arch;
	const char *arch_name;
};

static void probe_bpf_syscall(int nr, void *ctx)
{
	struct syscall_drain *d = ctx;
	Armorsmith__V1__BehaviorEvent e = ARMORSMITH__V1__BEHAVIOR_EVENT__INIT;
	Armorsmith__V1__SyscallBehavior s = ARMORSMITH__V1__SYSCALL_BEHAVIOR__INIT;
	char *name = seccomp_syscall_resolve_num_arch(d->arch, nr);
	char key[96];

	if (!name) {
		/* Never invent a name: the run is reported incomplete instead. */
		d->r->unresolved++;
		return;
	}
	snprintf(key, sizeof(key), "syscall:%s", name);
	if (strset_add(&d->r->seen, key) == 1) {
		s.name = name;
		s.arch = (char *)d->arch_name;
		s.number = nr;
		e.behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_SYSCALL;
		e.syscall = &s;
		publish_event(d->p, d->r, &e, ARMORSMITH__V1__SOURCE__SOURCE_BPF);
	}
	probe_infer_capability(d->p, d->r, cap_infer_syscall(name));
	free(name);
}

/* At the deadline: everything still in the ring buffer, then the run's
 * syscall bitmaps, then the run leaves the BPF maps. */
static void probe_bpf_drain(struct probe *p, struct probe_run *r)
{
	struct syscall_drain d = {p, r, SCMP_ARCH_X86_64, "x86_64"};

	if (!r->bpf_attached)
		return;
	for (int i = 0; i < 100 && bpf_capture_poll(p->bpf, 10, probe_bpf_behavior, p) > 0; i++)
		;
	bpf_capture_syscalls(p->bpf, r->bpf_run_id, AUDIT_ARCH_X86_64, probe_bpf_syscall, &d);
	d.arch = SCMP_ARCH_X86;
	d.arch_name = "x86";
	bpf_capture_syscalls(p->bpf, r->bpf_run_id, AUDIT_ARCH_I386, probe_bpf_syscall, &d);
	bpf_capture_remove_run(p->bpf, r->bpf_run_id);
	r->bpf_attached = false;
}

/* Loads the BPF programs the first time a run asks for them; adds
 * cgroup_id to the run (a pod's containers are one cgroup each). */
static int probe_bpf_attach(struct probe *p, struct probe_run *r, uint64_t cgroup_id)
{
	int rc;

	if (!p->bpf && !p->bpf_error[0]) {
		rc = bpf_capture_open(&p->bpf, p->bpf_error, sizeof(p->bpf_error));
		if (rc < 0) {
			if (!p->bpf_error[0])
				snprintf(p->bpf_error, sizeof(p->bpf_error), "%s", strerror(-rc));
			log_error("bpf capture unavailable: %s", p->bpf_error);
		} else {
			log_info("bpf capture loaded (capabilities from %s)",
				 bpf_capture_has_capabilities(p->bpf)
				     ? "the capability:cap_capable tracepoint"
				     : "syscalls and network behavior: no cap_capable tracepoint");
		}
	}
	if (!p->bpf)
		return -ENOTSUP;
	if (!cgroup_id) {
		snprintf(p->bpf_error, sizeof(p->bpf_error),
			 "run has no cgroup id to attribute by");
		return -EINVAL;
	}
	if (!r->bpf_attached)
		r->bpf_run_id = ++p->next_bpf_run_id;
	rc = bpf_capture_add_run(p->bpf, r->bpf_run_id, cgroup_id);
	if (rc < 0)
		return rc;
	r->bpf_attached = true;
	return 0;
}

static void probe_handle_seccomp(struct probe *p, const char *line, size_t len)
{
	struct seccomp_event ev;
	struct probe_run *r;
	char key[96], err[256];
	int rc;

	rc = audit_parse_seccomp_line(line, len, &ev, err, sizeof(err));
	if (rc < 0 && rc != -ENOENT) {
		/* Malformed input never stops the probe; say so, a few times. */
		if (p->malformed++ < 10)
			log_warn("skipping malformed seccomp record: %s", err);
		return;
	}
	r = probe_runs_attribute(&p->runs, ev.pid, ev.ses,
				 ev.sec * NSEC_PER_SEC + (int64_t)ev.msec * NSEC_PER_MSEC);
	if (!r)
		return;
	r->records_seen++;
	if (rc == -ENOENT) {
		/* Never invent a name: the run is reported incomplete instead. */
		if (!r->unresolved++)
			log_warn("run %s: syscall %d of arch 0x%x has no name in libseccomp",
				 r->policy_key, ev.syscall_nr, ev.arch);
		return;
	}
	snprintf(key, sizeof(key), "syscall:%s", ev.syscall_name);
	if (strset_add(&r->seen, key) != 1)
		return;
	if (publish_syscall(p, r, &ev) < 0)
		r->publish_failures++;
}

/* An AppArmor record belongs to every active run whose profile it names. */
static void probe_handle_apparmor(struct probe *p, const char *line, size_t len)
{
	struct apparmor_event ev;
	char err[256];
	int rc = audit_parse_apparmor_line(line, len, &ev, err, sizeof(err));

	if (rc == -ENOMSG || rc == -ENOMEM)
		return;
	for (size_t i = 0; rc == 0 && i < p->runs.len; i++) {
		struct probe_run *r = &p->runs.items[i];
		Armorsmith__V1__BehaviorEvent e = ARMORSMITH__V1__BEHAVIOR_EVENT__INIT;
		struct bpf_event_holder h;
		struct apparmor_scratch s;
		char key[9000];
		int64_t at = ev.sec * NSEC_PER_SEC + (int64_t)ev.msec * NSEC_PER_MSEC;

		if (!r->src_apparmor_audit ||
		    (r->state != PROBE_RUN_ACTIVE && r->state != PROBE_RUN_DRAINING) ||
		    at > r->deadline_ns)
			continue;
		if (apparmor_behavior_fill(&ev, r->profile_name, &e, &h, &s, key, sizeof(key)) < 0)
			continue;
		r->records_seen++;
		if (strset_add(&r->seen, key) != 1)
			continue;
		e.pid = (uint32_t)ev.pid;
		e.comm = (char *)(ev.comm ? ev.comm : "");
		e.time_unix_nano = at;
		publish_event(p, r, &e, ARMORSMITH__V1__SOURCE__SOURCE_APPARMOR_AUDIT);
	}
	apparmor_event_free(&ev);
}

static void probe_handle_line(struct probe *p, const char *line, size_t len)
{
	p->last_line_ns = time_now_ns();
	/* The sync marker is ours: compare the raw line, it is not key=value. */
	for (size_t i = 0; i < p->runs.len; i++) {
		struct probe_run *r = &p->runs.items[i];
		if (r->state == PROBE_RUN_DRAINING && r->marker_sent && !r->marker_seen &&
		    memmem(line, len, r->marker, strlen(r->marker))) {
			r->marker_seen = true;
			log_debug("run %s: audit log caught up", r->policy_key);
		}
	}
	if (memmem(line, len, "type=SECCOMP", 12) || memmem(line, len, "type=1326", 9))
		probe_handle_seccomp(p, line, len);
	else if (memmem(line, len, "apparmor=", 9))
		probe_handle_apparmor(p, line, len);
}

static void probe_join(struct probe *p, struct probe_run *r)
{
	uint64_t lost;

	if (r->src_bpf && probe_bpf_attach(p, r, r->cgroup_id) < 0) {
		char msg[400];
		snprintf(msg, sizeof(msg), "bpf capture unavailable on this node: %s",
			 p->bpf_error[0] ? p->bpf_error : "unknown error");
		publish_report(p, r, ARMORSMITH__V1__NODE_REPORT__PHASE__PHASE_JOINED, NULL);
		if (publish_report(p, r, ARMORSMITH__V1__NODE_REPORT__PHASE__PHASE_FAILED, msg) ==
		    0)
			r->state = PROBE_RUN_DONE;
		log_error("run %s: %s", r->policy_key, msg);
		return;
	}

	if (audit_sync_lost_counter(&lost) == 0) {
		r->lost_at_join = lost;
		r->lost_known = true;
	}
	if (publish_report(p, r, ARMORSMITH__V1__NODE_REPORT__PHASE__PHASE_JOINED, NULL) == 0) {
		r->state = PROBE_RUN_ACTIVE;
		log_info("joined run %s generation %" PRIu64 " (audit session %u)", r->policy_key,
			 r->generation, r->audit_session);
	}
}

static void probe_finish(struct probe *p, struct probe_run *r, const char *why)
{
	char msg[512] = "";
	uint64_t lost = 0;

	probe_bpf_drain(p, r);
	if (why)
		snprintf(msg, sizeof(msg), "%s", why);
	if (r->lost_known && audit_sync_lost_counter(&lost) == 0 && lost > r->lost_at_join)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
			 "%sthe kernel lost %" PRIu64
			 " audit records during the run; behavior may be missing",
			 *msg ? "; " : "", lost - r->lost_at_join);
	{
		struct spool_stats ss;
		spool_get_stats(p->spool, &ss);
		if (ss.dropped)
			snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
				 "%s%" PRIu64
				 " records did not fit in the full spool and were lost",
				 *msg ? "; " : "", ss.dropped);
	}
	if (r->publish_failures || p->delivery_failures)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
			 "%s%" PRIu64 " behaviors could not be published", *msg ? "; " : "",
			 r->publish_failures + p->delivery_failures);
	if (r->unresolved)
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
			 "%s%" PRIu64 " records had syscall numbers unknown to libseccomp",
			 *msg ? "; " : "", r->unresolved);
	if (publish_report(p, r, ARMORSMITH__V1__NODE_REPORT__PHASE__PHASE_COMPLETED, msg) < 0)
		return;
	rd_kafka_flush(p->producer, 10000);
	r->state = PROBE_RUN_DONE;
	log_info("run %s generation %" PRIu64 " reported: %" PRIu64 " records, %" PRIu64
		 " distinct behaviors%s%s",
		 r->policy_key, r->generation, r->records_seen, r->events_published,
		 *msg ? "; " : "", msg);
}

/* Containers pod discovery found for a Kubernetes run since the last tick:
 * the first one joins the run, every one is captured from then on. */
static void probe_take_containers(struct probe *p, struct probe_run *r)
{
	struct pod_found *found = NULL;
	size_t n = 0;

	if (!p->pods || pod_discovery_take(p->pods, r->policy_key, r->generation, &found, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct pod_found *f = &found[i];

		if (r->state == PROBE_RUN_JOINING) {
			r->cgroup_id = f->cgroup_id;
			free(r->cgroup_path);
			r->cgroup_path = strdup(f->cgroup);
			probe_join(p, r);
			if (r->state != PROBE_RUN_ACTIVE)
				break;
		} else if (r->state == PROBE_RUN_ACTIVE) {
			if (r->src_bpf && probe_bpf_attach(p, r, f->cgroup_id) < 0) {
				r->publish_failures++;
				log_error("run %s: cannot capture container %s of pod %s: %s",
					  r->policy_key, f->container, f->pod, p->bpf_error);
				continue;
			}
		} else {
			break;
		}
		r->containers++;
		log_info("run %s: capturing container %s of pod %s (cgroup %s)", r->policy_key,
			 f->container, f->pod, f->cgroup);
	}
	free(found);
}

/* Advances each run's state machine: join, notice the deadline, drain, report. */
static void probe_tick(struct probe *p)
{
	int64_t now = time_now_ns();

	for (size_t i = 0; i < p->runs.len; i++) {
		struct probe_run *r = &p->runs.items[i];

		switch (r->state) {
		case PROBE_RUN_JOINING:
			/* Re-reading the compacted control topic shows runs that ended
			 * before this probe started: there is nothing to join. */
			if (r->deadline_ns <= now) {
				r->state = PROBE_RUN_DONE;
				break;
			}
			/* A pod's run is joined once one of its containers is here. */
			if (r->k8s)
				probe_take_containers(p, r);
			else
				probe_join(p, r);
			break;
		case PROBE_RUN_ACTIVE:
			if (r->k8s)
				probe_take_containers(p, r);
			if (now < r->deadline_ns)
				break;
			r->state = PROBE_RUN_DRAINING;
			r->drain_started_ns = now;
			snprintf(r->marker, sizeof(r->marker), AUDIT_SYNC_PREFIX "%s/%s/%" PRIu64,
				 p->instance, r->policy_key, r->generation);
			r->marker_sent =
			    !p->from_start &&
			    audit_sync_send_marker(r->marker + strlen(AUDIT_SYNC_PREFIX)) == 0;
			log_info("run %s: deadline reached, draining the audit log", r->policy_key);
			break;
		case PROBE_RUN_DRAINING: {
			int64_t draining = now - r->drain_started_ns;
			bool timed_out = draining >= PROBE_DRAIN_TIMEOUT_NS;

			if (r->marker_sent && !r->marker_seen && !timed_out)
				break;
			/* No marker possible (kern.log, a recorded log): wait for a quiet log. */
			if ((r->src_seccomp_audit || r->src_apparmor_audit) && !r->marker_sent &&
			    now - p->last_line_ns < PROBE_QUIET_NS && !timed_out)
				break;
			probe_finish(p, r,
				     r->marker_sent && !r->marker_seen
					 ? "the audit log did not show the sync marker in time"
					 : NULL);
			break;
		}
		case PROBE_RUN_DONE:
			if (r->discovering) {
				pod_discovery_remove_run(p->pods, r->policy_key);
				r->discovering = false;
			}
			break;
		}
	}
}

/* Hands a Kubernetes run's target to pod discovery (again for a moved
 * deadline: that changes nothing there). */
static void probe_discover(struct probe *p, struct probe_run *r,
			   const Armorsmith__V1__ModelingControl *c)
{
	char err[512];

	if (!r || !r->k8s || !p->pods || r->state == PROBE_RUN_DONE)
		return;
	if (pod_discovery_add_run(p->pods, r->policy_key, r->generation, c->target, c->enforcer,
				  err, sizeof(err)) < 0) {
		log_error("run %s: cannot look for its pods: %s", r->policy_key, err);
		return;
	}
	if (!r->discovering)
		log_info("run %s generation %" PRIu64 ": looking for %s targets on node %s",
			 r->policy_key, r->generation, c->target->kind, p->cfg.node_name);
	r->discovering = true;
}

static void probe_poll_control(struct probe *p)
{
	rd_kafka_message_t *msg;

	while ((msg = rd_kafka_consumer_poll(p->control, 0))) {
		Armorsmith__V1__ModelingControl *c;

		if (msg->err || !msg->payload) {
			rd_kafka_message_destroy(msg);
			continue;
		}
		c = armorsmith__v1__modeling_control__unpack(NULL, msg->len, msg->payload);
		if (!c) {
			log_warn("undecodable control record at offset %" PRId64 ", ignored",
				 msg->offset);
		} else {
			struct probe_run *r = probe_runs_apply(&p->runs, c, p->cfg.node_name,
							       p->pods != NULL, time_now_ns());
			probe_discover(p, r, c);
			armorsmith__v1__modeling_control__free_unpacked(c, NULL);
		}
		rd_kafka_message_destroy(msg);
	}
}

static int probe_setup_control(struct probe *p, char *err, size_t errlen)
{
	rd_kafka_topic_partition_list_t *parts;
	int n;

	p->control = kafka_consumer_new(p->cfg.kafka_brokers, NULL, NULL, NULL, err, errlen);
	if (!p->control)
		return -EINVAL;
	n = kafka_partition_count(p->control, TOPIC_CONTROL, 10000);
	if (n <= 0) {
		snprintf(err, errlen, "cannot read partitions of %s at %s", TOPIC_CONTROL,
			 p->cfg.kafka_brokers);
		return -EHOSTUNREACH;
	}
	/* The compacted topic is the state: read all of it on every start. */
	parts = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(parts, TOPIC_CONTROL, i)->offset =
		    RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(p->control, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	return 0;
}

static const char *probe_find_audit_log(const char *configured)
{
	static const char *const candidates[] = {"/var/log/audit/audit.log", "/var/log/kern.log"};

	if (configured)
		return configured;
	for (size_t i = 0; i < 2; i++)
		if (access(candidates[i], R_OK) == 0)
			return candidates[i];
	return candidates[0];
}

static bool audit_run_active(const struct probe *p)
{
	for (size_t i = 0; i < p->runs.len; i++) {
		const struct probe_run *r = &p->runs.items[i];
		if ((r->src_seccomp_audit || r->src_apparmor_audit) &&
		    (r->state == PROBE_RUN_ACTIVE || r->state == PROBE_RUN_DRAINING))
			return true;
	}
	return false;
}

/* Mirrors the cumulative spool and BPF figures into /metrics; /healthz
 * fails while records wait in the spool (Kafka is not taking them). */
static void probe_metrics_sync(struct probe *p)
{
	struct spool_stats ss;
	struct bpf_capture_stats bs;

	spool_get_stats(p->spool, &ss);
	metric_set(metrics_counter("armorsmith_probe_spooled_total", NULL,
				   "Records written to the spool while Kafka was not taking them."),
		   (int64_t)ss.spooled);
	metric_set(metrics_counter("armorsmith_probe_spool_dropped_total", NULL,
				   "Records lost because the spool was full."),
		   (int64_t)ss.dropped);
	metric_set(
	    metrics_gauge("armorsmith_probe_spool_bytes", NULL, "Bytes waiting in the spool."),
	    (int64_t)ss.bytes);
	metric_set(metrics_counter("armorsmith_probe_delivery_failures_total", NULL,
				   "Records Kafka reported as not delivered."),
		   (int64_t)p->delivery_failures);
	if (p->bpf && bpf_capture_stats(p->bpf, &bs) == 0) {
		metric_set(metrics_counter("armorsmith_probe_bpf_events_total", NULL,
					   "Behaviors the BPF programs sent."),
			   (int64_t)bs.events);
		metric_set(metrics_counter("armorsmith_probe_bpf_dedup_hits_total", NULL,
					   "Occurrences the kernel suppressed as already seen."),
			   (int64_t)bs.dedup_hits);
		metric_set(metrics_counter("armorsmith_probe_bpf_ringbuf_drops_total", NULL,
					   "First occurrences the ring buffer had no room for."),
			   (int64_t)bs.ringbuf_drops);
		metric_set(metrics_counter("armorsmith_probe_bpf_dropped_paths_total", NULL,
					   "Paths dropped as truncated or unreachable."),
			   (int64_t)bs.dropped_paths);
	}
	if (ss.bytes)
		metrics_health_problem(
		    "kafka is not taking messages: %" PRIu64 " bytes wait in the spool", ss.bytes);
	else
		metrics_health_ok();
}

static int probe_loop(struct probe *p)
{
	int64_t last_save = time_now_ns();

	while (!probe_stop) {
		char *line;
		size_t len;
		int lines = 0, rc = 0;

		metrics_health_tick();
		probe_poll_control(p);
		/* A recorded log is read once a run can attribute its records. */
		while (lines < 10000 && (!p->from_start || audit_run_active(p)) &&
		       (rc = audit_tail_next_line(p->tail, &line, &len)) == 1) {
			probe_handle_line(p, line, len);
			lines++;
		}
		if (rc < 0 && rc != -EAGAIN)
			log_warn("reading %s: %s", p->audit_path, strerror(-rc));
		if (p->bpf && bpf_capture_poll(p->bpf, 0, probe_bpf_behavior, p) > 0)
			lines++;
		probe_tick(p);
		spool_drain(p->spool, p->producer);
		rd_kafka_poll(p->producer, 0);
		if (time_now_ns() - last_save > NSEC_PER_SEC) {
			audit_tail_save(p->tail);
			probe_metrics_sync(p);
			last_save = time_now_ns();
		}
		if (!lines)
			usleep(20000);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"kafka", required_argument, NULL, 'k'},
	    {"node", required_argument, NULL, 'n'},
	    {"audit-log", required_argument, NULL, 'a'},
	    {"state-dir", required_argument, NULL, 's'},
	    {"from-start", no_argument, NULL, 'f'},
	    {"kube", no_argument, NULL, 'K'},
	    {"match-label", required_argument, NULL, 'L'},
	    {"metrics-addr", required_argument, NULL, 'M'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct probe p = {0};
	const char *config = NULL, *kafka = NULL, *node = NULL, *audit = NULL, *state = NULL;
	const char *label = NULL;
	bool kube = false;
	char err[512], state_file[4096];
	const char *maddr = NULL;
	struct httpd *metrics = NULL;
	uint64_t rnd = 0;
	int c, rc = 1;

	log_init("armorsmith-probe");
	if (config_init_defaults(&p.cfg) < 0)
		return 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'k':
			kafka = optarg;
			break;
		case 'n':
			node = optarg;
			break;
		case 'a':
			audit = optarg;
			break;
		case 's':
			state = optarg;
			break;
		case 'f':
			p.from_start = true;
			break;
		case 'K':
			kube = true;
			break;
		case 'L':
			label = optarg;
			break;
		case 'M':
			maddr = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (config_load_sources(&p.cfg, config, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if ((kafka && config_set(&p.cfg.kafka_brokers, kafka)) ||
	    (node && config_set(&p.cfg.node_name, node)) ||
	    (audit && config_set(&p.cfg.audit_log, audit)) ||
	    (state && config_set(&p.cfg.state_dir, state)) ||
	    (kube && config_set(&p.cfg.kube_enabled, "true")) ||
	    (label && config_set(&p.cfg.match_label, label)))
		goto out;
	if (maddr && config_set(&p.cfg.metrics_addr, maddr))
		goto out;
	metrics_init("probe", 60);
	m_events = metrics_counter("armorsmith_probe_events_published_total", NULL,
				   "Distinct behaviors published (or spooled) for Kafka.");
	m_reports = metrics_counter("armorsmith_probe_reports_published_total", NULL,
				    "NodeReports published (or spooled) for Kafka.");
	if (p.cfg.metrics_addr && *p.cfg.metrics_addr &&
	    metrics_serve(p.cfg.metrics_addr, &metrics, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint64_t)time_now_ns() ^ (uint64_t)getpid();
	snprintf(p.instance, sizeof(p.instance), "%016" PRIx64, rnd);

	p.audit_path = strdup(probe_find_audit_log(p.cfg.audit_log));
	if (mkdir(p.cfg.state_dir, 0700) < 0 && errno != EEXIST) {
		log_error("cannot create state dir %s: %s", p.cfg.state_dir, strerror(errno));
		goto out;
	}
	snprintf(state_file, sizeof(state_file), "%s/audit-position", p.cfg.state_dir);
	rc = audit_tail_open(p.audit_path, state_file, p.from_start, &p.tail, err, sizeof(err));
	if (rc < 0) {
		log_error("cannot open audit log %s: %s", p.audit_path, err);
		rc = 1;
		goto out;
	}
	rc = 1;
	if (!p.spool_max_bytes)
		p.spool_max_bytes = 256ULL << 20;
	if (p.queue_limit < 2)
		p.queue_limit = 10000;
	if (spool_open(p.cfg.state_dir, p.spool_max_bytes, p.queue_limit, &p.spool, err,
		       sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	p.producer = kafka_producer_new(p.cfg.kafka_brokers, delivery_report, &p, err, sizeof(err));
	if (!p.producer) {
		log_error("cannot create kafka producer: %s", err);
		goto out;
	}
	if (kafka_check_topic(p.producer, p.cfg.kafka_brokers, TOPIC_BEHAVIOR, 10000, err,
			      sizeof(err)) < 0 ||
	    probe_setup_control(&p, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	if (config_kube_enabled(&p.cfg)) {
		/* Before the discovery thread: curl's global set-up is not thread-safe. */
		curl_global_init(CURL_GLOBAL_DEFAULT);
		if (kube_client_new(&p.kube, err, sizeof(err)) < 0 ||
		    pod_discovery_start(&p.pods, p.kube, p.cfg.node_name, p.cfg.match_label, NULL,
					err, sizeof(err)) < 0) {
			log_error("kubernetes: %s", err);
			goto out;
		}
		log_info("looking for target pods on node %s (match label '%s')", p.cfg.node_name,
			 p.cfg.match_label);
	}
	log_info("node %s tailing %s, publishing to %s", p.cfg.node_name, p.audit_path,
		 p.cfg.kafka_brokers);
	probe_loop(&p);
	rc = 0;
out:
	if (p.tail) {
		audit_tail_save(p.tail);
		audit_tail_close(p.tail);
	}
	if (p.control) {
		rd_kafka_consumer_close(p.control);
		rd_kafka_destroy(p.control);
	}
	if (p.producer) {
		if (rd_kafka_flush(p.producer, 10000))
			log_error("%d messages not delivered at exit",
				  rd_kafka_outq_len(p.producer));
		rd_kafka_destroy(p.producer);
	}
	httpd_stop(metrics);
	spool_close(p.spool);
	pod_discovery_stop(p.pods);
	kube_client_free(p.kube);
	bpf_capture_close(p.bpf);
	probe_runs_free(&p.runs);
	free(p.audit_path);
	config_free(&p.cfg);
	return rc;
}
