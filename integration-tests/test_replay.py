"""armorsmith replay rebuilds a policy's projection from Kafka alone: the same
history rows, the same merged sets, byte-identical profiles."""
import subprocess
import uuid


def psql(env, sql):
    r = subprocess.run(["psql", env["ARMORSMITH_PG_DSN"], "-v", "ON_ERROR_STOP=1", "-At",
                        "-c", sql], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def snapshot(env, key):
    return {
        "history": psql(env, f"SELECT event_id, kind, behavior FROM behavior_history "
                             f"WHERE policy_key = '{key}' ORDER BY event_id"),
        "behaviors": psql(env, f"SELECT generation, kind, item, hit_count, nodes FROM "
                               f"behaviors WHERE policy_key = '{key}' ORDER BY 1, 2, 3"),
        "reports": psql(env, f"SELECT generation, node, phase, events_published FROM "
                             f"node_reports WHERE policy_key = '{key}' ORDER BY 1, 2, 3"),
    }


def test_replay_rebuilds_identically(bin_dir, services_env, tmp_path):
    name = f"replay-{uuid.uuid4().hex[:8]}"
    key = f"default/{name}"
    for script in ("cat /etc/hostname", "ls / >/dev/null; id"):
        r = subprocess.run([str(bin_dir / "armorsmith"), "model", "--name", name, "--out",
                            str(tmp_path), "--", "sh", "-c", script], env=services_env,
                           capture_output=True, text=True, timeout=240)
        assert r.returncode == 0, r.stderr
    before = snapshot(services_env, key)
    assert before["history"].count("\n") > 20

    # Lose the projection entirely, as if the database had been rebuilt.
    # behavior_history is a view over the partitioned event_history, which is
    # keyed by run id.
    psql(services_env, f"DELETE FROM event_history WHERE run_id IN (SELECT run_id FROM "
                       f"run_keys WHERE policy_key = '{key}')")
    for table in ("merged_syscalls", "node_reports"):
        psql(services_env, f"DELETE FROM {table} WHERE policy_key = '{key}'")
    assert snapshot(services_env, key)["history"] == ""

    r = subprocess.run([str(bin_dir / "armorsmith"), "replay", "--name", name],
                       env=services_env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("profiles byte-identical") == 2, r.stdout
    assert snapshot(services_env, key) == before

    # Replaying again changes nothing either.
    r = subprocess.run([str(bin_dir / "armorsmith"), "replay", "--name", name],
                       env=services_env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0
    assert snapshot(services_env, key) == before


def test_replay_needs_a_target(bin_dir, services_env):
    r = subprocess.run([str(bin_dir / "armorsmith"), "replay"], env=services_env,
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--name or --all" in r.stderr
