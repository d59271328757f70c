"""The queries in docs/sql.md run against a real store and answer what they
claim; `armorsmith diff` agrees with the run_changes view."""
import re
import subprocess
import uuid

from conftest import REPO


def psql(env, sql):
    r = subprocess.run(["psql", env["ARMORSMITH_PG_DSN"], "-v", "ON_ERROR_STOP=1", "-AtF",
                        "\t", "-c", sql], capture_output=True, text=True)
    assert r.returncode == 0, f"{sql}\n{r.stderr}"
    return [line.split("\t") for line in r.stdout.splitlines() if line]


def model(bin_dir, env, tmp_path, name, script):
    r = subprocess.run([str(bin_dir / "armorsmith"), "model", "--name", name, "--out",
                        str(tmp_path), "--", "sh", "-c", script], env=env,
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr


def test_documented_queries_and_diff(bin_dir, services_env, tmp_path):
    name = f"sqldoc-{uuid.uuid4().hex[:8]}"
    key = f"default/{name}"
    model(bin_dir, services_env, tmp_path, name, "cat /etc/hostname")
    # The second run also lists a directory and looks up a user: new syscalls.
    model(bin_dir, services_env, tmp_path, name, "cat /etc/hostname; ls / >/dev/null; id")

    blocks = re.findall(r"```sql\n(.*?)```", (REPO / "docs/sql.md").read_text(), re.S)
    assert len(blocks) >= 3
    results = [psql(services_env, b.replace("default/demo", key)) for b in blocks]

    runs = psql(services_env, f"SELECT generation FROM runs WHERE policy_key = '{key}' "
                              "ORDER BY generation")
    assert len(runs) == 2
    added = {(r[1], r[2]) for r in results[1] if r[0] == "added"}
    assert ("syscall", "getdents64") in added  # ls reads the directory
    per_run = {r[0]: int(r[1]) for r in results[2]}
    assert per_run["execve"] == 2 and per_run["getdents64"] == 1

    diff = subprocess.run([str(bin_dir / "armorsmith"), "diff", "--name", name],
                          env=services_env, capture_output=True, text=True)
    assert diff.returncode == 1, diff.stderr
    section = diff.stdout.split("## behaviors\n")[1].split("##")[0]
    diff_added = {tuple(line[2:].split(" ", 1)) for line in section.splitlines()
                  if line.startswith("+ ")}
    assert diff_added == added
    same = subprocess.run([str(bin_dir / "armorsmith"), "diff", "--name", name, "--from",
                           runs[1][0], "--to", runs[1][0]], env=services_env,
                          capture_output=True, text=True)
    assert same.returncode == 0, same.stdout + same.stderr
