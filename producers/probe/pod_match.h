/* Which containers of a pod a Kubernetes modeling run captures: vArmor's
 * target matching (its mutating webhook and its agent), as pure logic on
 * the JSON objects the API server returns. No I/O: the caller fetches.
 *
 * The rules, each as vArmor applies them (internal/webhooks/mutation.go,
 * internal/policy/validate.go, pkg/runtime/monitor.go):
 *
 * Target kinds are Deployment, StatefulSet, DaemonSet and Pod (case as
 * written). ReplicaSet is not one: a pod of a bare ReplicaSet matches only a
 * kind Pod target.
 *
 * The workload a target is compared with:
 *   - kind Pod: the pod itself, whatever owns it (vArmor's pod webhook sees
 *     every pod, including those of Deployments);
 *   - kind Deployment: the Deployment that is the controller (ownerReference
 *     with controller: true) of the ReplicaSet that is the pod's controller;
 *   - kind StatefulSet / DaemonSet: the pod's controller.
 *   Owners count only in API group "apps" (an OpenKruise apps.kruise.io
 *   StatefulSet is not a StatefulSet target); a Deployment, StatefulSet or
 *   DaemonSet is the top of the chain even when something else owns it.
 *
 * The decision, in this order (the first that fails is the verdict):
 *   namespace  equal to the pod's unless the target's is "" (cluster policy);
 *   kind       the workload's, as above;
 *   name       when the target names one: equal to the workload's name;
 *   selector   otherwise: against the WORKLOAD's metadata.labels (for a
 *              Deployment its own labels, not the pod template's);
 *   label      the match label (default sandbox.varmor.org/enable=true) on
 *              the same workload object's metadata.labels: the Deployment's,
 *              StatefulSet's, DaemonSet's, and for kind Pod the pod's own,
 *              as the webhook's objectSelector sees them. Empty key: no check.
 *
 * Containers of a matching pod: spec.containers only (never initContainers,
 * including restartable "sidecar" ones, nor ephemeralContainers: the CRD
 * and the webhook leave them out), restricted to target.containers when that
 * list is non-empty. The per-container opt-outs are read from the POD's
 * metadata.annotations and spec (the pod is what runs; for workloads it was
 * created from the template vArmor reads). For each enforcer of the run:
 *   AppArmor is off for container C when
 *     container.apparmor.security.beta.varmor.org/C: unconfined, or
 *     container.apparmor.security.beta.kubernetes.io/C: unconfined, or
 *     securityContext.appArmorProfile.type Unconfined (container or pod);
 *   Seccomp is off when
 *     container.seccomp.security.beta.varmor.org/C: unconfined, or the
 *     container is privileged, or seccompProfile.type Unconfined
 *     (container or pod);
 *   BPF is off when container.bpf.security.beta.varmor.org/C: unconfined.
 * A container is captured unless EVERY enforcer of the run is off for it.
 * That is the safe rule (a profile built without a container's behavior
 * could break it once enforced) and it is vArmor's own: its agent models a
 * container whenever any one of its profile annotations was set. So under
 * AppArmorSeccomp the seed's c0 (both unconfined) contributes nothing, and
 * a container with only AppArmor unconfined is still captured. The
 * annotations win over target.containers: listing c0 does not bring it back.
 *
 * Container ids come from status.containerStatuses[].containerID of a
 * container whose state is running: "containerd://", "docker://" or
 * "cri-o://" followed by 64 lowercase hex digits. A selected container that
 * is not running yet has none: it is counted in n_waiting and the caller
 * evaluates the pod again on its next update.
 */
#ifndef ARMORSMITH_POD_MATCH_H
#define ARMORSMITH_POD_MATCH_H

#include <jansson.h>
#include <stddef.h>

#define POD_MATCH_LABEL_KEY "sandbox.varmor.org/enable"
#define POD_MATCH_LABEL_VALUE "true"

/* Label selector (metav1.LabelSelector JSON) against a labels object (may
 * be NULL: no labels). Kubernetes semantics: a NULL or JSON null selector
 * matches nothing, {} (or empty matchLabels/matchExpressions) everything;
 * requirements are ANDed; NotIn and DoesNotExist hold when the key is
 * absent. Returns 1 match, 0 no match, -EINVAL for a malformed selector
 * (not an object, unknown field, non-string label, unknown operator -- they
 * are case-sensitive --, In/NotIn without values, Exists/DoesNotExist with
 * values, a key or value that is not a valid label key or value), with err
 * saying what. */
int pod_match_selector(const json_t *selector, const json_t *labels, char *err, size_t errlen);

/* A run's target as the control message carries it. Strings are borrowed
 * and may be NULL (= ""). containers/n_containers take a protobuf-c
 * repeated string as is. */
