#!/usr/bin/env bash
# Regenerates path_segments.tsv: real path segments labeled "random" or
# "name" for pathnorm_test's precision/recall check.
#
# Label meaning: "random" = the segment is, or contains, an identifier made
# by a random source, a hash or a clock (UUIDs, container/snapshot ids, git
# and cache hashes, tmp names, pod-hash suffixes, timestamps, numbers of 6+
# digits); "name" = chosen by a person or a packager (file, package, soname,
# locale, kernel and Kubernetes names, versions, small numbers such as
# years, uids, fds). Two-character hash fan-out directories (npm's
# content-v2/sha512/ce/db) are left out: nothing in "ce" tells it from a name.
#
# Names come from this machine (find/ls over /usr, /etc, /proc, /sys,
# /var/lib/dpkg, Python site-packages, node_modules, certificates, locales)
# plus fixed Kubernetes/containerd layout names; random segments are made
# with real tools (kernel uuid / uuidgen, mktemp, Python tempfile,
# sha256sum, md5sum, git hash-object, openssl rand, base32, date) in the
# shapes container runtimes and kubelet use. Sampling is by stride over
# sorted listings, so a rerun on the same machine picks the same names; the
# random half differs on each run. The committed TSV is what the test uses.
#
# Usage: make_path_segments.sh > path_segments.tsv
set -euo pipefail
export LC_ALL=C

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
names=$work/names
rand=$work/rand
: >"$names"
: >"$rand"

# every Nth line of a sorted listing, at most MAX lines
stride() { # N MAX
	sort -u | awk -v n="$1" 'NR % n == 1' | head -n "$2"
}
name() { cat >>"$names"; }
rnd() { cat >>"$rand"; }

uuid() {
	if command -v uuidgen >/dev/null; then uuidgen; else cat /proc/sys/kernel/random/uuid; fi
}
hex() { # bytes
	head -c 64 /dev/urandom | sha256sum | cut -c1-"$(( $1 * 2 ))"
}

# ---- names from this machine ----
ls /usr/bin | stride 17 60 | name
ls /usr/sbin | stride 9 20 | name
ls /usr/lib/x86_64-linux-gnu | grep -E '\.so' | stride 13 60 | name
ls /usr/lib/x86_64-linux-gnu | grep -vE '\.so' | stride 5 20 | name
ls /etc | stride 3 40 | name
ls /proc/self | stride 2 30 | name
ls /proc | grep -vE '^[0-9]+$' | stride 3 20 | name
ls /sys/class /sys/kernel /sys/fs 2>/dev/null | grep -v ':' | grep . | stride 3 30 | name
ls /var/lib/dpkg/info | stride 97 30 | name
sp=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
ls "$sp" | grep -vE '^[0-9a-f]{16,}' | stride 4 40 | name
ls /usr/lib/python3*/ 2>/dev/null | grep -v ':' | grep . | stride 9 20 | name
ls /usr/lib/node_modules/npm/node_modules | stride 3 30 | name
ls /usr/share/i18n/charmaps 2>/dev/null | sed 's/\.gz$//' | stride 8 20 | name
ls /usr/share/zoneinfo | stride 3 15 | name
ls /usr/share/locale | stride 6 15 | name
ls /etc/ssl/certs | grep -vE '^[0-9a-f]{8}\.[0-9]$' | stride 9 20 | name
find /usr/share/doc -maxdepth 2 -type f 2>/dev/null | xargs -r -n1 basename | stride 11 20 | name

