/* Decoding and validation of consumed messages: what the merger accepts into
 * the store and what it sends to the dead-letter topic, with the reason. */
#ifndef ARMORSMITH_MERGER_H
#define ARMORSMITH_MERGER_H

#include "armorsmith/v1/armorsmith.pb-c.h"

#include <stddef.h>

enum merger_kind { MERGER_EVENT, MERGER_REPORT, MERGER_CONTROL, MERGER_TOMBSTONE };

struct merger_decoded {
	enum merger_kind kind;
	Armorsmith__V1__BehaviorRecord *record; /* owns event/report */
	Armorsmith__V1__ModelingControl *control;
};

/* Decodes a message of topic into out. Returns 0, or -EINVAL with reason
 * filled (the message then belongs on the dead-letter topic). */
int merger_decode(const char *topic, const void *key, size_t key_len, const void *value, size_t len,
		  struct merger_decoded *out, char *reason, size_t reason_len);
void merger_decoded_free(struct merger_decoded *d);

#endif
