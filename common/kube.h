/* A small Kubernetes API client: configuration from the pod's service
 * account (in-cluster) or a kubeconfig file, and JSON requests over HTTPS
 * with libcurl. Errors name the request and the HTTP status with the
 * server's own message. */
#ifndef ARMORSMITH_KUBE_H
#define ARMORSMITH_KUBE_H

#include <jansson.h>
#include <stddef.h>

struct kube_client;

/* In-cluster when KUBERNETES_SERVICE_HOST is set and the service-account
 * token exists (in $ARMORSMITH_KUBE_SA_DIR, default
 * /var/run/secrets/kubernetes.io/serviceaccount; the token is re-read on
 * every request because it rotates); else $KUBECONFIG (its first file) or
 * ~/.kube/config, current context: server, CA (file or data), token or
 * client certificate. A client may be used by several threads at once;
 * each request has its own connection. */
int kube_client_new(struct kube_client **out, char *err, size_t errlen);
/* method GET/POST/PUT/PATCH/DELETE; body may be NULL. *status (status may
 * be NULL) gets the HTTP status; *out the decoded JSON response, also for
 * errors (a Status; NULL when it is not JSON). Returns 0 for 2xx, -ENOENT
 * for 404, -EEXIST for 409 (AlreadyExists and Conflict), the codes below,
 * -EIO otherwise, with err naming method, path, HTTP status and the
 * server's message (err is left alone on success). */
int kube_request(struct kube_client *c, const char *method, const char *path, const char *body,
		 long *status, json_t **out, char *err, size_t errlen);
void kube_client_free(struct kube_client *c);
/* Ends the client's requests in flight within about a second, and every
 * later one at once, with -EINTR: for shutdown, so that a long kube_watch
 * need not run to its timeout. Async-signal-safe. */
void kube_client_interrupt(struct kube_client *c);

/* The codes above, plus: -E2BIG when the server refused the object as too
 * large (HTTP 413 "Request entity too large" for bodies over 3 MiB, or a 500
 * whose message is etcd's "request is too large" (over 1.5 MiB) or the API
 * server's gRPC "message larger than max" (over 2 MiB)), -ESTALE for 410
 * Gone, -EACCES for 401/403 (or an unreadable in-cluster token), -EINTR
 * after kube_client_interrupt. */

/* Read-modify-write with optimistic concurrency: GETs path, calls mutate on
 * the object, PUTs it back (with the resourceVersion it was read at, even
 * if mutate changed it); on 409 GETs again and retries, up to 8 times (9
 * attempts), then returns -EEXIST. mutate returns 0 to write, 1 to leave
 * the object as it is (no request), negative to abort with that code. For
 * the status subresource pass ".../NAME/status". *out (may be NULL) gets
 * the result. */
typedef int (*kube_mutate_fn)(json_t *obj, void *ctx);
int kube_update(struct kube_client *c, const char *path, kube_mutate_fn mutate, void *ctx,
		json_t **out, char *err, size_t errlen);

/* Create obj in collection (e.g. /apis/G/V/namespaces/NS/KIND, may end in a
 * query such as ?fieldValidation=Strict), or replace the existing object of
 * that name (metadata.name is required): PUT with its resourceVersion,
 * retried on 409 up to 8 times. A PUT does not write the status
 * subresource (use kube_update on .../status). obj is not changed. */
int kube_create_or_replace(struct kube_client *c, const char *collection, json_t *obj, json_t **out,
			   char *err, size_t errlen);

/* One watch event: type is ADDED, MODIFIED, DELETED or BOOKMARK; object is
 * borrowed. Return 0 to go on, non-zero to end the watch early. */
typedef int (*kube_watch_fn)(const char *type, json_t *object, void *ctx);

/* Lists collection in pages of 500 (following "continue"), calls fn with
 * "ADDED" for each item, and copies the list's resourceVersion to rv (rvlen
 * bytes; -ERANGE if it does not fit). collection may carry a query, e.g.
 * "?labelSelector=a%3Db" or "?limit=N" for another page size. fn returning
 * non-zero ends the listing; kube_list then returns 0. -ESTALE: the
 * continue token expired (compaction): list again. */
int kube_list(struct kube_client *c, const char *collection, kube_watch_fn fn, void *ctx, char *rv,
	      size_t rvlen, char *err, size_t errlen);

/* Watches collection from resourceVersion rv (from kube_list; "" means
 * "now", with the existing objects first as ADDED) with allowWatchBookmarks,
 * for at most timeout_s (> 0) seconds (the server ends the stream then),
 * calling fn per event and keeping rv at the newest resourceVersion seen
 * (bookmarks included; rv is updated before fn sees the event), so the next
 * call resumes where this one stopped. Returns 0 when the stream ended or
 * fn asked to stop; -ESTALE when rv is too old (410 Gone, as a status or as
 * an ERROR event): list again; -EINTR after kube_client_interrupt; -EIO
 * when the connection failed (a silent peer is noticed by TCP keepalive
 * within about 2 min; the transfer never outlives timeout_s + 30 s). query
 * (may be NULL or "") is appended, e.g. "fieldSelector=spec.nodeName%3Dn1". */
int kube_watch(struct kube_client *c, const char *collection, const char *query, char *rv,
	       size_t rvlen, int timeout_s, kube_watch_fn fn, void *ctx, char *err, size_t errlen);

#endif
