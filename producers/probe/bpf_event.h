/* Turns what the BPF programs report into BehaviorEvent messages, with the
 * key under which a run deduplicates them. */
#ifndef ARMORSMITH_BPF_EVENT_H
#define ARMORSMITH_BPF_EVENT_H

#include "armorsmith/v1/armorsmith.pb-c.h"
#include "bpf_capture.h"

#include <stddef.h>

/* Storage for the behavior message an event points to. */
struct bpf_event_holder {
	Armorsmith__V1__ExecBehavior exec;
	Armorsmith__V1__FileBehavior file;
	Armorsmith__V1__NetworkBehavior network;
	Armorsmith__V1__CapabilityBehavior capability;
	Armorsmith__V1__PtraceBehavior ptrace;
	Armorsmith__V1__SignalBehavior signal;
	Armorsmith__V1__MountBehavior mount;
};

/* Fills the behavior part of ev (pointing into b and h) and writes the dedup
 * key. -EINVAL for a kind we do not know or an empty path. */
int bpf_event_fill(const struct bpf_behavior *b, Armorsmith__V1__BehaviorEvent *ev,
		   struct bpf_event_holder *h, char *key, size_t keylen);

#endif
