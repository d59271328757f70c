"""End to end: `armorsmith model` of real commands through the real pipeline
(probe -> Kafka -> merger -> PostgreSQL -> builder), then the generated
seccomp profile enforced with libseccomp."""
import json
import os
import re
import subprocess
import time
import uuid

import pytest
import yaml

import crd_schema
from conftest import shared_dir

SIX = ["open", "openat", "openat2", "close", "read", "write"]
DEMO_CMD = ["sh", "-c", "cat /etc/hostname; id; ls /"]


def model(bin_dir, env, out, name, cmd, *extra, timeout=240):
    return subprocess.run([str(bin_dir / "armorsmith"), "model", "--name", name, "--out",
                           str(out), *extra, "--", *cmd], env=env, capture_output=True,
                          text=True, timeout=timeout)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module", params=["bpf", "seccomp-audit"])
def demo(request, bin_dir, services_env, tmp_path_factory):
    """The seed's demo command modeled through each syscall source."""
    out = tmp_path_factory.mktemp("demo")
    name = unique("demo")
    r = model(bin_dir, services_env, out, name, DEMO_CMD, "--sources", request.param)
    assert r.returncode == 0, f"armorsmith model failed:\n{r.stderr}"
    return {"out": out, "name": name, "result": r, "sources": request.param}


def strace_syscalls(cmd, tmp_path):
    log = tmp_path / "strace.log"
    subprocess.run(["strace", "-f", "-qq", "-o", str(log), *cmd], check=True,
                   capture_output=True)
    names = set()
    for line in log.read_text().splitlines():
        m = re.match(r"^\d+\s+([a-z0-9_]+)\(", line)
        if m:
            names.add(m.group(1))
    return names


def test_writes_all_four_files(demo):
    for suffix in ("seccomp.json", "apparmor", "armorprofilemodel.yaml",
                   "armorprofilemodel.json"):
        f = demo["out"] / f"{demo['name']}.{suffix}"
        assert f.is_file() and f.stat().st_size > 0, f


def test_progress_is_reported(demo):
    err = demo["result"].stderr
    assert "phase" in err and "nodes joined" in err
    assert "profile built" in err


def test_seccomp_profile_has_the_seed_format(demo):
    text = (demo["out"] / f"{demo['name']}.seccomp.json").read_text()
    prof = json.loads(text)
    assert text == json.dumps(prof, separators=(",", ":")), "not compact"
    assert list(prof) == ["defaultAction", "syscalls"]
    assert prof["defaultAction"] == "SCMP_ACT_ERRNO"
    assert prof["syscalls"][0] == {"names": SIX, "action": "SCMP_ACT_ALLOW"}
    observed = prof["syscalls"][1]["names"]
    assert prof["syscalls"][1]["action"] == "SCMP_ACT_ALLOW"
    assert observed == sorted(observed) and len(set(observed)) == len(observed)
    assert not set(observed) & set(SIX)
    # The shell forks and execs the three commands: these must have been seen.
    for name in ("execve", "exit_group", "getdents64", "wait4"):
        assert name in observed, name


def test_model_object_carries_the_profiles(demo):
    obj = json.loads((demo["out"] / f"{demo['name']}.armorprofilemodel.json").read_text())
    seccomp = (demo["out"] / f"{demo['name']}.seccomp.json").read_text()
    apparmor = (demo["out"] / f"{demo['name']}.apparmor").read_text()
    assert obj["apiVersion"] == "crd.varmor.org/v1beta1"
    assert obj["kind"] == "ArmorProfileModel"
    assert obj["metadata"] == {"name": demo["name"], "namespace": "default"}
    assert obj["storageType"] == "CRDInternal"
    assert obj["data"]["profile"]["seccompContent"] == seccomp
    assert obj["data"]["profile"]["content"] == apparmor
    syscalls = obj["data"]["dynamicResult"]["seccomp"]["syscalls"]
    assert set(json.loads(seccomp)["syscalls"][1]["names"]) <= set(syscalls)
    st = obj["status"]
    assert st["desiredNumber"] == 1 and st["completedNumber"] == 1 and st["ready"] is True
    if demo["sources"] == "bpf":
        assert obj["data"]["profile"]["enforcer"] == "BPFSeccomp"
        bpf = obj["data"]["dynamicResult"]["bpf"]
        assert {"/usr/bin/id", "/usr/bin/ls", "/usr/bin/cat"} <= set(bpf["executions"])
        assert {"path": "/etc/hostname", "permissions": ["r"]} in bpf["files"]
    else:
        assert obj["data"]["profile"]["enforcer"] == "Seccomp"
        assert "bpf" not in obj["data"]["dynamicResult"]


def test_yaml_and_json_are_the_same_object(demo):
    j = json.loads((demo["out"] / f"{demo['name']}.armorprofilemodel.json").read_text())
    y = yaml.safe_load((demo["out"] / f"{demo['name']}.armorprofilemodel.yaml").read_text())
    assert y == j


def test_model_validates_against_the_crd(demo):
    if shared_dir() is None:
        pytest.skip("../shared (the CRD contracts) is absent; nothing to validate against")
    obj = json.loads((demo["out"] / f"{demo['name']}.armorprofilemodel.json").read_text())
    crd_schema.validate_apm(obj)


