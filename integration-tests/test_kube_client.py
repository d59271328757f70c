"""common/kube.c against the real kube-apiserver of deploy/local/kube-apiserver.sh:
the kube_test program (common/kube_test.c) creates, replaces, updates (with a
forced 409), lists with continue, watches (live changes from a second thread,
resume, bookmarks, 410), checks 401/403/404/413 and the in-cluster mode with a
rotated service-account token, in a namespace of its own. It is not a ctest
test because it needs the server; this test fails when the server is down."""
import os
import pathlib
import subprocess

import pytest

from conftest import REPO

SCRIPT = REPO / "deploy/local/kube-apiserver.sh"


@pytest.fixture(scope="module")
def kube_env():
    st = subprocess.run([str(SCRIPT), "status"], capture_output=True, text=True)
    if st.returncode != 0:
        pytest.fail("kube-apiserver is not running (deploy/local/kube-apiserver.sh start):\n"
                    + st.stdout + st.stderr)
    env = dict(os.environ)
    for line in subprocess.run([str(SCRIPT), "env"], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        if line.startswith("export "):
            k, v = line[len("export "):].split("=", 1)
            env[k] = v.strip("'")
    # kube_test picks the in-cluster mode itself, for one part only
    for k in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "ARMORSMITH_KUBE_SA_DIR"):
        env.pop(k, None)
    return env


def compact_etcd(env):
    """Compacts etcd at its current revision through its v3 JSON gateway, as the
    API server does every 5 minutes: older resourceVersions are gone (410)."""
    import json
    import urllib.request

    def post(path, body):
        req = urllib.request.Request(env["ARMORSMITH_ETCD_URL"] + path, method="POST",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())
    rev = post("/v3/kv/range", {"key": "AA=="})["header"]["revision"]
    post("/v3/kv/compaction", {"revision": rev, "physical": True})


def kube_test_binary():
    d = pathlib.Path(os.environ.get("ARMORSMITH_BUILD_DIR", REPO / "build"))
    path = d / "bin" / "kube_test"
    if not path.exists():
        pytest.fail(f"no kube_test in {d / 'bin'}; build the project first")
    return path


def test_kube_client_against_apiserver(kube_env):
    compact_etcd(kube_env)  # so that resourceVersion 2 is gone even on a fresh server
    r = subprocess.run([str(kube_test_binary())], env=kube_env, capture_output=True,
                       text=True, timeout=300)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0 failed" in r.stdout
