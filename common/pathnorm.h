/* Path normalisation for behavior data (AppArmor audit records and BPF
 * events alike): turn the paths one run of a workload touched into paths
 * that also hold for the next run, as vArmor's preprocessor does
 * (internal/behavior/preprocessor/preprocessor.go, trimPath), with its
 * external ML path classifier (cmd/classifier, "stringlifier") replaced by
 * a deterministic C classifier of path segments.
 *
 * Output contract: the only glob a normalised path contains is a '*' or a
 * '**' that makes up a whole segment (between two slashes, or after the
 * last one). Every other byte is copied from the input as it was, so a
 * literal '*', '?', '[', '{', a quote or a newline inside a file name stays
 * literal and the profile generator escapes it. Known gap: an input
 * segment that is itself exactly "*" or "**" comes out unchanged and then
 * reads as a glob; no output string can say otherwise.
 *
 * Rules, in the order applied (vArmor's order; the first of c-f that
 * matches ends normalisation, as trimPath returns there):
 *
 *  a. Lexical clean: "//" and "/./" collapse, "/../" removes the segment
 *     before it ("/.." at the root stays at the root). A path ending in
 *     '/', "/." or "/.." keeps one trailing '/': AppArmor tells a directory
 *     ("/foo/") from a file ("/foo"). vArmor does not clean; we do so that
 *     "/tmp/../etc/shadow" can never become "/tmp/ **".
 *        "/usr//bin/./ls"            -> "/usr/bin/ls"
 *        "/etc/nginx/../passwd"      -> "/etc/passwd"
 *  b. Snapshot ids (vArmor: snapshotsRegex "/snapshots/\d+/fs/"): a
 *     numeric segment between "snapshots" and "fs" becomes '*'. vArmor
 *     also learns overlay prefixes from /proc/mounts at run time; a pure
 *     function cannot, so the layouts of the common runtimes are built in:
 *     the segment after /var/lib/docker/overlay2/ and after
 *     /var/lib/containers/storage/overlay/ (docker, CRI-O layer ids; after
 *     ".../l/" the link name) becomes '*'.
 *        "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/
 *         snapshots/149/fs/etc/hosts" -> ".../snapshots/ * /fs/etc/hosts"
 *        "/var/lib/docker/overlay2/<64 hex>-init/diff" -> ".../overlay2/ * /diff"
 *  c. Read-only library dirs (vArmor: only when the access mask has none
 *     of a, w, l, k; we also count c and d, which vArmor has already
 *     turned into w): a path strictly below /lib/x86_64-linux-gnu/,
 *     /usr/lib/x86_64-linux-gnu/ or /usr/lib/aarch64-linux-gnu/ (vArmor's
 *     three) or /lib/aarch64-linux-gnu/ (ours, for symmetry) becomes
 *     "DIR/ **"; the directory itself stays.
 *        "/usr/lib/x86_64-linux-gnu/libc.so.6" -> "/usr/lib/x86_64-linux-gnu/ **"
 *  d. /tmp: anything below /tmp/ becomes "/tmp/ **"; "/tmp/" and "/tmp"
 *     stay.   "/tmp/tmp.Ab3dE9xYz1/out.log" -> "/tmp/ **"
 *  e. Service-account tokens: anything at or below
 *     /run/secrets/kubernetes.io/serviceaccount/ (or /var/run/...) becomes
 *     ".../serviceaccount/ **", as in vArmor.
 *        "/var/run/secrets/kubernetes.io/serviceaccount/..2024_01_01_00_00_00.1/token"
 *          -> "/var/run/secrets/kubernetes.io/serviceaccount/ **"
 *  f. /proc (vArmor: procNumberRegex, mapFilesRegex): below /proc, every
 *     all-digit segment (pids, tids, fds, irqs) becomes '*' and so does the
 *     segment after "map_files"; nothing else is classified. vArmor's
 *     regexes also hit "/procfoo/12" and digits inside a segment
 *     ("/proc/12ab"); ours do not.
 *        "/proc/1106048/task/10/stat" -> "/proc/ * /task/ * /stat"
 *        "/proc/122/map_files/5565eaa95000-5565eaac3000" -> "/proc/ * /map_files/ *"
 *  g. Library trees are left as they are (vArmor's randomExclusions
 *     "/lib/", "/usr/lib/", "/usr/local/lib/"): their names come from
 *     packagers, and a glob there would widen access to code. vArmor also
 *     excludes "/sys/" and "/var/lib/"; we classify them, since per-run ids
 *     live there (pod UIDs under /var/lib/kubelet/pods, container ids
 *     under /var/lib/docker/containers, cgroup scopes under /sys/fs/cgroup).
 *        "/usr/lib/python3/dist-packages/81d243bd2c585b0f4821__mypyc.so" unchanged
 *  h. Every other segment that pathnorm_classify_segment() calls random
 *     becomes '*' (vArmor: the classifier service turns a segment holding
 *     <RANDOM_STRING>, <NUMERIC>, <UUID>, <JWT>... into '*').
 *        "/var/lib/kubelet/pods/6d0eb515-5ab1-4e6b-91ba-fe0860d2596c/volumes"
 *          -> "/var/lib/kubelet/pods/ * /volumes"
 *        "/etc/config/..2024_05_01_10_00_00.123456789/app.yaml"
 *          -> "/etc/config/ * /app.yaml"
 *        "/etc/passwd" unchanged
 *
 * (The spaces in " * " and " **" above only keep this comment a comment.)
 */
