"""ArmorProfileModel objects written by apm_model_test validate against the
vArmor CRD, and their YAML loads back to exactly their JSON."""
import copy
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

import crd_schema

REPO = Path(__file__).resolve().parent.parent
BUILDER = REPO / "consumers" / "builder"

if crd_schema.shared_dir() is None:
    pytest.skip("shared/contracts/crds not found (set ARMORSMITH_SHARED_DIR or put shared/ "
                "beside the repository): no CRD to validate against",
                allow_module_level=True)


def find_test_binary():
    env = os.environ.get("ARMORSMITH_APM_MODEL_TEST")
    candidates = [Path(env)] if env else []
    build = os.environ.get("ARMORSMITH_BUILD_DIR")
    for b in ([Path(build)] if build else []) + [REPO / "build"]:
        candidates.append(b / "bin" / "apm_model_test")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    return None


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    given = os.environ.get("ARMORSMITH_TEST_OUT")
    if given and (Path(given) / "sample.armorprofilemodel.json").is_file():
        return Path(given)
    work = tmp_path_factory.mktemp("apm")
    binary = find_test_binary()
    if binary is None:
        pytest.fail("no apm_model_test binary: run scripts/build.sh (or set "
                    "ARMORSMITH_BUILD_DIR)")
    out = work / "out"
    env = dict(os.environ, ARMORSMITH_TEST_OUT=str(out), ARMORSMITH_SOURCE_DIR=str(REPO))
    res = subprocess.run([str(binary)], env=env, capture_output=True, text=True)
    assert res.returncode == 0, f"apm_model_test failed:\n{res.stdout}\n{res.stderr}"
    return out


NAMES = ["sample", "tricky", "peers", "bpf"]


def load_pair(samples, name):
    with open(samples / f"{name}.armorprofilemodel.json", encoding="utf-8") as f:
        as_json = json.load(f)
    with open(samples / f"{name}.armorprofilemodel.yaml", encoding="utf-8") as f:
        as_yaml = yaml.safe_load(f)
    return as_json, as_yaml


@pytest.mark.parametrize("name", NAMES)
def test_model_validates(samples, name):
    obj, _ = load_pair(samples, name)
    crd_schema.validate_apm(obj)
    assert crd_schema.unknown_fields(obj, crd_schema.raw_schema("armorprofilemodels")) == []


@pytest.mark.parametrize("name", NAMES)
def test_yaml_equals_json(samples, name):
    as_json, as_yaml = load_pair(samples, name)
    assert as_yaml == as_json


def test_json_layout(samples):
    text = (samples / "sample.armorprofilemodel.json").read_text(encoding="utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text.startswith('{\n  "apiVersion": "crd.varmor.org/v1beta1",\n')


def test_content_is_the_generated_profile(samples):
    obj, _ = load_pair(samples, "sample")
    content = obj["data"]["profile"]["content"]
    assert content.startswith("\n## == Managed by vArmor == ##\n")
    assert "  # ---- ADDITIONAL ----\n  umount,\n" in content and content.endswith(",\n\n}\n")
    json.loads(obj["data"]["profile"]["seccompContent"])


def test_missing_required_field_is_rejected(samples):
    obj, _ = load_pair(samples, "sample")
    for path in (("data",), ("data", "profile", "enforcer"), ("status", "ready"),
                 ("status", "conditions", 0, "nodeName")):
        broken = copy.deepcopy(obj)
        parent = broken
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
        with pytest.raises(crd_schema.SchemaError, match=str(path[-1])):
            crd_schema.validate_apm(broken)


def test_invented_field_is_rejected(samples):
    obj, _ = load_pair(samples, "sample")
    for where, key in ((("data", "dynamicResult", "apparmor"), "mounts"),
                       (("data", "dynamicResult", "apparmor"), "network"),
                       (("data", "profile"), "apparmor"),
                       ((), "spec"),
                       (("metadata",), "bogus")):
        broken = copy.deepcopy(obj)
        target = broken
        for k in where:
            target = target[k]
        target[key] = []
        with pytest.raises(crd_schema.SchemaError, match="prune"):
            crd_schema.validate_apm(broken)


def test_wrong_types_are_rejected(samples):
    obj, _ = load_pair(samples, "sample")
    broken = copy.deepcopy(obj)
    broken["status"]["desiredNumber"] = 2**31
    with pytest.raises(crd_schema.SchemaError, match="desiredNumber"):
        crd_schema.validate_apm(broken)
    broken = copy.deepcopy(obj)
    broken["data"]["dynamicResult"]["apparmor"]["files"][0]["owner"] = None
    with pytest.raises(crd_schema.SchemaError, match="owner"):
        crd_schema.validate_apm(broken)


def test_unknown_fields_respects_preserve_unknown():
    schema = {"type": "object", "properties": {
        "a": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "b": {"type": "object", "additionalProperties": {"type": "object",
                                                         "properties": {"c": {}}}},
        "d": {"type": "array", "items": {"type": "object", "properties": {"e": {}}}}}}
    obj = {"a": {"anything": 1}, "b": {"k": {"c": 1, "z": 2}}, "d": [{"e": 1}, {"f": 2}],
           "g": 1}
    assert crd_schema.unknown_fields(obj, schema) == ["b.k.z", "d[1].f", "g"]
    converted = crd_schema.to_json_schema(schema)
    assert "x-kubernetes-preserve-unknown-fields" not in converted["properties"]["a"]
