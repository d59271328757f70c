"""The saved inputs of the parser -> generator fuzz target
(producers/probe/fuzz_apparmor_profile.c), replayed without libFuzzer: every
input passes the target's invariants, and every profile they give, hostile
file names included, compiles with apparmor_parser (too slow for the fuzz
loop itself)."""
import os
import shutil
import subprocess

import pytest

from conftest import REPO

SEEDS = REPO / "producers/probe/testdata/fuzz_apparmor_profile"
DEMO_LOG = REPO / "integration-tests/data/seed-demo-complain.log"


def replay(bin_dir, dump, *inputs):
    env = dict(os.environ, ARMORSMITH_FUZZ_DUMP=str(dump))
    return subprocess.run([str(bin_dir / "fuzz_apparmor_profile_replay"), *map(str, inputs)],
                          env=env, capture_output=True, text=True, timeout=120)


def test_seed_profiles_compile(bin_dir, tmp_path):
    parser = shutil.which("apparmor_parser", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not parser:
        pytest.fail("apparmor_parser is not installed; scripts/install-deps.sh installs it")
    seeds = sorted(p for p in SEEDS.iterdir() if not p.name.startswith("."))
    assert len(seeds) >= 20
    r = replay(bin_dir, tmp_path, SEEDS, DEMO_LOG)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{len(seeds) + 1} inputs replayed"
    profiles = sorted(tmp_path.glob("*.apparmor"))
    # One file per distinct profile: the seeds do not collapse into a few.
    assert len(profiles) >= len(seeds) - 2
    for p in profiles:
        c = subprocess.run([parser, "-Q", "-K", "--skip-kernel-load", str(p)],
                           capture_output=True, text=True, timeout=60)
        assert c.returncode == 0, f"{p.name}:\n{c.stderr}\n{p.read_text()}"


def test_hostile_names_stay_one_rule(bin_dir, tmp_path):
    """A name built to inject rules comes out as one quoted, escaped rule."""
    names = ["hostile-newline.log", "hostile-brace.log", "hostile-comma-bare.log",
             "hostile-backslash-pair.log"]
    r = replay(bin_dir, tmp_path, *(SEEDS / n for n in names))
    assert r.returncode == 0, r.stderr
    profiles = [p.read_text() for p in sorted(tmp_path.glob("*.apparmor"))]
    assert len(profiles) == 4
    for text in profiles:
        lines = text.splitlines()
        assert sum(line.startswith("profile ") for line in lines) == 1
        assert lines[-1] == "}" and lines.count("}") == 1
        assert not any("rwx," in line and not line.startswith('  owner "') for line in lines)
    text = "".join(profiles)
    assert '  owner "/data/x\\012  /\\*\\* rwx,\\012" rw,\n' in text
    assert '  owner "/data/\\}\\012profile evil \\{" rw,\n' in text
    assert '  owner "/data/a,b" rw,\n' in text
    # A trailing backslash as \\ would end in \\", which apparmor_parser
    # reads as a quote inside the string.
    assert '  owner "/data/a\\134" r,\n  owner "/data/b c" r,\n' in text
