/* One batch in flight: a thread that runs the merge of batch k while the
 * caller reads batch k+1 from Kafka, so decoding and PostgreSQL's work
 * overlap instead of taking turns. */
#ifndef ARMORSMITH_MERGE_WORKER_H
#define ARMORSMITH_MERGE_WORKER_H

#include <stdbool.h>

/* Merges one job; returns 0 or a negative errno (the worker then stops
 * taking jobs and reports it). Runs on the worker's thread. */
typedef int (*merge_worker_fn)(void *arg, void *job);

struct merge_worker;

int merge_worker_start(merge_worker_fn fn, void *arg, struct merge_worker **out);
/* Waits until the previous job is done, then hands job over. Returns the
 * previous job's result: on an error, job is not taken. */
int merge_worker_submit(struct merge_worker *w, void *job);
/* Waits until no job is in flight; returns the last result. */
int merge_worker_wait(struct merge_worker *w);
/* Whether a job is in flight. */
bool merge_worker_busy(struct merge_worker *w);
/* Waits for the job in flight and ends the thread. */
void merge_worker_stop(struct merge_worker *w);

#endif
