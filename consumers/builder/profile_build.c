#include "profile_build.h"
#include "apm_model.h"
#include "log.h"
#include "profile_apparmor.h"
#include "profile_seccomp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int profile_build_run(const struct behavior_model *m, struct profile_build *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = profile_seccomp_generate(m, &out->seccomp);
	if (rc == -ENODATA) {
		/* Nothing beyond the always-allowed six was seen: like vArmor, no
		 * seccomp profile rather than one that would break the workload. */
		log_warn("%s/%s: no syscalls observed, no seccomp profile", m->namespace,
			 m->profile_name);
		out->seccomp = NULL;
		rc = 0;
	}
	if (rc == 0)
		rc = profile_apparmor_generate(m, &out->apparmor);
	if (rc == 0)
		rc = apm_model_build(m, out->apparmor, out->seccomp, &out->model);
	if (rc < 0)
		profile_build_free(out);
	return rc;
}

void profile_build_free(struct profile_build *b)
{
	free(b->apparmor);
	free(b->seccomp);
	json_decref(b->model);
	memset(b, 0, sizeof(*b));
}