#ifndef ARMORSMITH_PATHNORM_H
#define ARMORSMITH_PATHNORM_H

#include <stddef.h>

/*
 * 1 when the segment (len bytes, no '/') is, or contains, an identifier
 * made by a random source, a hash or a clock; 0 for a name chosen by a
 * person or a packager. Random shapes:
 *   UUIDs anywhere in the segment, also with '_' ("pod<uuid>",
 *     "kubepods-besteffort-pod1a2b..._....slice")
 *   hex runs of 8+ with both digits and letters (container ids, git
 *     objects, cache hashes, "cri-containerd-<64 hex>.scope", "4042bcee.0")
 *   digit runs of 6+ that are not part of a dotted version
 *     ("1714550400", "core.177632"; not "libfoo.so.20220623")
 *   kubelet atomic-writer dirs "..2024_05_01_10_00_00.123456789"
 *   temp names: "tmp.XXXXXXXXXX" (mktemp), "tmpXXXXXXXX[.sfx]" and
 *     "PREFIX-XXXXXXXX" with digits among the letters (Python tempfile),
 *     "XXXXXXXX.tmp", mkstemp suffixes ("ssh-Y1bQEranML",
 *     ".com.google.Chrome.XZ4C8s")
 *   Kubernetes generated names: "nginx-7c5ddbdf54-x8k2q",
 *     "nginx-7c5ddbdf54", "kube-api-access-x8k2q" (the suffixes use the
 *     apimachinery alphabet bcdfghjklmnpqrstvwxz2456789, which has no
 *     vowels)
 *   base64/base64url/base32 tokens, ULIDs, JWTs: alphanumeric runs with
 *     lone lower-case letters beside digits or capitals, vowel-less
 *     lower-case runs, many class changes, or 20+ capitals and digits.
 * Known misses: 8-letter tempfile names without digits ("qidzchqk"),
 * short all-capital mkstemp suffixes. Known false alarms outside the
 * labeled set: 6+ digit standard numbers in names ("CSN_369103"), and a
 * final "-slf4j"-like piece read as a pod suffix.
 * Names stay names: "python3.11", "libc.so.6", "x86_64-linux-gnu",
 * "ld-linux-x86-64.so.2", "sha256sums", "UTF-8", "GeoLite2-City.mmdb",
 * "deadbeef" (hex letters only), and numbers of at most 5 digits ("42",
 * "2024" as a year directory, uid "65534"), which are small enough to be
 * chosen. A segment holding any byte outside [A-Za-z0-9._~+=:,@-] (glob
 * characters, spaces, quotes, control or non-ASCII bytes) is a name:
 * ids never hold them, and a literal must stay literal.
 */
int pathnorm_classify_segment(const char *seg, size_t len);

/*
 * Normalise an absolute path into out (outlen bytes, NUL included) by the
 * rules above, for an access whose AppArmor permission letters are mask
 * ("r", "rw", "wc", "m", ...; NULL or "" when unknown, which vArmor also
 * treats as read-only). Returns 0, -EINVAL when path is not absolute or an
 * argument is NULL, -ENAMETOOLONG when the result does not fit (out is
 * then ""), or -ENOMEM.
 */
int pathnorm_normalize_mask(const char *path, const char *mask, char *out, size_t outlen);

/* pathnorm_normalize_mask() for a read-only access (mask NULL). */
int pathnorm_normalize(const char *path, char *out, size_t outlen);

#endif
