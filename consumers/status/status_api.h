/* The status API's request handling: export (GET) and import (POST) of
 * ArmorProfileModel objects at vArmor's path
 * /apis/crd.varmor.org/v1beta1/namespaces/{ns}/armorprofilemodels/{name},
 * with data kept on local disk (SINK_DIR/{ns}/{name}.json) when the API
 * server refuses an object as too large. Callers authenticate with a bearer
 * token, checked by a TokenReview and a SubjectAccessReview. */
#ifndef ARMORSMITH_STATUS_API_H
#define ARMORSMITH_STATUS_API_H

#include "httpd.h"
#include "kube.h"

struct status_api;

struct status_api_options {
	struct kube_client *kube; /* borrowed; used from several threads */
	const char *sink_dir;
	unsigned review_ttl_s; /* how long an allowed review is reused; 0: 10 s */
};

int status_api_new(const struct status_api_options *opt, struct status_api **out);
/* An httpd_handler_fn; ctx is the struct status_api. */
void status_api_handle(const struct httpd_request *req, struct httpd_response *resp, void *ctx);
void status_api_free(struct status_api *a);

#endif
