/* Talking to the kernel's audit subsystem over netlink: a marker record that
 * proves the log has caught up, and the counter of records the kernel lost. */
#ifndef ARMORSMITH_AUDIT_SYNC_H
#define ARMORSMITH_AUDIT_SYNC_H

#include <stddef.h>
#include <stdint.h>

#define AUDIT_SYNC_PREFIX "armorsmith-sync "

/* Sends a user message "armorsmith-sync TOKEN". The kernel queues it behind
 * every record already generated, so once the tailer reads it back, all
 * earlier records of the target are in the log. */
int audit_sync_send_marker(const char *token);
/* The kernel's audit lost counter (records dropped under backlog pressure). */
int audit_sync_lost_counter(uint64_t *lost);

#endif
