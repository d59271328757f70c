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
 * token exists; else $KUBECONFIG (its first file) or ~/.kube/config, current
 * context: server, CA (file or data), token or client certificate. */
int kube_client_new(struct kube_client **out, char *err, size_t errlen);
/* method GET/POST/PUT/PATCH/DELETE; body may be NULL. *status gets the HTTP
 * status; *out the decoded JSON response (NULL when it is not JSON). Returns
 * 0 for 2xx, -ENOENT for 404, -EEXIST for 409, -EIO otherwise, with err
 * naming the request. */
int kube_request(struct kube_client *c, const char *method, const char *path, const char *body,
		 long *status, json_t **out, char *err, size_t errlen);
void kube_client_free(struct kube_client *c);

/* The codes above, plus: -E2BIG when the server refused the object as too
 * large (HTTP 413, or "request is too large" / "Request entity too large"
 * from etcd), -ESTALE for 410 Gone, -EACCES for 401/403. */

/* Read-modify-write with optimistic concurrency: GETs path, calls mutate on
 * the object, PUTs it back (resourceVersion kept); on 409 GETs again and
 * retries, up to 8 times. mutate returns 0 to write, 1 to leave the object
 * as it is (no request), negative to abort with that code. For the status
 * subresource pass ".../NAME/status". *out (may be NULL) gets the result. */
typedef int (*kube_mutate_fn)(json_t *obj, void *ctx);
int kube_update(struct kube_client *c, const char *path, kube_mutate_fn mutate, void *ctx,
		json_t **out, char *err, size_t errlen);

/* Create obj in collection (e.g. /apis/G/V/namespaces/NS/KIND), or replace
 * the existing object of that name: PUT with its resourceVersion, retried
 * on 409. obj is not changed. */
int kube_create_or_replace(struct kube_client *c, const char *collection, json_t *obj,
			   json_t **out, char *err, size_t errlen);

/* One watch event: type is ADDED, MODIFIED, DELETED or BOOKMARK; object is
 * borrowed. Return 0 to go on, non-zero to end the watch early. */
typedef int (*kube_watch_fn)(const char *type, json_t *object, void *ctx);

/* Lists collection (following "continue"), calls fn with "ADDED" for each
 * item, and copies the list's resourceVersion to rv (rvlen bytes). */
int kube_list(struct kube_client *c, const char *collection, kube_watch_fn fn, void *ctx,
	      char *rv, size_t rvlen, char *err, size_t errlen);

/* Watches collection from resourceVersion rv with allowWatchBookmarks, for
 * at most timeout_s seconds (the server ends the stream then), calling fn
 * per event and keeping rv at the newest resourceVersion seen (bookmarks
 * included), so the next call resumes where this one stopped. Returns 0
 * when the stream ended or fn asked to stop; -ESTALE when rv is too old
 * (410 Gone, as a status or as an ERROR event): list again. query (may be
 * NULL or "") is appended, e.g. "fieldSelector=spec.nodeName%3Dn1". */
int kube_watch(struct kube_client *c, const char *collection, const char *query, char *rv,
	       size_t rvlen, int timeout_s, kube_watch_fn fn, void *ctx, char *err,
	       size_t errlen);

#endif