struct pod_match_spec {
	const char *kind;
	const char *name;
	const char *selector_json; /* NULL, "" or "null": no selector */
	const char *const *containers;
	size_t n_containers;
	const char *namespace;	 /* "" = every namespace */
	const char *enforcer;	 /* e.g. "AppArmorSeccomp", "BPF" (case-insensitive parts) */
	const char *label_key;	 /* the match label; NULL or "" = no check */
	const char *label_value; /* NULL or "" = "true" */
};

struct pod_match_target;

/* Checks and copies spec. -EINVAL (err says why) for a kind that is not a
 * target kind, both or neither of name and selector (vArmor rejects such
 * policies), a malformed selector, or an enforcer without AppArmor, BPF
 * or Seccomp, or with NetworkProxy (not supported by BehaviorModeling). */
int pod_match_target_new(const struct pod_match_spec *spec, struct pod_match_target **out,
			 char *err, size_t errlen);
void pod_match_target_free(struct pod_match_target *t);

/* An object named by an ownerReference (or the pod itself). */
struct pod_match_ref {
	char api_version[64]; /* "v1" for a pod, "apps/v1", ... */
	char kind[64];
	char namespace[64];
	char name[254];
	char uid[64];
};

/* The owner chain, one fetch at a time. owners[0..n_owners) are the objects
 * fetched so far, in the order asked (the pod's controller first). Returns
 * 1 with *next set: GET that object (apps/v1, next->namespace, next->name)
 * and call again with it appended. Returns 0 when nothing more is needed
 * for this target: then call pod_match_pod(). Only fetches that can lead
 * to the target's kind are asked for (none for kind Pod or a pod of
 * another namespace, none for a StatefulSet pod under a Deployment
 * target). -ESTALE when an owner passed
 * in is not the one its child names (same name, other uid: it was
 * recreated and the pod is being garbage-collected): drop the pod, as when
 * the GET returns 404. -EINVAL for a pod without metadata.name/namespace. */
int pod_match_owner_next(const struct pod_match_target *t, const json_t *pod,
			 const json_t *const *owners, size_t n_owners, struct pod_match_ref *next,
			 char *err, size_t errlen);

/* The workload the pod belongs to, whatever the target: the pod itself when
 * it has no controller; else up the chain above (ReplicaSet -> Deployment,
 * a ReplicaSet without a Deployment controller is itself the workload;
 * StatefulSet; DaemonSet; any other controller of the pod, e.g. a Job or
 * the Node of a static pod, by its ownerReference). *obj (may be NULL) gets the object
 * when it was fetched (or is the pod), NULL otherwise. Returns 0 when the
 * answer is final, 1 when it stops at a ReplicaSet/StatefulSet/DaemonSet/
 * Deployment that was not passed in (fetch it to go further), -ESTALE /
 * -EINVAL as pod_match_owner_next(). */
int pod_match_workload(const json_t *pod, const json_t *const *owners, size_t n_owners,
		       struct pod_match_ref *wl, const json_t **obj, char *err, size_t errlen);

enum pod_match_verdict {
	POD_MATCH_YES = 0,
	POD_MATCH_NO_NAMESPACE,
	POD_MATCH_NO_KIND,
	POD_MATCH_NO_NAME,
	POD_MATCH_NO_SELECTOR,
	POD_MATCH_NO_LABEL,
};
const char *pod_match_verdict_str(enum pod_match_verdict v);

struct pod_match_container {
	char namespace[64];
	char pod_name[254];
	char pod_uid[64];
	char name[64];
	char id[65];	     /* 64 lowercase hex digits */
	const char *runtime; /* "containerd", "docker" or "cri-o" (static) */
};

struct pod_match_result {
	enum pod_match_verdict verdict;
	struct pod_match_ref workload;		/* what the target was compared with */
	struct pod_match_container *containers; /* to capture, in spec order */
	size_t n_containers;
	size_t n_waiting;    /* selected but not running (no id yet): retry later */
	size_t n_terminated; /* selected but exited */
	size_t n_unconfined; /* left out: every enforcer of the run is off for them */
	size_t n_bad_id;     /* running with an unknown runtime prefix or a bad id */
};

/* The decision for one pod, with owners as pod_match_owner_next() asked for
 * them. Returns 0 with *res filled (free it with pod_match_result_free();
 * containers only when verdict is POD_MATCH_YES), -EAGAIN when an owner it
 * needs is missing (call pod_match_owner_next() first), -ESTALE, -EINVAL
 * for a malformed pod, -ENOMEM. */
int pod_match_pod(const struct pod_match_target *t, const json_t *pod, const json_t *const *owners,
		  size_t n_owners, struct pod_match_result *res, char *err, size_t errlen);
void pod_match_result_free(struct pod_match_result *res);

/* "containerd://<64 hex>" (or docker://, cri-o://) -> id and runtime name.
 * -EINVAL for an unknown prefix or an id that is not 64 lowercase hex. */
int pod_match_container_id(const char *status_id, char id[65], const char **runtime);

#endif
