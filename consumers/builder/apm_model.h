/* The ArmorProfileModel object (crd.varmor.org/v1beta1) that carries a
 * modeling run's behavior data and generated profiles, and its JSON and YAML
 * files. Field names and shapes follow the CRD in shared/contracts/crds
 * exactly: a field the schema lacks would be pruned by the API server. */
#ifndef ARMORSMITH_APM_MODEL_H
#define ARMORSMITH_APM_MODEL_H

#include <jansson.h>

#include "behavior.h"

/*
 * Builds the object into *out (a new reference). Call
 * behavior_model_normalize() first: lists are written in model order.
 *
 *   apiVersion, kind, metadata {name: m->profile_name, namespace: m->namespace
 *   when set}, storageType: "CRDInternal" (the sink switches it to LocalDisk),
 *   data.dynamicResult.seccomp.syscalls       every observed syscall
 *   data.dynamicResult.apparmor               profiles [name] (vArmor's
 *       generator requires exactly one), executions, files [{path,
 *       permissions: one letter each, sorted, owner, oldPath}], capabilities,
 *       unhandled: one "mount: operation=... path=... source=... fstype=...
 *       flags=..." string per m->mounts entry (the CRD has no AppArmor mount
 *       field). networks, ptraces and signals are not written yet.
 *   data.profile {name, enforcer: m->enforcer, mode: "enforce", content:
 *       apparmor_text, seccompContent: seccomp_json} (each text only when
 *       non-NULL)
 *   status {desiredNumber, completedNumber, ready: a profile was given,
 *       conditions: per m->failed_nodes entry "node: message" a
 *       {type: "Ready", status: "False", nodeName, message} as vArmor writes}
 *
 * Empty optional parts are left out, never null. Strings that are not valid
 * UTF-8 get U+FFFD for each bad byte (as Go's encoding/json does).
 * Returns 0, -EINVAL (name not a DNS-1123 subdomain, namespace not a
 * DNS-1123 label, no enforcer, node counts above INT32_MAX), or -ENOMEM.
 */
int apm_model_build(const struct behavior_model *m, const char *apparmor_text,
		    const char *seccomp_json, json_t **out);

/* Pretty JSON (2-space indent, keys in build order, trailing newline), written
 * to a temporary file beside path and renamed over it. 0 or negative errno. */
int apm_model_write_json(json_t *obj, const char *path);

/* The same object as YAML through libyaml's emitter: strings that a YAML
 * resolver would read as another type are quoted, multi-line strings are
 * literal blocks (double-quoted where a block cannot hold them), so loading
 * the YAML gives back exactly the JSON object. Written like the JSON. */
int apm_model_write_yaml(json_t *obj, const char *path);

#endif