# names a person would call hard: digits, dots, hex letters, short words
cat <<'N' | name
sha256sums
SHA256SUMS
UTF-8
ISO-8859-15
i686
i386
amd64
arm64
armhf
s390x
ppc64el
aarch64
x86_64
x86_64-linux-gnu
aarch64-linux-gnu
ld-linux-x86-64.so.2
ld-linux-aarch64.so.1
libc.so.6
libstdc++.so.6.0.30
fd
42
3
2024
1000
65534
python3.11
pip3.11
2to3-3.11
systemd-timesyncd
node_modules
site-packages
dist-packages
__pycache__
deadbeef
cafe
face
beef
ffffffff
README.md
Makefile
ipv6
ip6tables
b2sum
md5sum
base64
e2fsck
mke2fs
mkfs.ext4
libbz2.so.1.0
libX11.so.6
libQt5Core.so.5
GeoLite2-City.mmdb
NetworkManager
wpa_supplicant
v1.28.4
1.21.0
3.11.4
v0.12.0-rc1
CVE-2021-22555
en_US.UTF-8
C.UTF-8
kubelet
pods
volumes
volume-subpaths
kubernetes.io~projected
kubernetes.io~configmap
kubernetes.io~secret
kubernetes.io~empty-dir
kube-api-access
serviceaccount
secrets
kubernetes.io
..data
token
ca.crt
namespace
etc-hosts
containers
containerd
io.containerd.runtime.v2.task
io.containerd.snapshotter.v1.overlayfs
io.containerd.content.v1.content
io.containerd.metadata.v1.bolt
k8s.io
moby
snapshots
rootfs
overlay2
overlay
diff
merged
work
lower
kubepods.slice
kubepods-besteffort.slice
kubepods-burstable.slice
system.slice
docker.service
containerd.service
cri-containerd
coredns
kube-proxy
kube-system
etcd
nginx
nginx.conf
conf.d
sites-enabled
default.conf
html
index.html
50x.html
log
run
var
usr
lib
lib64
sbin
tmp
dev
shm
pts
mqueue
hugepages
cgroup
cpu.max
memory.max
cgroup.procs
NetworkManager.conf
resolv.conf
hosts
hostname
passwd
shadow
group
nsswitch.conf
ld.so.cache
ld.so.conf.d
os-release
machine-id
localtime
Etc
UTC
GMT+5
zoneinfo
openssl.cnf
certs
private
ca-certificates.crt
java-17-openjdk-amd64
jvm
libjvm.so
rt.jar
go1.22.3
gopath
pkg
mod
golang.org
github.com
cache
.cache
pip
wheels
http-v2
.npm
_cacache
content-v2
index-v5
sha512
.git
objects
refs
heads
HEAD
packed-refs
pack
info
i18n
l10n
a11y
k8s
utf8mb4
mysqld.sock
postgresql
16
main
pg_wal
base
global
pg_stat_tmp
redis
dump.rdb
appendonly.aof
www-data
nobody
root
home
.bashrc
.ssh
id_ed25519
id_ed25519.pub
authorized_keys
known_hosts
N

# ---- random segments made with real tools ----
for _ in $(seq 30); do uuid; done | rnd
for _ in $(seq 6); do uuid | tr a-f A-F; done | rnd
python3 -c 'import uuid
for _ in range(6): print(uuid.uuid1())' | rnd
# cgroup dirs of pods and containers (systemd and cgroupfs drivers)
for _ in $(seq 6); do echo "pod$(uuid)"; done | rnd
for _ in $(seq 6); do echo "kubepods-besteffort-pod$(uuid | tr - _).slice"; done | rnd
for _ in $(seq 6); do echo "cri-containerd-$(hex 32).scope"; done | rnd
for _ in $(seq 4); do echo "docker-$(hex 32).scope"; done | rnd
# container ids, docker short ids, overlay2 dirs and their l/ links
for _ in $(seq 20); do hex 32; done | rnd
for _ in $(seq 8); do hex 6; done | rnd
for _ in $(seq 4); do echo "$(hex 32)-init"; done | rnd
for _ in $(seq 4); do echo "$(hex 32)-json.log"; done | rnd
for _ in $(seq 8); do head -c 16 /dev/urandom | base32 | tr -d =; done | cut -c1-26 | rnd
# machine-id / journal dirs (md5 width), git objects, npm and pip cache files
for _ in $(seq 8); do head -c 32 /dev/urandom | md5sum | cut -c1-32; done | rnd
for i in $(seq 8); do echo "blob $i $RANDOM" | git hash-object --stdin; done | rnd
for i in $(seq 6); do echo "obj $i $RANDOM" | git hash-object --stdin | cut -c3-; done | rnd
for _ in $(seq 6); do head -c 64 /dev/urandom | sha512sum | cut -c5-128; done | rnd
for _ in $(seq 6); do hex 28; done | rnd
# OpenSSL subject-hash names of certificates
ls /etc/ssl/certs | grep -E '^[0-9a-f]{8}\.[0-9]$' | grep '[0-9].*[a-f]\|[a-f].*[0-9]' | stride 7 10 | rnd
# mypyc-style hashed module names
ls "$sp" | grep -E '^[0-9a-f]{16,}' | rnd || true
for _ in $(seq 3); do echo "$(hex 10)__mypyc.cpython-311-x86_64-linux-gnu.so"; done | rnd
# tmp files: mktemp, Python tempfile, and what programs make with them
for _ in $(seq 12); do mktemp -u; done | xargs -n1 basename | rnd
for _ in $(seq 6); do mktemp -u XXXXXXXX.tmp; done | rnd
for _ in $(seq 6); do mktemp -u -d ssh-XXXXXXXXXX; done | rnd
for _ in $(seq 4); do mktemp -u .com.google.Chrome.XXXXXX; done | rnd
for _ in $(seq 4); do mktemp -u sess_XXXXXXXXXXXXXXXXXXXXXXXXXX; done | rnd
python3 - <<'P' | rnd
import os, tempfile
d = tempfile.mkdtemp()
for i in range(12):
    fd, p = tempfile.mkstemp(dir=d)
    os.close(fd)
    print(os.path.basename(p))
