/* Merging imported behavior data into an ArmorProfileModel's data, with
 * vArmor's import semantics and a deterministic (sorted) result. */
#ifndef ARMORSMITH_APM_MERGE_H
#define ARMORSMITH_APM_MERGE_H

#include <jansson.h>

/*
 * Merges from (an ArmorProfileModel's "data") into into, in place:
 *
 *   dynamicResult   the union of both, recursively. Lists of strings or
 *                   numbers: set union, sorted. Lists of objects: entries
 *                   with the same identity are merged into one, where the
 *                   identity is the entry without its list members and
 *                   without owner/oldPath (files by path, signals and
 *                   ptraces by peer, mounts by path and type, egresses by
 *                   ip, sockets by all fields); their list members are
 *                   unioned, owner is AND-ed (written only when true, as
 *                   the builder does), oldPath is the first non-empty one.
 *                   Entries are sorted by identity. A scalar present in
 *                   both takes from's value.
 *   profile         replaced by from's when from has one.
 *   staticResult    from's when into has none.
 *
 * Lists already in into are normalised the same way, so merging a model
 * with itself gives its normal form. 0, -EINVAL (either is not an object)
 * or -ENOMEM.
 */
int apm_merge_data(json_t *into, json_t *from);

#endif
