#include "merge_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct merge_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	merge_worker_fn fn;
	void *arg;
	void *job; /* handed over, not yet done */
	bool quit;
	int result;
};

static void *merge_worker_main(void *p)
{
	struct merge_worker *w = p;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		void *job;
		int rc;

		while (!w->job && !w->quit)
			pthread_cond_wait(&w->changed, &w->lock);
		if (!w->job)
			break;
		job = w->job;
		pthread_mutex_unlock(&w->lock);
		rc = w->fn(w->arg, job);
		pthread_mutex_lock(&w->lock);
		w->job = NULL;
		if (rc < 0)
			w->result = rc;
		pthread_cond_broadcast(&w->changed);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int merge_worker_start(merge_worker_fn fn, void *arg, struct merge_worker **out)
{
	struct merge_worker *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->arg = arg;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->changed, NULL);
	rc = pthread_create(&w->thread, NULL, merge_worker_main, w);
	if (rc) {
		pthread_cond_destroy(&w->changed);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return -rc;
	}
	*out = w;
	return 0;
}

static int wait_idle_locked(struct merge_worker *w)
{
	while (w->job)
		pthread_cond_wait(&w->changed, &w->lock);
	return w->result;
}

int merge_worker_submit(struct merge_worker *w, void *job)
{
	int rc;

	pthread_mutex_lock(&w->lock);
	rc = wait_idle_locked(w);
	if (rc == 0) {
		w->job = job;
		pthread_cond_broadcast(&w->changed);
	}
	pthread_mutex_unlock(&w->lock);
	return rc;
}

bool merge_worker_busy(struct merge_worker *w)
{
	bool busy;

	pthread_mutex_lock(&w->lock);
	busy = w->job != NULL;
	pthread_mutex_unlock(&w->lock);
	return busy;
}

int merge_worker_wait(struct merge_worker *w)
{
	int rc;

	pthread_mutex_lock(&w->lock);
	rc = wait_idle_locked(w);
	pthread_mutex_unlock(&w->lock);
	return rc;
}

void merge_worker_stop(struct merge_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	wait_idle_locked(w);
	w->quit = true;
	pthread_cond_broadcast(&w->changed);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->changed);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