def test_apparmor_profile_has_the_seed_layout(demo):
    text = (demo["out"] / f"{demo['name']}.apparmor").read_text()
    # vArmor's template starts with a newline (the seed's blank first line).
    assert text.startswith("\n## == Managed by vArmor == ##\n\nabi <abi/3.0>,\n")
    assert f"profile {demo['name']} flags=(attach_disconnected,mediate_deleted) {{" in text
    sections = re.findall(r"# ---- (\w+) ----", text)
    assert sections == ["EXEC", "FILE", "CAPABILITY", "NETWORK", "PTRACE", "SIGNAL",
                        "ADDITIONAL"]


def test_command_runs_under_its_profile_and_unseen_syscalls_are_denied(demo, bin_dir,
                                                                       tmp_path):
    prof_path = demo["out"] / f"{demo['name']}.seccomp.json"
    exec_tool = str(bin_dir / "seccomp-exec")
    plain = subprocess.run(DEMO_CMD, capture_output=True, text=True)
    confined = subprocess.run([exec_tool, str(prof_path), *DEMO_CMD], capture_output=True,
                              text=True)
    assert confined.returncode == 0, confined.stderr
    assert confined.stdout == plain.stdout

    # Every syscall strace sees the command make is in the profile.
    prof = json.loads(prof_path.read_text())
    allowed = set(SIX) | set(prof["syscalls"][1]["names"])
    seen = strace_syscalls(DEMO_CMD, tmp_path)
    assert seen, "strace saw nothing"
    assert seen <= allowed, f"made but not in the profile: {sorted(seen - allowed)}"

    # A syscall the workload never made is denied under the profile.
    for never in ("unshare", "mount", "setns"):
        assert never not in allowed
    denied = subprocess.run([exec_tool, str(prof_path), "unshare", "--user", "true"],
                            capture_output=True, text=True)
    assert denied.returncode != 0
    assert "Operation not permitted" in denied.stderr


def test_duration_ends_a_long_running_target(bin_dir, services_env, tmp_path):
    name = unique("sleeper")
    start = time.monotonic()
    r = model(bin_dir, services_env, tmp_path, name, ["sleep", "300"], "--duration", "3s")
    elapsed = time.monotonic() - start
    assert r.returncode == 0, r.stderr
    assert elapsed < 120
    prof = json.loads((tmp_path / f"{name}.seccomp.json").read_text())
    names = prof["syscalls"][1]["names"]
    assert "execve" in names
    assert "clock_nanosleep" in names or "nanosleep" in names


def test_failing_command_still_gets_profiles(bin_dir, services_env, tmp_path):
    name = unique("failing")
    r = model(bin_dir, services_env, tmp_path, name, ["sh", "-c", "ls /nonexistent-dir"])
    assert r.returncode == 0, r.stderr
    assert "exited with status" in r.stderr
    assert (tmp_path / f"{name}.seccomp.json").is_file()


def test_unreachable_kafka_is_named(bin_dir, services_env, tmp_path):
    r = model(bin_dir, services_env, tmp_path, unique("nokafka"), ["true"], "--kafka",
              "127.0.0.1:1", timeout=60)
    assert r.returncode != 0
    assert "kafka unreachable at 127.0.0.1:1" in r.stderr
    assert not list(tmp_path.iterdir())


def test_unreachable_postgres_is_named(bin_dir, services_env, tmp_path):
    r = model(bin_dir, services_env, tmp_path, unique("nopg"), ["true"], "--pg",
              "host=127.0.0.1 port=1 dbname=x connect_timeout=3", timeout=60)
    assert r.returncode != 0
    assert "postgresql unreachable" in r.stderr


def test_bad_arguments_get_clear_errors(bin_dir, services_env, tmp_path):
    cases = [
        (["--name", "Bad Name", "--", "true"], "invalid --name"),
        (["--name", "x", "--duration", "soon", "--", "true"], "invalid --duration"),
        (["--name", "x", "--sources", ",", "--", "true"], "names no source"),
        (["--name", "x", "--sources", "bpf,bogus", "--", "true"], "unknown source 'bogus'"),
        (["--name", "x"], "no COMMAND given"),
    ]
    for args, msg in cases:
        r = subprocess.run([str(bin_dir / "armorsmith"), "model", *args], env=services_env,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (args, r.stderr)
        assert msg in r.stderr, (args, r.stderr)


def test_missing_command_is_an_error(bin_dir, services_env, tmp_path):
    r = model(bin_dir, services_env, tmp_path, unique("noexec"), ["/nonexistent/cmd"])
    assert r.returncode != 0
    assert "cannot start the command" in r.stderr


def test_help_documents_every_option(bin_dir):
    r = subprocess.run([str(bin_dir / "armorsmith"), "model", "--help"], capture_output=True,
                       text=True)
    assert r.returncode == 0
    for opt in ("--name", "--namespace", "--out", "--duration", "--keep-running",
                "--sources", "--audit-log", "--kafka", "--pg", "--config",
                "ARMORSMITH_KAFKA_BROKERS", "ARMORSMITH_PG_DSN"):
        assert opt in r.stdout, opt
