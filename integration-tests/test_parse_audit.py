"""armorsmith parse-audit as a user runs it: one JSON object per audit record,
non-audit lines skipped, a damaged record still emitted as INVALID with an
error naming its line, and the shared libapparmor corpus classified as
libapparmor does."""
import json
import subprocess

import pytest

from conftest import REPO, shared_dir

LOG = REPO / "integration-tests/data/seed-demo-complain.log"


def parse(bin_dir, *args, stdin=None):
    return subprocess.run([str(bin_dir / "armorsmith"), "parse-audit", "--json", *args],
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_records_as_json_lines(bin_dir):
    r = parse(bin_dir, str(LOG))
    assert r.returncode == 0, r.stderr
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    lines = LOG.read_text().splitlines()
    # Every line but the one unrelated kernel line is an audit record.
    assert len(objs) == len(lines) - 1
    kinds = [o["apparmor"] for o in objs]
    assert kinds.count("DENIED") == 1 and kinds.count("STATUS") == 1
    assert kinds[-1] == "INVALID" and "line 30" in r.stderr
    first = objs[0]
    assert first["operation"] == "exec" and first["name"] == "/usr/bin/sleep"
    assert first["name2"] == "varmor-cluster-varmor-demo-4//null-/usr/bin/sleep"
    assert isinstance(first["pid"], int) and first["audit_id"] == "1764300000.301:301"


def test_reads_stdin_and_survives_garbage(bin_dir):
    garbage = "\x00\x01 not audit\n" + "type=AVC msg=audit(" + "9" * 5000 + "\n" + "x" * 200000
    r = parse(bin_dir, "-", stdin=garbage)
    assert r.returncode == 0
    for line in r.stdout.splitlines():
        json.loads(line)


def test_unreadable_input_is_an_error(bin_dir, tmp_path):
    r = parse(bin_dir, str(tmp_path / "missing.log"))
    assert r.returncode != 0 and "missing.log" in r.stderr


def test_corpus_classification(bin_dir):
    corpus = shared_dir() and shared_dir() / "corpus/apparmor-audit"
    if not corpus or not corpus.is_dir():
        pytest.skip("../shared/corpus is absent; the conformance unit test covers it in CI")
    checked = 0
    for inp in sorted(corpus.glob("*.in")):
        expected = {}
        for line in inp.with_suffix(".out").read_text().splitlines():
            if ": " in line:
                k, v = line.split(": ", 1)
                expected[k.strip()] = v.strip()
        r = parse(bin_dir, str(inp))
        assert r.returncode == 0
        objs = [json.loads(line) for line in r.stdout.splitlines()]
        want = expected.get("Event type", "").replace("AA_RECORD_", "")
        if want == "INVALID" and not objs:
            continue  # no audit record at all: the command skips such lines
        if want:
            assert objs, inp.name
            assert objs[0]["apparmor"] == want, inp.name
            checked += 1
    assert checked > 30
