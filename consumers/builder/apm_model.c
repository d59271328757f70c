#include "apm_model.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "log.h"

/* Length of the valid UTF-8 sequence at s, or 0 (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF). */
static size_t utf8_seq(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f))
			return 0;
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

/* A JSON string for any C string: hostile file names are not always UTF-8,
 * and one bad byte must not lose the whole model. */
static json_t *str(const char *s)
{
	json_t *j;
	char *fixed;
	size_t n = 0, len;

	if (!s)
		s = "";
	j = json_string(s);
	if (j)
		return j;
	len = strlen(s);
	fixed = malloc(len * 3 + 1);
	if (!fixed)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t k = utf8_seq(p);

		if (k) {
			memcpy(fixed + n, p, k);
			n += k;
			p += k;
		} else {
			memcpy(fixed + n, "\xef\xbf\xbd", 3);
			n += 3;
			p++;
		}
	}
	fixed[n] = '\0';
	j = json_string(fixed);
	free(fixed);
	return j;
}

/* Kubernetes object names: DNS-1123 subdomain (max 253) or label (max 63). */
static bool dns1123(const char *s, size_t max, bool dots)
{
	size_t len = s ? strlen(s) : 0;

	if (!len || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		bool edge =
		    i == 0 || i + 1 == len || (dots && (s[i - 1] == '.' || s[i + 1] == '.'));

		if (alnum)
			continue;
		if (edge || !(c == '-' || (dots && c == '.')))
			return false;
	}
	return true;
}

/* obj[key] = val, stealing val; a NULL val (failed allocation) fails. */
static int put(json_t *obj, const char *key, json_t *val)
{
	if (!val)
		return -ENOMEM;
	return json_object_set_new(obj, key, val) ? -ENOMEM : 0;
}

static int append(json_t *arr, json_t *val)
{
	if (!val)
		return -ENOMEM;
	return json_array_append_new(arr, val) ? -ENOMEM : 0;
}

