/* The merged behavior of one modeling run, as the builder reads it from the
 * store and the profile generators consume it. Every list is sorted and free
 * of duplicates once behavior_model_normalize() has run. */
#ifndef ARMORSMITH_BEHAVIOR_H
#define ARMORSMITH_BEHAVIOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strlist {
	char **items;
	size_t len;
	size_t cap;
};

struct file_rule {
	char *path;
	char *perms; /* AppArmor letters, e.g. "rw", "mr" */
	bool owner;
	char *old_path; /* may be NULL */
};

struct network_rule {
	char *family;
	char *sock_type;
	char *protocol;
	char *address; /* may be empty */
	uint32_t port;
};

struct peer_rule {
	char *peer;
	char *perms;  /* ptrace: read/trace..., signal: send/receive */
	char *signal; /* signals only, may be NULL */
};

struct mount_rule {
	char *operation; /* mount, umount, pivot_root, remount */
	char *path;
	char *source;
	char *fstype;
	char *flags;
};

struct behavior_model {
	char *profile_name;
	char *namespace;
	char *enforcer;
	uint64_t generation;
	/* Executions, files, network, capabilities, ptrace, signals and mounts
	 * came from BPF capture (dynamicResult.bpf), not AppArmor audit records. */
	bool bpf_data;
	struct strlist syscalls;
	struct strlist execs;
	struct strlist capabilities;
	struct file_rule *files;
	size_t n_files;
	struct network_rule *networks;
	size_t n_networks;
	struct peer_rule *ptraces;
	size_t n_ptraces;
	struct peer_rule *signals;
	size_t n_signals;
	struct mount_rule *mounts;
	size_t n_mounts;
	/* Per-node outcome for status: nodes that joined and nodes that reported. */
	uint32_t desired_nodes;
	uint32_t completed_nodes;
	struct strlist failed_nodes; /* "NODE: MESSAGE": failed, incomplete or silent nodes */
};

int strlist_add(struct strlist *l, const char *s);
bool strlist_contains(const struct strlist *l, const char *s);
void strlist_sort_unique(struct strlist *l);
void strlist_free(struct strlist *l);

int behavior_model_add_file(struct behavior_model *m, const char *path, const char *perms,
			    bool owner, const char *old_path);
int behavior_model_add_network(struct behavior_model *m, const char *family, const char *sock_type,
			       const char *protocol, const char *address, uint32_t port);
int behavior_model_add_ptrace(struct behavior_model *m, const char *peer, const char *perms);
int behavior_model_add_signal(struct behavior_model *m, const char *peer, const char *signal,
			      const char *perms);
int behavior_model_add_mount(struct behavior_model *m, const char *operation, const char *path,
			     const char *source, const char *fstype, const char *flags);
/* Sorts every list so that generated text does not depend on arrival order. */
void behavior_model_normalize(struct behavior_model *m);
void behavior_model_free(struct behavior_model *m);

#endif
