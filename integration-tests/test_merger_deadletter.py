"""Garbage on the behavior topic never stops a merger: each bad message lands
on armorsmith.deadletter.v1 with its reason, and good messages around it are
merged. Uses a real Kafka and PostgreSQL and an independent Kafka client."""
import subprocess
import time
import uuid

import pytest

ck = pytest.importorskip("confluent_kafka")


def psql(env, sql):
    return subprocess.run(["psql", env["ARMORSMITH_PG_DSN"], "-Atc", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, payload):
    """A length-delimited protobuf field, written by hand so the test does not
    depend on our own encoder."""
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def syscall_event(policy, event_id, name):
    syscall = field(1, name.encode()) + field(2, b"x86_64")
    event = (field(1, policy.encode()) + field(3, b"test-node") + field(17, syscall)
             + field(20, event_id.encode()))
    return field(1, event)  # BehaviorRecord.event


def test_garbage_is_dead_lettered_and_good_messages_merged(bin_dir, services_env):
    brokers = services_env["ARMORSMITH_KAFKA_BROKERS"]
    policy = f"deadletter/{uuid.uuid4().hex[:8]}"
    producer = ck.Producer({"bootstrap.servers": brokers})
    offsets = {}

    def delivered(err, msg):
        assert err is None, err
        offsets[msg.value()] = (msg.partition(), msg.offset())

    good = syscall_event(policy, f"{policy}/1", "getpid")
    bad = [b"\xff\xff\xff\xff\x0f\x01", good[:-3], syscall_event("other/policy", "x/1", "brk")]
    for v in [bad[0], good, bad[1], bad[2]]:
        producer.produce("armorsmith.behavior.v1", key=policy.encode(), value=v,
                         on_delivery=delivered)
    assert producer.flush(30) == 0

    group = f"deadletter-test-{uuid.uuid4().hex[:8]}"
    merger = subprocess.run([str(bin_dir / "armorsmith-merger"), "--group", group,
                             "--exit-when-idle", "5s"], env=services_env,
                            capture_output=True, text=True, timeout=300)
    assert merger.returncode == 0, merger.stderr

    # The good event was merged although garbage came before and after it.
    got = psql(services_env,
               f"SELECT name FROM merged_syscalls WHERE policy_key = '{policy}'")
    assert got == "getpid"

    consumer = ck.Consumer({"bootstrap.servers": brokers, "group.id": group + "-reader",
                            "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(["armorsmith.deadletter.v1"])
    wanted = {offsets[v] for v in bad}
    found = {}
    deadline = time.time() + 60
    while wanted - set(found) and time.time() < deadline:
        msg = consumer.poll(1.0)
        if msg is None or msg.error():
            continue
        h = {k: v.decode() for k, v in (msg.headers() or [])}
        if h.get("armorsmith-source-topic") != "armorsmith.behavior.v1":
            continue
        src = (int(h["armorsmith-source-partition"]), int(h["armorsmith-source-offset"]))
        if src in wanted:
            found[src] = h["armorsmith-error"]
            assert msg.value() in bad
    consumer.close()
    assert set(found) == wanted, f"missing dead letters; got {found}"
    reasons = " | ".join(found.values())
    assert "undecodable" in reasons
    assert "another policy" in reasons
