"""The ArmorProfileModel objects armorsmith writes, created in a real
kube-apiserver (built from source by deploy/local/kube-apiserver.sh, with the
contract CRDs applied): strict field validation accepts them, and what the
server stores and returns is exactly what we sent (nothing pruned)."""
import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request
import uuid

import pytest

from conftest import REPO, shared_dir

SCRIPT = REPO / "deploy/local/kube-apiserver.sh"


@pytest.fixture(scope="module")
def kube():
    if shared_dir() is None:
        pytest.skip("../shared (the CRDs the API server needs) is absent")
    st = subprocess.run([str(SCRIPT), "status"], capture_output=True, text=True)
    if st.returncode != 0:
        pytest.fail("kube-apiserver is not running (deploy/local/kube-apiserver.sh start):\n"
                    + st.stdout + st.stderr)
    env = {}
    for line in subprocess.run([str(SCRIPT), "env"], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        k, v = line[len("export "):].split("=", 1)
        env[k] = v.strip("'")
    ctx = ssl.create_default_context(cafile=env["ARMORSMITH_KUBE_CA"])
    return env["ARMORSMITH_KUBE_SERVER"], env["ARMORSMITH_KUBE_TOKEN"], ctx, env["KUBECONFIG"]


def call(kube, method, path, body=None):
    server, token, ctx, _ = kube
    req = urllib.request.Request(server + path, method=method,
                                 data=json.dumps(body).encode() if body else None,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def model_objects(bin_dir, services_env, tmp_path):
    name = f"kube-{uuid.uuid4().hex[:8]}"
    r = subprocess.run([str(bin_dir / "armorsmith"), "model", "--name", name, "--out",
                        str(tmp_path), "--", "sh", "-c", "cat /etc/hostname; ls / >/dev/null"],
                       env=services_env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    out = [json.loads((tmp_path / f"{name}.armorprofilemodel.json").read_text())]
    samples = tmp_path / "samples"
    subprocess.run([str(bin_dir / "apm_model_test")], check=True, capture_output=True,
                   env=dict(os.environ, ARMORSMITH_TEST_OUT=str(samples),
                            ARMORSMITH_SOURCE_DIR=str(REPO)))
    for f in sorted(samples.glob("*.armorprofilemodel.json")):
        obj = json.loads(f.read_text())
        obj["metadata"]["name"] = f"{obj['metadata']['name']}-{uuid.uuid4().hex[:6]}"
        out.append(obj)
    return out


def test_models_are_accepted_strictly_and_stored_unchanged(kube, bin_dir, services_env,
                                                          tmp_path):
    for obj in model_objects(bin_dir, services_env, tmp_path):
        ns = obj["metadata"].get("namespace", "default")
        if ns != "default":
            code, _ = call(kube, "POST", "/api/v1/namespaces",
                           {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            assert code in (201, 409)
        code, created = call(kube, "POST",
                             f"/apis/crd.varmor.org/v1beta1/namespaces/{ns}/armorprofilemodels"
                             "?fieldValidation=Strict", obj)
        assert code == 201, (obj["metadata"]["name"], created)
        # The status subresource is written separately, as the controller will.
        status = dict(created, status=obj["status"])
        code, updated = call(kube, "PUT",
                             f"/apis/crd.varmor.org/v1beta1/namespaces/{ns}/armorprofilemodels/"
                             f"{obj['metadata']['name']}/status?fieldValidation=Strict", status)
        assert code == 200, updated
        code, got = call(kube, "GET", f"/apis/crd.varmor.org/v1beta1/namespaces/{ns}/"
                                      f"armorprofilemodels/{obj['metadata']['name']}")
        assert code == 200
        for key in ("data", "storageType", "status"):
            assert got[key] == obj[key], (obj["metadata"]["name"], key)


def test_an_invented_field_is_refused(kube):
    obj = {"apiVersion": "crd.varmor.org/v1beta1", "kind": "ArmorProfileModel",
           "metadata": {"name": f"bogus-{uuid.uuid4().hex[:6]}", "namespace": "default"},
           "storageType": "CRDInternal",
           "data": {"profile": {"name": "x", "enforcer": "Seccomp", "mode": "enforce",
                                "inventedField": "pruned by a real server"}}}
    code, body = call(kube, "POST", "/apis/crd.varmor.org/v1beta1/namespaces/default/"
                                    "armorprofilemodels?fieldValidation=Strict", obj)
    assert code == 400 and "inventedField" in json.dumps(body)


def test_advise_reads_the_model_from_the_api_server(kube, bin_dir, services_env, tmp_path):
    """armorsmith advise --kube NS/NAME equals advise -m on the same object."""
    obj = model_objects(bin_dir, services_env, tmp_path)[0]
    name = obj["metadata"]["name"]
    code, _ = call(kube, "POST", "/apis/crd.varmor.org/v1beta1/namespaces/default/"
                                 "armorprofilemodels", obj)
    assert code == 201
    path = tmp_path / "model.json"
    path.write_text(json.dumps(obj))
    env = dict(services_env, KUBECONFIG=kube[3])
    advise = [str(bin_dir / "armorsmith"), "advise", "AppArmor,BPF,Seccomp", "-d"]
    from_file = subprocess.run(advise + ["-m", str(path)], env=env, capture_output=True,
                               text=True, timeout=60)
    from_api = subprocess.run(advise + ["--kube", f"default/{name}"], env=env,
                              capture_output=True, text=True, timeout=60)
    assert from_file.returncode == 0, from_file.stderr
    assert from_api.returncode == 0, from_api.stderr
    assert from_api.stdout == from_file.stdout and "rules:" in from_api.stdout
    missing = subprocess.run(advise + ["--kube", "default/no-such-model"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "HTTP 404" in missing.stderr
    nobody = subprocess.run(advise + ["--kube", "bad-ref"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert nobody.returncode != 0 and "NAMESPACE/NAME" in nobody.stderr
