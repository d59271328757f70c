"""Nothing lost, nothing invented, whatever fails in between: merger workers
killed mid-batch, PostgreSQL restarted, workers joining and leaving, the
Kafka broker stopped during modeling. Every check compares exact counts and
merged sets with what a clean pass over the same recorded events gives."""
import json
import os
import random
import signal
import subprocess
import time
import uuid

import pytest

from conftest import REPO

EVENTS = 40000
DISTINCT = 3000
POLICIES = 2


def psql(env, sql):
    r = subprocess.run(["psql", env["ARMORSMITH_PG_DSN"], "-v", "ON_ERROR_STOP=1", "-At",
                        "-c", sql], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def history_count(env, prefix):
    # As policy_history() does (docs/sql.md), so that only the runs' page
    # ranges are read: the view scans whole days, seconds on a store that
    # holds benchmark runs.
    return int(psql(env, f"SELECT count(*) FROM run_keys k CROSS JOIN LATERAL (SELECT 1 "
                         f"FROM event_history h WHERE h.run_id = k.run_id OFFSET 0) x "
                         f"WHERE k.policy_key LIKE '{prefix}/%'"))


def merged_snapshot(env, prefix):
    return psql(env, f"SELECT policy_key, kind, item, hit_count, nodes FROM behaviors "
                     f"WHERE policy_key LIKE '{prefix}/%' ORDER BY 1, 2, 3")


def start_group_at_end(bin_dir, env, group):
    """A fresh group starting at the topics' current end (like bench/)."""
    out = subprocess.run([str(bin_dir / "bench-produce"), "--offsets",
                          env["ARMORSMITH_KAFKA_BROKERS"]], check=True, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        topic, part, high = line.split()
        psql(env, f"INSERT INTO consumer_offsets VALUES ('{group}', '{topic}', {part}, "
                  f"{high}) ON CONFLICT DO NOTHING")


def produce(bin_dir, env, prefix, events=EVENTS):
    subprocess.run([str(bin_dir / "bench-produce"), env["ARMORSMITH_KAFKA_BROKERS"], prefix,
                    str(POLICIES), str(events), str(DISTINCT)], check=True,
                   capture_output=True)


def merger(bin_dir, env, group, log, *extra):
    return subprocess.Popen([str(bin_dir / "armorsmith-merger"), "--group", group,
                             "--batch-size", "2000", *extra], env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def finish(bin_dir, env, group, tmp_path):
    with open(tmp_path / "final.log", "ab") as log:
        # Longer than a killed member's session timeout (6 s) plus a
        # rebalance, so partitions still held by a dead member come back.
        p = merger(bin_dir, env, group, log, "--exit-when-idle", "15s")
        assert p.wait(timeout=300) == 0, (tmp_path / "final.log").read_text()


def wait_for_progress(env, prefix, above, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        n = history_count(env, prefix)
        if n > above:
            return n
        time.sleep(0.05)
    pytest.fail(f"no merge progress past {above} rows in {timeout}s")


def expected_distinct(policy, events=EVENTS):
    """Distinct behaviors bench-produce writes for one policy: event i goes to
    policy i % POLICIES and carries behavior i % DISTINCT."""
    return len({i % DISTINCT for i in range(events) if i % POLICIES == policy})


def check_exact(env, prefix, bin_dir, events=EVENTS):
    assert history_count(env, prefix) == events
    for p in range(POLICIES):
        key = f"{prefix}/p{p}"
        rows = int(psql(env, f"SELECT count(*) FROM behaviors WHERE policy_key = '{key}'"))
        hits = int(psql(env, f"SELECT sum(hit_count) FROM behaviors WHERE policy_key = '{key}'"))
        assert rows == expected_distinct(p, events)
        assert hits == events // POLICIES
    # A clean rebuild from the same recorded stream must give the same sets.
    before = merged_snapshot(env, prefix)
    for p in range(POLICIES):
        r = subprocess.run([str(bin_dir / "armorsmith"), "replay", "--namespace", prefix,
                            "--name", f"p{p}"], env=env, capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stderr
    assert merged_snapshot(env, prefix) == before


def test_merger_killed_mid_batch_ten_times(bin_dir, services_env, tmp_path):
    events = 12 * EVENTS  # enough that ten kills land while the stream is still merging
    prefix = f"kill{uuid.uuid4().hex[:6]}"
    group = f"{prefix}-group"
    start_group_at_end(bin_dir, services_env, group)
    produce(bin_dir, services_env, prefix, events)
    seen, mid_stream = 0, 0
    with open(tmp_path / "killed.log", "ab") as log:
        for _ in range(10):
            # Small batches: more transactions for a kill to land in, and a
            # stream that outlasts ten kills however fast the merge gets
            # (at 300 a merger that takes messages 1024 at a time finished
            # the stream within two kills).
            p = merger(bin_dir, services_env, group, log, "--batch-size", "100")
            if seen < events:
                seen = wait_for_progress(services_env, prefix, seen)
            time.sleep(random.uniform(0.0, 0.3))
            p.send_signal(signal.SIGKILL)
            p.wait()
            mid_stream += history_count(services_env, prefix) < events
    assert mid_stream >= 5, f"only {mid_stream} kills landed before the stream was merged"
    finish(bin_dir, services_env, group, tmp_path)
    check_exact(services_env, prefix, bin_dir, events)


def test_postgres_restarted_while_merging(bin_dir, services_env, tmp_path):
    prefix = f"pgrst{uuid.uuid4().hex[:6]}"
    group = f"{prefix}-group"
    events = 4 * EVENTS  # a stream that outlasts stopping postgresql
    start_group_at_end(bin_dir, services_env, group)
    produce(bin_dir, services_env, prefix, events)
    pg = str(REPO / "deploy/local/postgres.sh")
    with open(tmp_path / "merger.log", "ab") as log:
        # Small batches, so the restart lands while the stream is merging.
        p = merger(bin_dir, services_env, group, log, "--exit-when-idle", "8s",
                   "--batch-size", "300")
        wait_for_progress(services_env, prefix, 0)
        merged_before_stop = history_count(services_env, prefix)
        subprocess.run([pg, "stop"], check=True, capture_output=True)
        time.sleep(3)
        subprocess.run([pg, "start"], check=True, capture_output=True)
        assert p.wait(timeout=300) == 0, (tmp_path / "merger.log").read_text()
    assert merged_before_stop < events, "postgresql stopped after the stream was merged"
    assert "reconnected to postgresql" in (tmp_path / "merger.log").read_text()
    check_exact(services_env, prefix, bin_dir, events)


def test_workers_join_and_leave(bin_dir, services_env, tmp_path):
    prefix = f"join{uuid.uuid4().hex[:6]}"
    group = f"{prefix}-group"
    start_group_at_end(bin_dir, services_env, group)
    produce(bin_dir, services_env, prefix)
    with open(tmp_path / "workers.log", "ab") as log:
        a = merger(bin_dir, services_env, group, log)
        n = wait_for_progress(services_env, prefix, 0)
        b = merger(bin_dir, services_env, group, log)  # joins: partitions move
        n = wait_for_progress(services_env, prefix, n)
        a.send_signal(signal.SIGTERM)  # leaves cleanly mid-stream
        assert a.wait(timeout=60) == 0
        c = merger(bin_dir, services_env, group, log)  # another one joins
        time.sleep(2)
        b.send_signal(signal.SIGTERM)
        assert b.wait(timeout=60) == 0
        c.send_signal(signal.SIGTERM)
        assert c.wait(timeout=60) == 0
    finish(bin_dir, services_env, group, tmp_path)
    check_exact(services_env, prefix, bin_dir)


def test_kafka_stopped_for_a_minute_during_modeling(bin_dir, services_env, tmp_path):
    """The broker goes away while the target runs; the probe keeps capturing
    and delivers when it returns; the profile equals a clean run's."""
    script = "cat /etc/hostname; sleep 75; id; ls / >/dev/null"
    kafka = str(REPO / "deploy/local/kafka.sh")

    def run(name, outage):
        p = subprocess.Popen([str(bin_dir / "armorsmith"), "model", "--name", name, "--out",
                              str(tmp_path), "--", "sh", "-c", script], env=services_env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if outage:
            time.sleep(8)
            subprocess.run([kafka, "stop"], check=True, capture_output=True)
            time.sleep(60)
            subprocess.run([kafka, "start"], check=True, capture_output=True)
        out, err = p.communicate(timeout=400)
        assert p.returncode == 0, err
        return json.loads((tmp_path / f"{name}.seccomp.json").read_text())

    outage = run(f"outage-{uuid.uuid4().hex[:6]}", True)
    clean = run(f"clean-{uuid.uuid4().hex[:6]}", False)
    assert outage == clean
