"""The apparmor-audit source: `armorsmith model` fed recorded complain-mode
audit lines of the seed's demo workload (VarmorClusterPolicy demo-4: cat
/etc/shadow, unshare -Un id, echo > /root/c1, cat /root/c1, sleep) yields the
seed's example AppArmor profile byte for byte; records that are DENIED, of
another profile or truncated earn nothing."""
import json
import subprocess

import pytest
import yaml

import crd_schema
from conftest import REPO, shared_dir

NAME = "varmor-cluster-varmor-demo-4"
LOG = REPO / "integration-tests/data/seed-demo-complain.log"
SEED_PROFILE = REPO / "consumers/builder/testdata/seed_profile.apparmor"


@pytest.fixture(scope="module")
def seed_model(bin_dir, services_env, tmp_path_factory):
    out = tmp_path_factory.mktemp("seed")
    r = subprocess.run([str(bin_dir / "armorsmith"), "model", "--name", NAME, "--namespace",
                        "varmor", "--sources", "apparmor-audit", "--audit-log", str(LOG),
                        "--out", str(out), "--", "true"], env=services_env,
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    return out, r


def test_profile_is_the_seeds_example(seed_model):
    out, _ = seed_model
    assert (out / f"{NAME}.apparmor").read_text() == SEED_PROFILE.read_text()


def test_seed_example_is_the_seeds_own_text():
    """The expected text is the seed's, not one we wrote to match ourselves."""
    if shared_dir() is None:
        pytest.skip("../shared/seed is absent; cannot compare with the seed document")
    seed = (shared_dir() / "seed/behavior_modeling.md").read_text()
    block = seed.split("jsonpath='{.data.profile.content}'\n", 1)[1].split("```", 1)[0]
    # The document puts a blank line before its closing fence; the rest,
    # leading newline included, is the profile byte for byte.
    assert block.rstrip("\n") + "\n" == SEED_PROFILE.read_text()


def test_model_carries_the_apparmor_data(seed_model):
    out, r = seed_model
    obj = json.loads((out / f"{NAME}.armorprofilemodel.json").read_text())
    aa = obj["data"]["dynamicResult"]["apparmor"]
    assert aa["executions"] == ["/usr/bin/id", "/usr/bin/sleep", "/usr/bin/unshare"]
    assert aa["capabilities"] == ["sys_admin"]
    paths = {f["path"]: f for f in aa["files"]}
    assert paths["/root/c1"] == {"path": "/root/c1", "permissions": ["r", "w"], "owner": True}
    for earned_nothing in ("/etc/denied-file", "/etc/other-profile-file",
                           "/etc/prefix-lookalike", "/etc/trunc"):
        assert earned_nothing not in paths
    assert obj["data"]["profile"]["enforcer"] == "AppArmor"
    assert "seccompContent" not in obj["data"]["profile"]
    assert not (out / f"{NAME}.seccomp.json").exists()
    assert "no seccomp profile" in r.stderr
    assert yaml.safe_load((out / f"{NAME}.armorprofilemodel.yaml").read_text()) == obj
    if shared_dir() is not None:
        crd_schema.validate_apm(obj)
