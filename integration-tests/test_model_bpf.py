"""BPF capture end to end: a script of known operations modeled with
`armorsmith model` (default source: bpf); every operation shows up in the
profile with the right path and permissions, and nothing the script did not
do. Recall against strace -f for executions, opened files and syscalls."""
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import uuid

import pytest

WORK = "/var/lib/armorsmith-e2e"


@pytest.fixture
def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    stop = threading.Event()

    def serve():
        s.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = s.accept()
                c.close()
            except OSError:
                pass
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield s.getsockname()[1]
    stop.set()
    t.join()
    s.close()


def script(port):
    # Relative paths from a cd, a rename, an append, a read, an exec and a
    # loopback connection; chown needs CAP_CHOWN.
    return (f"mkdir -p {WORK}/work && cd {WORK}/work && "
            "echo one > created.txt && echo two >> created.txt && cat created.txt >/dev/null && "
            "mv created.txt renamed.txt && chown nobody renamed.txt && /usr/bin/id >/dev/null && "
            f"exec 3<>/dev/tcp/127.0.0.1/{port}")


def test_known_operations_appear_with_paths_and_permissions(bin_dir, services_env, tmp_path,
                                                            listener):
    shutil.rmtree(WORK, ignore_errors=True)
    name = f"bpf-{uuid.uuid4().hex[:8]}"
    r = subprocess.run([str(bin_dir / "armorsmith"), "model", "--name", name, "--out",
                        str(tmp_path), "--", "bash", "-c", script(listener)],
                       env=services_env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    profile = (tmp_path / f"{name}.apparmor").read_text()
    model = json.loads((tmp_path / f"{name}.armorprofilemodel.json").read_text())
    bpf = model["data"]["dynamicResult"]["bpf"]

    assert "  /usr/bin/id ix,\n" in profile
    assert "  /usr/bin/bash ix,\n" in profile
    files = {f["path"]: "".join(f["permissions"]) for f in bpf["files"]}
    # Created, then appended: w (AppArmor drops a when w is there).
    assert files[f"{WORK}/work/created.txt"] == "rw"
    assert f"{WORK}/work/renamed.txt" in files
    renamed = [f for f in bpf["files"] if f["path"] == f"{WORK}/work/renamed.txt"]
    assert any(f.get("oldPath") == f"{WORK}/work/created.txt" for f in renamed)
    assert f"  {WORK}/work/created.txt rw,\n" in profile
    assert "chown" in bpf.get("capabilities", [])
    assert "  capability chown,\n" in profile
    egress = {e["ip"]: e["ports"] for e in bpf["network"].get("egresses", [])}
    assert listener in egress.get("127.0.0.1", [])
    assert {"domain": "inet", "type": "stream", "protocol": "tcp"} in bpf["network"]["sockets"]
    # Nothing invented: no rule for files the script never touched.
    assert "/etc/shadow" not in profile
    assert "capability sys_admin" not in profile


def test_recall_against_strace(bin_dir, services_env, tmp_path, listener):
    shutil.rmtree(WORK, ignore_errors=True)
    name = f"bpfrecall-{uuid.uuid4().hex[:8]}"
    cmd = ["bash", "-c", script(listener)]
    r = subprocess.run([str(bin_dir / "armorsmith"), "model", "--name", name, "--out",
                        str(tmp_path), "--", *cmd], env=services_env, capture_output=True,
                       text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    shutil.rmtree(WORK, ignore_errors=True)
    log = tmp_path / "strace.log"
    # -y: strace prints the file an fd refers to, so opens of relative paths
    # come with the absolute path the kernel resolved.
    subprocess.run(["strace", "-f", "-qq", "-y", "-o", str(log), *cmd], check=True)
    syscalls, execs, opened = set(), set(), set()
    for line in log.read_text().splitlines():
        m = re.match(r"^\d+\s+([a-z0-9_]+)\(", line)
        if m:
            syscalls.add(m.group(1))
        m = re.match(r'^\d+\s+execve\("([^"]+)".* = 0$', line)
        if m:
            execs.add(os.path.realpath(m.group(1)))
        m = re.match(r"^\d+\s+(?:open|openat|openat2|creat)\(.* = \d+<(/[^>]*)>$", line)
        if m:
            opened.add(m.group(1))
    prof = json.loads((tmp_path / f"{name}.seccomp.json").read_text())
    allowed = set(prof["syscalls"][0]["names"]) | set(prof["syscalls"][1]["names"])
    assert syscalls <= allowed, sorted(syscalls - allowed)
    model = json.loads((tmp_path / f"{name}.armorprofilemodel.json").read_text())
    assert execs <= set(model["data"]["dynamicResult"]["bpf"]["executions"])
    # Every file strace saw opened is covered by a file rule (rules may be
    # globs after path normalisation: ** any depth, * one segment).
    assert opened, "strace saw no opens"
    rules = [f["path"] for f in model["data"]["dynamicResult"]["bpf"]["files"]]

    def covered(path):
        for rule in rules:
            rx = "".join(".*" if tok == "**" else "[^/]*" if tok == "*" else re.escape(tok)
                         for tok in re.split(r"(\*\*|\*)", rule))
            if re.fullmatch(rx, path) or re.fullmatch(rx, path + "/"):
                return True
        return False
    missing = sorted(p for p in opened if not covered(p))
    assert not missing, (missing, rules)


def psql(env, sql):
    r = subprocess.run(["psql", env["ARMORSMITH_PG_DSN"], "-v", "ON_ERROR_STOP=1", "-At",
                        "-c", sql], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_accept_is_no_egress_and_mprotect_exec_maps(bin_dir, services_env, tmp_path, listener):
    """A server in the workload binds, listens and accepts a connection the
    test makes from outside: the accept is captured (operation accept, the
    local port), and neither it nor the bind or listen becomes an egress;
    the workload's own connect does. A file mapped PROT_READ and then
    mprotect'ed PROT_READ|PROT_EXEC gets m (mmap alone would not)."""
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    lib = f"{WORK}/plugin.bin"
    with open(lib, "wb") as f:
        f.write(b"\0" * 4096)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = (
        "import ctypes, os, socket\n"
        "s = socket.socket()\n"
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"s.bind(('127.0.0.1', {port}))\n"
        "s.listen(1)\n"
        "a, _ = s.accept()\n"
        "a.close()\n"
        f"socket.create_connection(('127.0.0.1', {listener}), timeout=5).close()\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "libc.mmap.restype = ctypes.c_void_p\n"
        "libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,\n"
        "                      ctypes.c_int, ctypes.c_long]\n"
        "libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]\n"
        f"fd = os.open('{lib}', os.O_RDONLY)\n"
        "p = libc.mmap(None, 4096, 1, 2, fd, 0)\n"  # PROT_READ, MAP_PRIVATE
        "assert p not in (None, ctypes.c_void_p(-1).value), ctypes.get_errno()\n"
        "assert libc.mprotect(p, 4096, 5) == 0, ctypes.get_errno()\n"  # READ|EXEC
    )
    done = threading.Event()

    def client():
        while not done.is_set():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                done.wait(0.1)
    t = threading.Thread(target=client, daemon=True)
    t.start()
    name = f"bpfaccept-{uuid.uuid4().hex[:8]}"
    try:
        r = subprocess.run([str(bin_dir / "armorsmith"), "model", "--name", name, "--out",
                            str(tmp_path), "--", "python3", "-c", server],
                           env=services_env, capture_output=True, text=True, timeout=240)
    finally:
        done.set()
        t.join()
        shutil.rmtree(WORK, ignore_errors=True)
    assert r.returncode == 0, r.stderr
    model = json.loads((tmp_path / f"{name}.armorprofilemodel.json").read_text())
    bpf = model["data"]["dynamicResult"]["bpf"]
    profile = (tmp_path / f"{name}.apparmor").read_text()

    egress = {e["ip"]: e["ports"] for e in bpf["network"].get("egresses", [])}
    assert egress.get("127.0.0.1") == [listener], egress
    assert {"domain": "inet", "type": "stream", "protocol": "tcp"} in bpf["network"]["sockets"]
    rows = psql(services_env,
                "SELECT behavior->>'operation', behavior->>'address', behavior->>'port' "
                "FROM behavior_history WHERE kind = 'network' "
                f"AND policy_key = 'default/{name}' ORDER BY 1").splitlines()
    assert f"accept||{port}" in rows, rows
    assert f"bind||{port}" in rows and f"listen||{port}" in rows, rows

    files = {f["path"]: "".join(f["permissions"]) for f in bpf["files"]}
    assert "m" in files.get(lib, ""), files.get(lib)
    assert f"  {lib} mr,\n" in profile


def test_capabilities_inferred_without_the_tracepoint(bin_dir, services_env, tmp_path):
    """ARMORSMITH_BPF_CAPABILITIES=syscalls makes the probe behave as on a
    kernel without capability:cap_capable: capabilities come from the
    documented table (producers/probe/cap_infer.h). Each one here is earned
    by an operation of the script, and one the script does not need (as root
    on its own file, chmod needs no capability) is absent. mkfifo shows the
    table is what answered: mknodat of a FIFO needs no capability, so the
    tracepoint would never report mknod, while the table (deliberately
    erring towards allowing) does."""
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    name = f"capinfer-{uuid.uuid4().hex[:8]}"
    script = (f"cd {WORK} && echo x > f && chmod 600 f && chown nobody f && mkfifo p && "
              "unshare -m true && "
              "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0))' && "
              "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 1023))' && "
              "python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)'")
    env = dict(services_env, ARMORSMITH_BPF_CAPABILITIES="syscalls")
    r = subprocess.run([str(bin_dir / "armorsmith"), "model", "--name", name, "--out",
                        str(tmp_path), "--", "bash", "-c", script],
                       env=env, capture_output=True, text=True, timeout=240)
    shutil.rmtree(WORK, ignore_errors=True)
    assert r.returncode == 0, r.stderr
    model = json.loads((tmp_path / f"{name}.armorprofilemodel.json").read_text())
    caps = set(model["data"]["dynamicResult"]["bpf"]["capabilities"])
    assert {"chown", "sys_admin", "net_bind_service", "net_raw", "mknod"} <= caps, caps
    assert "fowner" not in caps and "dac_override" not in caps, caps
    profile = (tmp_path / f"{name}.apparmor").read_text()
    for cap in ("chown", "sys_admin", "net_bind_service", "net_raw"):
        assert f"capability {cap}," in profile