for pre in ("pip-install-", "pip-req-build-", "pip-build-env-", "pip-ephem-wheel-cache-", "pip-unpack-"):
    for i in range(2):
        print(os.path.basename(tempfile.mkdtemp(prefix=pre, dir=d)))
for i in range(3):
    fd, p = tempfile.mkstemp(suffix=".json", dir=d)
    os.close(fd)
    print(os.path.basename(p))
P
for _ in $(seq 4); do echo "systemd-private-$(hex 16)-systemd-timesyncd.service-$(mktemp -u XXXXXX)"; done | rnd
# base64 / base64url tokens and JWT-ish strings ('/' cannot be in a segment)
for n in 12 16 18 24 32 33 48; do openssl rand -base64 "$n" | tr '/+' '_-'; done | rnd
for n in 12 16 24 32 40; do openssl rand -base64 "$n" | tr -d '/'; done | rnd
for _ in $(seq 4); do openssl rand -base64 32 | tr '+/' '-_' | tr -d =; done | rnd
for _ in $(seq 4); do
	h=$(printf '{"alg":"RS256","kid":"%s"}' "$(hex 8)" | base64 -w0 | tr '+/' '-_' | tr -d =)
	p=$(printf '{"sub":"system:serviceaccount:default:%s","exp":%s}' "$(hex 4)" "$(date +%s)" | base64 -w0 | tr '+/' '-_' | tr -d =)
	s=$(openssl rand -base64 64 | tr -d '\n' | tr '+/' '-_' | tr -d =)
	echo "$h.$p.$s"
done | rnd
# ULIDs (48-bit ms clock + 80 random bits, Crockford base32)
python3 - <<'P' | rnd
import os, time
A = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
for i in range(8):
    v = (int(time.time() * 1000) + i * 7919) << 80 | int.from_bytes(os.urandom(10), "big")
    print("".join(A[(v >> (5 * k)) & 31] for k in range(25, -1, -1)))
P
# Kubernetes generated names: pod-template-hash and pod suffixes use the
# apimachinery "safe" alphabet
python3 - <<'P' | rnd
import random
S = "bcdfghjklmnpqrstvwxz2456789"
r = random.SystemRandom()
def s(n): return "".join(r.choice(S) for _ in range(n))
apps = ["nginx", "coredns", "metrics-server", "app", "web-frontend", "redis-cache",
        "kube-state-metrics", "ingress-nginx-controller", "api", "worker"]
for a in apps:
    print(f"{a}-{s(r.choice([8, 9, 10]))}-{s(5)}")
for a in apps[:6]:
    print(f"{a}-{s(10)}")
for a in ["kube-api-access", "default-token", "sync-job", "backup"]:
    print(f"{a}-{s(5)}")
P
# kubelet atomic-writer dirs of projected/configmap/secret volumes
for i in $(seq 8); do
	echo "..$(date -u -d "@$(( $(date +%s) - i * 86413 ))" +%Y_%m_%d_%H_%M_%S).$(( RANDOM * 32768 + RANDOM ))"
done | rnd
# clocks and long numbers
for i in $(seq 4); do date +%s%N; done | rnd
for i in $(seq 3); do date -d "@$(( $(date +%s) - i * 999983 ))" +%s; done | rnd
for i in $(seq 3); do date -d "@$(( $(date +%s) - i * 9999991 ))" +%Y%m%d%H%M%S; done | rnd
for i in $(seq 4); do echo $(( (RANDOM << 15 | RANDOM) % 90000000 + 100000 )); done | rnd
for i in $(seq 3); do echo "core.$(( RANDOM * 32 + 100000 ))"; done | rnd

{
	sort -u "$names" | grep -v '[[:cntrl:]]' | grep . | sed 's/^/name\t/'
	sort -u "$rand" | grep -v '[[:cntrl:]]' | grep . | sed 's/^/random\t/'
} | awk -F'\t' '!seen[$2]++'