static json_t *str_array(const struct strlist *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->len; i++)
		if (append(a, str(l->items[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static int cmp_char(const void *a, const void *b)
{
	return *(const char *)a - *(const char *)b;
}

static json_t *file_entry(const struct file_rule *f)
{
	json_t *e = json_object(), *perms = json_array();
	char *letters = strdup(f->perms ? f->perms : "");
	int ret = e && perms && letters ? 0 : -ENOMEM;

	if (!ret)
		qsort(letters, strlen(letters), 1, cmp_char);
	for (size_t i = 0; !ret && letters[i]; i++) {
		char one[2] = {letters[i], '\0'};

		if (i && letters[i - 1] == letters[i])
			continue;
		ret = append(perms, str(one));
	}
	if (!ret)
		ret = put(e, "path", str(f->path));
	if (!ret) {
		ret = put(e, "permissions", perms);
		perms = NULL;
	}
	if (!ret && f->owner)
		ret = put(e, "owner", json_true());
	if (!ret && f->old_path && *f->old_path)
		ret = put(e, "oldPath", str(f->old_path));
	free(letters);
	json_decref(perms);
	if (ret) {
		json_decref(e);
		return NULL;
	}
	return e;
}

static json_t *mount_string(const struct mount_rule *r)
{
	char *s = NULL;
	json_t *j;

	if (asprintf(&s, "mount: operation=%s path=%s source=%s fstype=%s flags=%s", r->operation,
		     r->path, r->source, r->fstype, r->flags) < 0)
		return NULL;
	j = str(s);
	free(s);
	return j;
}

static json_t *signal_string(const struct peer_rule *r)
{
	char *s = NULL;
	json_t *j;

	if (asprintf(&s, "signal: permissions=%s signal=%s peer=%s", r->perms,
		     r->signal ? r->signal : "", r->peer) < 0)
		return NULL;
	j = str(s);
	free(s);
	return j;
}

/* What the CRD has no field for goes where vArmor puts it: unhandled.
 * Mounts have no AppArmor field; BPF-sourced signals have no BPF field. */
static int put_unhandled(const struct behavior_model *m, json_t *aa)
{
	json_t *unhandled;
	int ret;

	if (!(!m->bpf_data && m->n_mounts) && !(m->bpf_data && m->n_signals))
		return 0;
	ret = put(aa, "unhandled", unhandled = json_array());
	for (size_t i = 0; !ret && !m->bpf_data && i < m->n_mounts; i++)
		ret = append(unhandled, mount_string(&m->mounts[i]));
	for (size_t i = 0; !ret && m->bpf_data && i < m->n_signals; i++)
		ret = append(unhandled, signal_string(&m->signals[i]));
	return ret;
}

/* A comma-separated list as a JSON array of strings. */
static json_t *csv_array(const char *csv)
{
	json_t *arr = json_array();
	char *copy = strdup(csv ? csv : ""), *save = NULL, *tok;

	if (!arr || !copy) {
		json_decref(arr);
		free(copy);
		return NULL;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (append(arr, str(tok))) {
			json_decref(arr);
			arr = NULL;
			break;
		}
	free(copy);
	return arr;
}

/* apparmor.networks and bpf.network (one shape): the distinct sockets, and
 * per egress IP the ports it was connected to. */
static json_t *network_result(const struct behavior_model *m)
{
	json_t *net = json_object(), *sockets = json_array(), *egresses = json_array();
	int ret = net && sockets && egresses ? 0 : -ENOMEM;

	for (size_t i = 0; !ret && i < m->n_networks; i++) {
		const struct network_rule *n = &m->networks[i];
		bool dup = false;

		for (size_t k = 0; k < i && !dup; k++)
			dup = strcmp(m->networks[k].family, n->family) == 0 &&
			      strcmp(m->networks[k].sock_type, n->sock_type) == 0 &&
			      strcmp(m->networks[k].protocol, n->protocol) == 0;
		if (!dup) {
			json_t *sk = json_object();
			ret = append(sockets, sk);
			if (!ret)
				ret = put(sk, "domain", str(n->family));
			if (!ret)
				ret = put(sk, "type", str(n->sock_type));
			if (!ret)
				ret = put(sk, "protocol", str(n->protocol));
		}
		if (!ret && *n->address && n->port) {
			json_t *eg = NULL, *e;
			size_t k;

			json_array_foreach(egresses, k, e)
			{
				if (strcmp(json_string_value(json_object_get(e, "ip")),
					   n->address) == 0)
					eg = e;
			}
			if (!eg) {
				eg = json_object();
				ret = append(egresses, eg);
				if (!ret)
					ret = put(eg, "ip", str(n->address));
				if (!ret)
					ret = put(eg, "ports", json_array());
			}
			if (!ret)
				ret = append(json_object_get(eg, "ports"), json_integer(n->port));
		}
	}
	if (!ret && json_array_size(sockets))
		ret = put(net, "sockets", json_incref(sockets));
	if (!ret && json_array_size(egresses))
		ret = put(net, "egresses", json_incref(egresses));
	json_decref(sockets);
	json_decref(egresses);
	if (ret) {
		json_decref(net);
		return NULL;
	}
	return net;
}

static json_t *ptraces_result(const struct behavior_model *m)
{
	json_t *arr = json_array();
	int ret = arr ? 0 : -ENOMEM;

	for (size_t i = 0; !ret && i < m->n_ptraces; i++) {
		json_t *e = json_object();
		ret = append(arr, e);
		if (!ret)
			ret = put(e, "peer", str(m->ptraces[i].peer));
		if (!ret)
			ret = put(e, "permissions", csv_array(m->ptraces[i].perms));
	}
	if (ret) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

/* apparmor.signals: one entry per (peer, permission, signal) seen. */
static json_t *signals_result(const struct behavior_model *m)
{
	json_t *arr = json_array();
	int ret = arr ? 0 : -ENOMEM;

	for (size_t i = 0; !ret && i < m->n_signals; i++) {
		json_t *e = json_object();
		ret = append(arr, e);
		if (!ret)
			ret = put(e, "peer", str(m->signals[i].peer));
		if (!ret)
			ret = put(e, "permissions", csv_array(m->signals[i].perms));
		if (!ret)
			ret = put(e, "signals", csv_array(m->signals[i].signal));
	}
	if (ret) {
		json_decref(arr);
		return NULL;
	}
	return arr;
}

static json_t *apparmor_result(const struct behavior_model *m)
{
	json_t *aa = json_object(), *files = NULL;
	int ret = aa ? 0 : -ENOMEM;

	if (!ret) {
		json_t *profiles = json_array();

		ret = put(aa, "profiles", profiles);
		if (!ret)
			ret = append(profiles, str(m->profile_name));
	}
	if (!ret && !m->bpf_data && m->execs.len)
		ret = put(aa, "executions", str_array(&m->execs));
	if (!ret && !m->bpf_data && m->n_files) {
		ret = put(aa, "files", files = json_array());
		for (size_t i = 0; !ret && i < m->n_files; i++)
			ret = append(files, file_entry(&m->files[i]));
	}
	if (!ret && !m->bpf_data && m->capabilities.len)
		ret = put(aa, "capabilities", str_array(&m->capabilities));
	if (!ret && !m->bpf_data && m->n_networks)
		ret = put(aa, "networks", network_result(m));
	if (!ret && !m->bpf_data && m->n_ptraces)
		ret = put(aa, "ptraces", ptraces_result(m));
	if (!ret && !m->bpf_data && m->n_signals)
		ret = put(aa, "signals", signals_result(m));
	if (!ret)
		ret = put_unhandled(m, aa);
	if (ret) {
		json_decref(aa);
		return NULL;
	}
	return aa;
}

static json_t *bpf_result(const struct behavior_model *m)
{
	json_t *bpf = json_object(), *arr;
	int ret = bpf ? 0 : -ENOMEM;

	if (!ret && m->execs.len)
		ret = put(bpf, "executions", str_array(&m->execs));
	if (!ret && m->n_files) {
		ret = put(bpf, "files", arr = json_array());
		for (size_t i = 0; !ret && i < m->n_files; i++)
			ret = append(arr, file_entry(&m->files[i]));
	}
	if (!ret && m->capabilities.len)
		ret = put(bpf, "capabilities", str_array(&m->capabilities));
	if (!ret && m->n_networks)
		ret = put(bpf, "network", network_result(m));
	if (!ret && m->n_ptraces)
		ret = put(bpf, "ptraces", ptraces_result(m));
	if (!ret && m->n_mounts) {
		ret = put(bpf, "mounts", arr = json_array());
		for (size_t i = 0; !ret && i < m->n_mounts; i++) {
			json_t *e = json_object();
			ret = append(arr, e);
			if (!ret)
				ret = put(e, "path", str(m->mounts[i].path));
			if (!ret && *m->mounts[i].fstype)
				ret = put(e, "type", str(m->mounts[i].fstype));
			if (!ret && *m->mounts[i].flags)
				ret = put(e, "flags", csv_array(m->mounts[i].flags));
		}
	}
	if (ret) {
		json_decref(bpf);
		return NULL;
	}
	return bpf;
}

static json_t *failed_condition(const char *entry)
{
	const char *sep = strstr(entry, ": ");
	char *node = sep ? strndup(entry, (size_t)(sep - entry)) : strdup(entry);
	json_t *c = json_object();
	int ret = c && node ? 0 : -ENOMEM;

	if (!ret)
		ret = put(c, "type", str("Ready"));
	if (!ret)
		ret = put(c, "status", str("False"));
	if (!ret)
		ret = put(c, "nodeName", str(node));
	if (!ret && sep && sep[2])
		ret = put(c, "message", str(sep + 2));
	free(node);
	if (ret) {
		json_decref(c);
		return NULL;
	}
	return c;
}

static int build_data(const struct behavior_model *m, const char *apparmor_text,
		      const char *seccomp_json, json_t *data)
{
	json_t *dyn = json_object(), *profile = json_object();
	int ret = dyn && profile ? 0 : -ENOMEM;

	if (!ret && m->syscalls.len) {
		json_t *sc = json_object();

		ret = put(dyn, "seccomp", sc);
		if (!ret)
			ret = put(sc, "syscalls", str_array(&m->syscalls));
	}
	if (!ret && (apparmor_text || m->execs.len || m->n_files || m->capabilities.len ||
		     m->n_mounts || m->n_networks || m->n_ptraces || m->n_signals))
		ret = put(dyn, "apparmor", apparmor_result(m));
	if (!ret && m->bpf_data &&
	    (m->execs.len || m->n_files || m->capabilities.len || m->n_networks || m->n_ptraces ||
	     m->n_mounts))
		ret = put(dyn, "bpf", bpf_result(m));
	if (!ret && json_object_size(dyn)) {
		ret = put(data, "dynamicResult", dyn);
		dyn = NULL;
	}
	if (!ret)
		ret = put(profile, "name", str(m->profile_name));
	if (!ret)
		ret = put(profile, "enforcer", str(m->enforcer));
	if (!ret)
		ret = put(profile, "mode", str("enforce"));
	if (!ret && apparmor_text)
		ret = put(profile, "content", str(apparmor_text));
	if (!ret && seccomp_json)
		ret = put(profile, "seccompContent", str(seccomp_json));
	if (!ret) {
		ret = put(data, "profile", profile);
		profile = NULL;
	}
	json_decref(dyn);
	json_decref(profile);
	return ret;
}

static int build_status(const struct behavior_model *m, bool ready, json_t *status)
{
	int ret = put(status, "desiredNumber", json_integer(m->desired_nodes));

	if (!ret)
		ret = put(status, "completedNumber", json_integer(m->completed_nodes));
	if (!ret)
		ret = put(status, "ready", json_boolean(ready));
	if (!ret && m->failed_nodes.len) {
		json_t *conds = json_array();

		ret = put(status, "conditions", conds);
		for (size_t i = 0; !ret && i < m->failed_nodes.len; i++)
			ret = append(conds, failed_condition(m->failed_nodes.items[i]));
	}
	return ret;
}

int apm_model_build(const struct behavior_model *m, const char *apparmor_text,
		    const char *seccomp_json, json_t **out)
{
	json_t *root = NULL, *meta = NULL, *data = NULL, *status = NULL;
	int ret = -EINVAL;

	*out = NULL;
	if (!dns1123(m->profile_name, 253, true)) {
		log_error("armorprofilemodel: profile name \"%s\" is not a dns-1123 subdomain",
			  m->profile_name ? m->profile_name : "");
		goto cleanup;
	}
	if (m->namespace && *m->namespace && !dns1123(m->namespace, 63, false)) {
		log_error("armorprofilemodel %s: namespace \"%s\" is not a dns-1123 label",
			  m->profile_name, m->namespace);
		goto cleanup;
	}
	if (!m->enforcer || !*m->enforcer) {
		log_error("armorprofilemodel %s: no enforcer", m->profile_name);
		goto cleanup;
	}
	if (m->desired_nodes > INT32_MAX || m->completed_nodes > INT32_MAX) {
		log_error("armorprofilemodel %s: node counts %" PRIu32 "/%" PRIu32
			  " exceed the int32 fields",
			  m->profile_name, m->completed_nodes, m->desired_nodes);
		goto cleanup;
	}

	ret = -ENOMEM;
	root = json_object();
	if (!root || put(root, "apiVersion", str("crd.varmor.org/v1beta1")) ||
	    put(root, "kind", str("ArmorProfileModel")) ||
	    put(root, "metadata", meta = json_object()) ||
	    put(root, "storageType", str("CRDInternal")) ||
	    put(root, "data", data = json_object()) || put(root, "status", status = json_object()))
		goto cleanup;
	if (put(meta, "name", str(m->profile_name)) ||
	    (m->namespace && *m->namespace && put(meta, "namespace", str(m->namespace))))
		goto cleanup;
	ret = build_data(m, apparmor_text, seccomp_json, data);
	if (!ret)
		ret = build_status(m, apparmor_text || seccomp_json, status);
	if (!ret) {
		*out = root;
		root = NULL;
	}

cleanup:
	if (ret == -ENOMEM)
		log_error("armorprofilemodel %s: out of memory", m->profile_name);
	json_decref(root);
	return ret;
}

/* Writes data to a temporary file beside path, then renames it over path, so
 * a reader never sees half a file. */
static int write_atomic(const char *path, const char *data, size_t len)
{
	char *tmp = NULL;
	FILE *f = NULL;
	int fd = -1, ret = -ENOMEM;

	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
		tmp = NULL;
		goto cleanup;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = -errno;
		log_error("armorprofilemodel: cannot create %s: %s", tmp, strerror(errno));
		goto cleanup;
	}
	f = fdopen(fd, "w");
	if (!f) {
		ret = -errno;
		goto cleanup;
	}
	fd = -1;
	if (fwrite(data, 1, len, f) != len || fflush(f) || fsync(fileno(f))) {
		ret = -errno;
		log_error("armorprofilemodel: cannot write %s: %s", tmp, strerror(errno));
		goto cleanup;
	}
	ret = fclose(f) ? -errno : 0;
	f = NULL;
	if (!ret && rename(tmp, path)) {
		ret = -errno;
		log_error("armorprofilemodel: cannot rename %s to %s: %s", tmp, path,
			  strerror(errno));
	}

cleanup:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (ret && tmp)
		unlink(tmp);
	free(tmp);
	return ret;
}

int apm_model_write_json(json_t *obj, const char *path)
{
	char *text = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	char *with_nl = NULL;
	int ret = -ENOMEM;

	if (!text || asprintf(&with_nl, "%s\n", text) < 0) {
		with_nl = NULL;
		log_error("armorprofilemodel: cannot serialize %s: out of memory", path);
		goto cleanup;
	}
	ret = write_atomic(path, with_nl, strlen(with_nl));

cleanup:
	free(text);
	free(with_nl);
	return ret;
}

/* Plain scalars that a YAML 1.1 or 1.2 resolver would turn into a number,
 * bool, null, timestamp or merge key must be quoted to stay strings. */
static bool plain_is_ambiguous(const char *s)
{
	static const char *const words[] = {"y",  "n",	 "yes",	 "no", "true", "false",
					    "on", "off", "null", "~",  "<<",   "="};

	if (!*s || strchr("0123456789+-.~<=", s[0]))
		return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(s, words[i]) == 0)
			return true;
	return false;
}

static int emit_scalar(yaml_emitter_t *em, const char *value, bool plain_ok,
		       yaml_scalar_style_t style)
{
	yaml_event_t ev;

	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)value, (int)strlen(value),
					  plain_ok, 1, style))
		return -ENOMEM;
	return yaml_emitter_emit(em, &ev) ? 0 : -EIO;
}

static int emit_string(yaml_emitter_t *em, const char *s)
{
	/* Multi-line text (the profile) reads best as a literal block; libyaml
	 * falls back to double quotes where a block cannot hold it exactly. */
	if (strchr(s, '\n'))
		return emit_scalar(em, s, false, YAML_LITERAL_SCALAR_STYLE);
	return emit_scalar(em, s, !plain_is_ambiguous(s), YAML_ANY_SCALAR_STYLE);
}

static int emit_node(yaml_emitter_t *em, json_t *j)
{
	yaml_event_t ev;
	char num[32];
	int ret = 0;

	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *key;
		json_t *val;

		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
							 YAML_BLOCK_MAPPING_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return -EIO;
		json_object_foreach(j, key, val)
		{
			ret = emit_string(em, key);
			if (!ret)
				ret = emit_node(em, val);
			if (ret)
				return ret;
		}
		if (!yaml_mapping_end_event_initialize(&ev) || !yaml_emitter_emit(em, &ev))
			return -EIO;
		return 0;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *val;

		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
							  YAML_BLOCK_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(em, &ev))
			return -EIO;
		json_array_foreach(j, i, val)
		{
			ret = emit_node(em, val);
			if (ret)
				return ret;
		}
		if (!yaml_sequence_end_event_initialize(&ev) || !yaml_emitter_emit(em, &ev))
			return -EIO;
		return 0;
	}
	case JSON_STRING:
		return emit_string(em, json_string_value(j));
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		return emit_scalar(em, num, true, YAML_PLAIN_SCALAR_STYLE);
	case JSON_REAL:
		snprintf(num, sizeof(num), "%.17g", json_real_value(j));
		return emit_scalar(em, num, true, YAML_PLAIN_SCALAR_STYLE);
	case JSON_TRUE:
		return emit_scalar(em, "true", true, YAML_PLAIN_SCALAR_STYLE);
	case JSON_FALSE:
		return emit_scalar(em, "false", true, YAML_PLAIN_SCALAR_STYLE);
	case JSON_NULL:
		return emit_scalar(em, "null", true, YAML_PLAIN_SCALAR_STYLE);
	}
	return -EINVAL;
}

