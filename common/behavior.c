#include "behavior.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

int strlist_add(struct strlist *l, const char *s)
{
	if (l->len == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		char **n = realloc(l->items, ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		l->items = n;
		l->cap = ncap;
	}
	l->items[l->len] = dup_or_empty(s);
	if (!l->items[l->len])
		return -ENOMEM;
	l->len++;
	return 0;
}

bool strlist_contains(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->len; i++)
		if (strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void strlist_sort_unique(struct strlist *l)
{
	size_t out = 0;

	if (!l->len)
		return;
	qsort(l->items, l->len, sizeof(char *), cmp_str);
	for (size_t i = 0; i < l->len; i++) {
		if (out && strcmp(l->items[out - 1], l->items[i]) == 0) {
			free(l->items[i]);
			continue;
		}
		l->items[out++] = l->items[i];
	}
	l->len = out;
}

void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->len; i++)
		free(l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

/* Grows an array of fixed-size elements by one and returns the new slot. */
static void *grow_one(void **arr, size_t *n, size_t elem)
{
	char *p = realloc(*arr, (*n + 1) * elem);
	if (!p)
		return NULL;
	*arr = p;
	memset(p + *n * elem, 0, elem);
	return p + (*n)++ * elem;
}

int behavior_model_add_file(struct behavior_model *m, const char *path, const char *perms,
			    bool owner, const char *old_path)
{
	struct file_rule *f = grow_one((void **)&m->files, &m->n_files, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->path = dup_or_empty(path);
	f->perms = dup_or_empty(perms);
	f->owner = owner;
	f->old_path = old_path && *old_path ? strdup(old_path) : NULL;
	return f->path && f->perms ? 0 : -ENOMEM;
}

int behavior_model_add_network(struct behavior_model *m, const char *family, const char *sock_type,
			       const char *protocol, const char *address, uint32_t port)
{
	struct network_rule *n = grow_one((void **)&m->networks, &m->n_networks, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->family = dup_or_empty(family);
	n->sock_type = dup_or_empty(sock_type);
	n->protocol = dup_or_empty(protocol);
	n->address = dup_or_empty(address);
	n->port = port;
	return n->family && n->sock_type && n->protocol && n->address ? 0 : -ENOMEM;
}

static int add_peer(struct peer_rule **arr, size_t *n, const char *peer, const char *perms,
		    const char *signal)
{
	struct peer_rule *p = grow_one((void **)arr, n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->peer = dup_or_empty(peer);
	p->perms = dup_or_empty(perms);
	p->signal = signal ? strdup(signal) : NULL;
	return p->peer && p->perms ? 0 : -ENOMEM;
}

int behavior_model_add_ptrace(struct behavior_model *m, const char *peer, const char *perms)
{
	return add_peer(&m->ptraces, &m->n_ptraces, peer, perms, NULL);
}

int behavior_model_add_signal(struct behavior_model *m, const char *peer, const char *signal,
			      const char *perms)
{
	return add_peer(&m->signals, &m->n_signals, peer, perms, signal ? signal : "");
}

int behavior_model_add_mount(struct behavior_model *m, const char *operation, const char *path,
			     const char *source, const char *fstype, const char *flags)
{
	struct mount_rule *r = grow_one((void **)&m->mounts, &m->n_mounts, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->operation = dup_or_empty(operation);
	r->path = dup_or_empty(path);
	r->source = dup_or_empty(source);
	r->fstype = dup_or_empty(fstype);
	r->flags = dup_or_empty(flags);
	return r->operation && r->path && r->source && r->fstype && r->flags ? 0 : -ENOMEM;
}

static int cmp_file(const void *a, const void *b)
{
	const struct file_rule *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	if (c)
		return c;
	c = strcmp(x->perms, y->perms);
	if (c)
		return c;
	return (int)x->owner - (int)y->owner;
}

static int cmp_network(const void *a, const void *b)
{
	const struct network_rule *x = a, *y = b;
	int c;
	if ((c = strcmp(x->family, y->family)) || (c = strcmp(x->sock_type, y->sock_type)) ||
	    (c = strcmp(x->protocol, y->protocol)) || (c = strcmp(x->address, y->address)))
		return c;
	return x->port < y->port ? -1 : x->port > y->port;
}

static int cmp_peer(const void *a, const void *b)
{
	const struct peer_rule *x = a, *y = b;
	int c;
	if ((c = strcmp(x->peer, y->peer)) || (c = strcmp(x->perms, y->perms)))
		return c;
	return strcmp(x->signal ? x->signal : "", y->signal ? y->signal : "");
}

static int cmp_mount(const void *a, const void *b)
{
	const struct mount_rule *x = a, *y = b;
	int c;
	if ((c = strcmp(x->operation, y->operation)) || (c = strcmp(x->path, y->path)) ||
	    (c = strcmp(x->source, y->source)) || (c = strcmp(x->fstype, y->fstype)))
		return c;
	return strcmp(x->flags, y->flags);
}

void behavior_model_normalize(struct behavior_model *m)
{
	strlist_sort_unique(&m->syscalls);
	strlist_sort_unique(&m->execs);
	strlist_sort_unique(&m->capabilities);
	strlist_sort_unique(&m->failed_nodes);
	if (m->n_files)
		qsort(m->files, m->n_files, sizeof(*m->files), cmp_file);
	if (m->n_networks)
		qsort(m->networks, m->n_networks, sizeof(*m->networks), cmp_network);
	if (m->n_ptraces)
		qsort(m->ptraces, m->n_ptraces, sizeof(*m->ptraces), cmp_peer);
	if (m->n_signals)
		qsort(m->signals, m->n_signals, sizeof(*m->signals), cmp_peer);
	if (m->n_mounts)
		qsort(m->mounts, m->n_mounts, sizeof(*m->mounts), cmp_mount);
}

static void free_peers(struct peer_rule *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].peer);
		free(p[i].perms);
		free(p[i].signal);
	}
	free(p);
}

void behavior_model_free(struct behavior_model *m)
{
	free(m->profile_name);
	free(m->namespace);
	free(m->enforcer);
	strlist_free(&m->syscalls);
	strlist_free(&m->execs);
	strlist_free(&m->capabilities);
	strlist_free(&m->failed_nodes);
	for (size_t i = 0; i < m->n_files; i++) {
		free(m->files[i].path);
		free(m->files[i].perms);
		free(m->files[i].old_path);
	}
	free(m->files);
	for (size_t i = 0; i < m->n_networks; i++) {
		free(m->networks[i].family);
		free(m->networks[i].sock_type);
		free(m->networks[i].protocol);
		free(m->networks[i].address);
	}
	free(m->networks);
	free_peers(m->ptraces, m->n_ptraces);
	free_peers(m->signals, m->n_signals);
	for (size_t i = 0; i < m->n_mounts; i++) {
		free(m->mounts[i].operation);
		free(m->mounts[i].path);
		free(m->mounts[i].source);
		free(m->mounts[i].fstype);
		free(m->mounts[i].flags);
	}
	free(m->mounts);
	memset(m, 0, sizeof(*m));
}
