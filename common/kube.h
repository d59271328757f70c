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

#endif
