#!/usr/bin/env python3
"""Writes a large recorded log for bench/parse_audit_bench.sh: AppArmor
records (the libapparmor corpus when it is beside the checkout, else the
samples below), the seccomp records of producers/probe/testdata/seccomp.log
and unrelated syslog lines, interleaved in a fixed pseudo-random order so
every run writes the same bytes.

usage: gen_audit_log.py OUT LINES [APPARMOR_PCT SECCOMP_PCT]
Prints "LINES AUDIT_RECORDS" on stdout."""
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

APPARMOR_SAMPLES = [
    'type=AVC msg=audit(1732800000.123:456): apparmor="ALLOWED" operation="open" class="file" '
    'profile="varmor-default-demo" name="/etc/ld.so.cache" pid=4242 comm="sleep" '
    'requested_mask="r" denied_mask="r" fsuid=0 ouid=0',
    'Nov 28 12:00:00 node1 kernel: [ 1911.569682] audit: type=1400 audit(1732800000.124:457): '
    'apparmor="ALLOWED" operation="exec" class="file" profile="varmor-default-demo" '
    'name="/usr/bin/unshare" pid=4243 comm="sh" requested_mask="x" denied_mask="x" fsuid=0 '
    'ouid=0 target="varmor-default-demo//null-/usr/bin/unshare"',
    '[ 1912.000001] audit: type=1400 audit(1732800000.125:458): apparmor="ALLOWED" '
    'operation="capable" class="cap" profile="varmor-default-demo" pid=4244 comm="unshare" '
    'capability=21 capname="sys_admin"',
    'type=AVC msg=audit(1732800000.126:459): apparmor="ALLOWED" operation="connect" '
    'class="net" profile="varmor-default-demo" pid=4245 comm="curl" family="inet" '
    'sock_type="stream" protocol=6 requested="send receive connect" denied="send receive connect" '
    'faddr=10.0.0.1 fport=443',
    'type=AVC msg=audit(1732800000.127:460): apparmor="ALLOWED" operation="open" '
    'profile="varmor-default-demo" name=2F746D702F6D792066696C65 pid=4246 comm=6D792070726F67 '
    'requested_mask="wc" denied_mask="wc" fsuid=1000 ouid=1000',
]

UNRELATED = [
    'Nov 28 12:00:01 node1 systemd[1]: Started Session 42 of user root.',
    'Nov 28 12:00:02 node1 sshd[9001]: Accepted publickey for root from 10.0.0.9 port 51234 ssh2',
    'Nov 28 12:00:03 node1 kernel: [ 1913.123456] eth0: renamed from veth1a2b3c4',
    'Nov 28 12:00:04 node1 containerd[812]: time="2026-11-28T12:00:04Z" level=info msg="shim disconnected" id=4f1c',
    'Nov 28 12:00:05 node1 CRON[9100]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)',
    'Nov 28 12:00:06 node1 kubelet[700]: I1128 12:00:06.000000 700 kubelet.go:2000] "SyncLoop UPDATE" source="api" pods=["default/demo"]',
]


def lines_of(path, keep):
    try:
        with open(path, encoding='utf-8', errors='surrogateescape') as f:
            return [l.rstrip('\n') for l in f if keep(l)]
    except OSError:
        return []


def main():
    if len(sys.argv) not in (3, 5):
        sys.exit(__doc__)
    out, total = sys.argv[1], int(sys.argv[2])
    aa_pct, sc_pct = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) == 5 else (40, 30)

    apparmor = list(APPARMOR_SAMPLES)
    corpus = os.path.join(ROOT, '..', 'shared', 'corpus', 'apparmor-audit')
    if os.path.isdir(corpus):
        for name in sorted(os.listdir(corpus)):
            if name.endswith('.in'):
                first = lines_of(os.path.join(corpus, name), lambda l: l.strip())[:1]
                apparmor += [l for l in first if 'audit(' in l or 'apparmor=' in l]
    seccomp = lines_of(os.path.join(ROOT, 'producers', 'probe', 'testdata', 'seccomp.log'),
                       lambda l: l.startswith('type=') or ' audit: ' in l)
    if not seccomp:
        seccomp = ['type=SECCOMP msg=audit(1795887144.986:4): auid=4294967295 uid=0 gid=0 '
                   'ses=4294967295 pid=4247 comm="cap" exe="/tmp/cap/cap" sig=0 arch=c000003e '
                   'syscall=39 compat=0 ip=0x7f719c7c8829 code=0x7ffc0000']

    rng = random.Random(7)
    records = 0
    with open(out, 'w', encoding='utf-8', errors='surrogateescape') as f:
        chunk = []
        for _ in range(total):
            r = rng.randrange(100)
            if r < aa_pct:
                line = apparmor[rng.randrange(len(apparmor))]
            elif r < aa_pct + sc_pct:
                line = seccomp[rng.randrange(len(seccomp))]
            else:
                line = UNRELATED[rng.randrange(len(UNRELATED))]
            if 'audit(' in line or 'apparmor=' in line:
                records += 1
            chunk.append(line)
            if len(chunk) == 10000:
                f.write('\n'.join(chunk) + '\n')
                chunk = []
        if chunk:
            f.write('\n'.join(chunk) + '\n')
    print(total, records)


if __name__ == '__main__':
    main()