int apm_model_write_yaml(json_t *obj, const char *path)
{
	yaml_emitter_t em;
	yaml_event_t ev;
	char *text = NULL;
	size_t len = 0;
	FILE *mem = NULL;
	bool em_ready = false;
	int ret = -ENOMEM;

	mem = open_memstream(&text, &len);
	if (!mem || !yaml_emitter_initialize(&em))
		goto cleanup;
	em_ready = true;
	yaml_emitter_set_output_file(&em, mem);
	yaml_emitter_set_unicode(&em, 1);
	/* No line folding: long paths stay on one line. */
	yaml_emitter_set_width(&em, -1);
	yaml_emitter_set_indent(&em, 2);
	ret = -EIO;
	if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) ||
	    !yaml_emitter_emit(&em, &ev) ||
	    !yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) ||
	    !yaml_emitter_emit(&em, &ev))
		goto cleanup;
	ret = emit_node(&em, obj);
	if (ret)
		goto cleanup;
	ret = -EIO;
	if (!yaml_document_end_event_initialize(&ev, 1) || !yaml_emitter_emit(&em, &ev) ||
	    !yaml_stream_end_event_initialize(&ev) || !yaml_emitter_emit(&em, &ev) ||
	    !yaml_emitter_flush(&em))
		goto cleanup;
	yaml_emitter_delete(&em);
	em_ready = false;
	ret = fclose(mem) ? -ENOMEM : 0;
	mem = NULL;
	if (!ret)
		ret = write_atomic(path, text, len);

cleanup:
	if (ret && em_ready)
		log_error("armorprofilemodel: cannot emit yaml for %s: %s", path,
			  em.problem ? em.problem : "out of memory");
	if (em_ready)
		yaml_emitter_delete(&em);
	if (mem)
		fclose(mem);
	free(text);
	return ret;
}
