"""armorsmith-status against a real kube-apiserver (deploy/local/kube-apiserver.sh):
export and import of ArmorProfileModels over HTTPS with TokenReview and
SubjectAccessReview auth, merging on import, the LocalDisk fallback for objects
etcd refuses, and /healthz and /metrics of the status API and of the merger,
builder and probe (started briefly against the running Kafka and PostgreSQL)."""
import copy
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest

from conftest import REPO

KUBE_SCRIPT = REPO / "deploy/local/kube-apiserver.sh"
APM = "/apis/crd.varmor.org/v1beta1/namespaces/{ns}/armorprofilemodels/{name}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


def wait_healthy(url, proc, log, timeout=30):
    deadline = time.time() + timeout
    last = (0, "")
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"exited with {proc.returncode} before /healthz was 200:\n"
                        + log.read_text())
        last = http_get(url)
        if last[0] == 200:
            return
        time.sleep(0.2)
    pytest.fail(f"{url} never answered 200 (last {last}):\n" + log.read_text())


def metric_value(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@pytest.fixture(scope="module")
def kube_env():
    st = subprocess.run([str(KUBE_SCRIPT), "status"], capture_output=True, text=True)
    if st.returncode != 0:
        pytest.fail("kube-apiserver is not running (deploy/local/kube-apiserver.sh start):\n"
                    + st.stdout + st.stderr)
    env = dict(os.environ)
    for line in subprocess.run([str(KUBE_SCRIPT), "env"], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        k, v = line[len("export "):].split("=", 1)
        env[k] = v.strip("'")
    return env


def kubectl(env, *args, input=None, check=True):
    r = subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True,
                       input=input, timeout=60)
    if check:
        assert r.returncode == 0, (args, r.stderr)
    return r


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(d / "tls.key"), "-out", str(d / "tls.crt")],
                   check=True, capture_output=True)
    return d / "tls.crt", d / "tls.key"


@pytest.fixture(scope="module")
def status(bin_dir, kube_env, tls, tmp_path_factory):
    """armorsmith-status with the admin kubeconfig (it may review tokens and access)."""
    d = tmp_path_factory.mktemp("status")
    port, mport = free_port(), free_port()
    log = d / "status.log"
    env = dict(kube_env, ARMORSMITH_STATUS_TLS_CERT=str(tls[0]),
               ARMORSMITH_STATUS_TLS_KEY=str(tls[1]))
    with open(log, "w") as out:
        proc = subprocess.Popen([str(bin_dir / "armorsmith-status"),
                                 "--addr", f"127.0.0.1:{port}",
                                 "--metrics-addr", f"127.0.0.1:{mport}",
                                 "--sink-dir", str(d / "sink")],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_healthy(f"http://127.0.0.1:{mport}/healthz", proc, log)
        yield {"url": f"https://127.0.0.1:{port}", "metrics": f"http://127.0.0.1:{mport}",
               "sink": d / "sink", "ctx": ssl.create_default_context(cafile=str(tls[0])),
               "log": log}
    finally:
        assert stop(proc) == 0, log.read_text()


def api(status, method, ns, name, token=None, body=None, path=None, raw=None):
    url = status["url"] + (path or APM.format(ns=ns, name=name))
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, method=method, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, context=status["ctx"], timeout=120) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as e:
        text = e.read()
        return e.code, json.loads(text) if text else None, dict(e.headers)


@pytest.fixture(scope="module")
def rbac(kube_env):
    """Two namespaces; an importer ServiceAccount with get/create/update on
    armorprofilemodels in both, a reader with only get in the first."""
    uid = uuid.uuid4().hex[:6]
    a, b, other = f"status-a-{uid}", f"status-b-{uid}", f"status-c-{uid}"
    for ns in (a, b, other):
        kubectl(kube_env, "create", "namespace", ns)
    kubectl(kube_env, "create", "serviceaccount", "importer", "-n", a)
    kubectl(kube_env, "create", "serviceaccount", "reader", "-n", a)
    for ns in (a, b):
        kubectl(kube_env, "create", "role", "apm-import", "-n", ns,
                "--verb=get,create,update", "--resource=armorprofilemodels.crd.varmor.org")
        kubectl(kube_env, "create", "rolebinding", "apm-import", "-n", ns, "--role=apm-import",
                f"--serviceaccount={a}:importer")
    kubectl(kube_env, "create", "role", "apm-read", "-n", a, "--verb=get",
            "--resource=armorprofilemodels.crd.varmor.org")
    kubectl(kube_env, "create", "rolebinding", "apm-read", "-n", a, "--role=apm-read",
            f"--serviceaccount={a}:reader")
    tokens = {sa: kubectl(kube_env, "create", "token", sa, "-n", a,
                          "--duration=1h").stdout.strip() for sa in ("importer", "reader")}
    # RBAC is cached briefly in the authorizer: wait until the grant shows.
    for _ in range(50):
        r = kubectl(kube_env, "auth", "can-i", "create", "armorprofilemodels.crd.varmor.org",
                    "-n", b, f"--as=system:serviceaccount:{a}:importer", check=False)
        if r.stdout.strip() == "yes":
            break
        time.sleep(0.2)
    return {"a": a, "b": b, "other": other, **tokens,
            "admin": kube_env["ARMORSMITH_KUBE_TOKEN"],
            "nobody": kube_env["ARMORSMITH_KUBE_NOBODY_TOKEN"]}


@pytest.fixture(scope="module")
def model(bin_dir, services_env, tmp_path_factory):
    """A real model: `armorsmith model` of a small command."""
    d = tmp_path_factory.mktemp("model")
    name = f"status-{uuid.uuid4().hex[:8]}"
    r = subprocess.run([str(bin_dir / "armorsmith"), "model", "--name", name, "--out", str(d),
                        "--", "sh", "-c", "cat /etc/hostname; ls / >/dev/null"],
                       env=services_env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    obj = json.loads((d / f"{name}.armorprofilemodel.json").read_text())
    assert obj["data"]["dynamicResult"]["seccomp"]["syscalls"]
    return obj


def create_directly(env, obj, ns):
    """Creates obj in ns through the API server (kubectl), status included."""
    obj = copy.deepcopy(obj)
    obj["metadata"]["namespace"] = ns
    kubectl(env, "create", "-f", "-", input=json.dumps(obj))
    kubectl(env, "patch", "armorprofilemodel", obj["metadata"]["name"], "-n", ns,
            "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": obj["status"]}))


def kube_get(env, ns, name):
    return json.loads(kubectl(env, "get", "armorprofilemodel", name, "-n", ns,
                              "-o", "json").stdout)


def test_tls_material_is_required(bin_dir, kube_env, tmp_path):
    env = {k: v for k, v in kube_env.items() if not k.startswith("ARMORSMITH_STATUS_")}
    r = subprocess.run([str(bin_dir / "armorsmith-status"), "--addr", "127.0.0.1:0"],
                       env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "--tls-cert" in r.stderr and "ARMORSMITH_STATUS_TLS_CERT" in r.stderr
    r = subprocess.run([str(bin_dir / "armorsmith-status"), "--addr", "127.0.0.1:0",
                        "--tls-cert", str(tmp_path / "none.crt"),
                        "--tls-key", str(tmp_path / "none.key")],
                       env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "none.crt" in r.stderr


def test_authentication_and_authorization(status, rbac, model, kube_env):
    name = model["metadata"]["name"]
    ns = rbac["a"]
    create_directly(kube_env, model, ns)

    code, body, headers = api(status, "GET", ns, name)
    assert code == 401 and body["kind"] == "Status" and body["code"] == 401
    assert body["status"] == "Failure" and "Bearer" in body["message"]
    assert headers.get("WWW-Authenticate") == "Bearer"
    code, body, _ = api(status, "GET", ns, name, token="not-a-real-token")
    assert code == 401 and "not authenticated" in body["message"]
    code, body, _ = api(status, "GET", ns, name, token=rbac["nobody"])
    assert code == 403 and body["reason"] == "Forbidden"
    assert 'User "armorsmith-nobody" cannot get' in body["message"]
    # The reader may export but not import.
    code, got, _ = api(status, "GET", ns, name, token=rbac["reader"])
    assert code == 200 and got["metadata"]["name"] == name
    code, body, _ = api(status, "POST", ns, name, token=rbac["reader"], body=model)
    assert code == 403
    assert f'"system:serviceaccount:{ns}:reader" cannot create' in body["message"]
    # The importer has no rights in the third namespace.
    code, body, _ = api(status, "GET", rbac["other"], name, token=rbac["importer"])
    assert code == 403 and f'namespace "{rbac["other"]}"' in body["message"]
    # A second GET is answered from the review cache.
    _, before = http_get(status["metrics"] + "/metrics")
    assert api(status, "GET", ns, name, token=rbac["reader"])[0] == 200
    _, after = http_get(status["metrics"] + "/metrics")
    hits = "armorsmith_status_review_cache_hits_total"
    assert metric_value(after, hits) >= metric_value(before, hits) + 2


def test_paths_methods_and_bodies(status, rbac):
    tok = rbac["importer"]
    code, body, _ = api(status, "GET", None, None, token=tok, path="/apis/other")
    assert code == 404 and body["kind"] == "Status"
    code, body, _ = api(status, "GET", None, None, token=tok,
                        path=APM.format(ns=rbac["a"], name="x") + "/extra")
    assert code == 404
    code, body, headers = api(status, "DELETE", rbac["a"], "x", token=tok)
    assert code == 405 and headers.get("Allow") == "GET, POST"
    for ns, name in (("Bad_NS", "x"), (rbac["a"], "Bad_Name"), (rbac["a"], "a..b"),
                     (rbac["a"], "-x")):
        code, body, _ = api(status, "GET", ns, name, token=tok)
        assert code == 400 and "DNS-1123" in body["message"], (ns, name)
    code, body, _ = api(status, "GET", rbac["a"], "does-not-exist", token=tok)
    assert code == 404 and '"does-not-exist" not found' in body["message"]
    code, body, _ = api(status, "POST", rbac["a"], "x", token=tok, raw=b"{not json")
    assert code == 400 and "not a JSON object" in body["message"]
    code, body, _ = api(status, "POST", rbac["a"], "x", token=tok,
                        body={"kind": "Pod", "data": {}})
    assert code == 400 and "ArmorProfileModel" in body["message"]


def test_export_round_trip_and_merge(status, rbac, model, kube_env):
    name = model["metadata"]["name"]
    src, dst, tok = rbac["a"], rbac["b"], rbac["importer"]
    if api(status, "GET", src, name, token=rbac["admin"])[0] == 404:
        create_directly(kube_env, model, src)

    # Export equals what was created.
    code, exported, _ = api(status, "GET", src, name, token=tok)
    assert code == 200
    for key in ("apiVersion", "kind", "data", "storageType", "status"):
        assert exported[key] == model[key], key
    assert "managedFields" not in exported["metadata"]

    # Import into another namespace: created, and the same except metadata.
    code, created, _ = api(status, "POST", dst, name, token=tok, body=exported)
    assert code == 201, created
    assert created["metadata"]["namespace"] == dst
    assert created["metadata"]["uid"] != exported["metadata"]["uid"]
    code, again, _ = api(status, "GET", dst, name, token=tok)
    assert code == 200
    for key in ("apiVersion", "kind", "data", "storageType", "status"):
        assert again[key] == exported[key], key
    assert kube_get(kube_env, dst, name)["storageType"] == "CRDInternal"

    # A second model with overlapping and new behaviors, and a new profile.
    second = copy.deepcopy(exported)
    dyn = second["data"]["dynamicResult"]
    old_calls = model["data"]["dynamicResult"]["seccomp"]["syscalls"]
    dyn["seccomp"]["syscalls"] = old_calls[:3] + ["chroot", "pivot_root"]
    files = dyn["bpf"]["files"]
    first_file = dict(files[0])
    files[:] = [{"path": first_file["path"], "permissions": ["w", "r"], "owner": True},
                {"path": "/var/log/status-test.log", "permissions": ["a", "w"],
                 "owner": True}]
    dyn["bpf"]["executions"] = ["/usr/bin/env"]
    second["data"]["profile"]["content"] = "# imported profile, second version\n"
    second["data"]["profile"]["seccompContent"] = '{"defaultAction":"SCMP_ACT_ERRNO"}'
    code, merged, _ = api(status, "POST", dst, name, token=tok, body=second)
    assert code == 200, merged
    code, got, _ = api(status, "GET", dst, name, token=tok)
    assert code == 200
    mdyn = got["data"]["dynamicResult"]
    assert mdyn["seccomp"]["syscalls"] == sorted(set(old_calls) | {"chroot", "pivot_root"})
    assert mdyn["bpf"]["executions"] == sorted(
        set(model["data"]["dynamicResult"]["bpf"]["executions"]) | {"/usr/bin/env"})
    by_path = {f["path"]: f for f in mdyn["bpf"]["files"]}
    old_paths = {f["path"] for f in model["data"]["dynamicResult"]["bpf"]["files"]}
    assert set(by_path) == old_paths | {"/var/log/status-test.log"}
    assert [f["path"] for f in mdyn["bpf"]["files"]] == sorted(by_path)
    # Permissions unioned; owner AND-ed (the first import had no owner rule).
    assert by_path[first_file["path"]]["permissions"] == sorted(
        set(first_file["permissions"]) | {"r", "w"})
    assert "owner" not in by_path[first_file["path"]]
    assert by_path["/var/log/status-test.log"] == {
        "path": "/var/log/status-test.log", "permissions": ["a", "w"], "owner": True}
    assert got["data"]["profile"] == second["data"]["profile"]
    assert got["status"] == exported["status"]  # a merge keeps the object's status
    assert merged["data"] == got["data"]
    # What the API server holds is the same.
    assert kube_get(kube_env, dst, name)["data"] == got["data"]
    # Importing the same again changes nothing.
    assert api(status, "POST", dst, name, token=tok, body=second)[0] == 200
    assert api(status, "GET", dst, name, token=tok)[1]["data"] == got["data"]


def big_model(name, files):
    return {
        "apiVersion": "crd.varmor.org/v1beta1", "kind": "ArmorProfileModel",
        "metadata": {"name": name, "namespace": "elsewhere"},
        "storageType": "CRDInternal",
        "data": {
            "dynamicResult": {
                "seccomp": {"syscalls": ["openat", "read", "write"]},
                "apparmor": {"profiles": [name], "files": [
                    {"path": f"/srv/data/shard-{i // 1000:03d}/object-{i:06d}.bin",
                     "permissions": ["r"] if i % 3 else ["r", "w"]}
                    for i in range(files)]}},
            "profile": {"name": name, "enforcer": "AppArmor", "mode": "enforce",
                        "content": f"profile {name} {{}}\n"}},
        "status": {"desiredNumber": 1, "completedNumber": 1, "ready": True},
    }


def test_too_large_for_etcd_lands_on_local_disk(status, rbac, kube_env):
    ns, tok = rbac["a"], rbac["importer"]
    name = f"big-{uuid.uuid4().hex[:6]}"
    obj = big_model(name, 30000)
    assert len(json.dumps(obj)) > 1_600_000  # above etcd's 1.5 MiB request limit
    code, created, _ = api(status, "POST", ns, name, token=tok, body=obj)
    assert code == 201, created
    assert created["storageType"] == "LocalDisk"
    assert created["data"] == obj["data"]

    stored = kube_get(kube_env, ns, name)
    assert stored["storageType"] == "LocalDisk"
    assert stored["data"] == {}
    assert stored["status"] == obj["status"]
    table = kubectl(kube_env, "get", "armorprofilemodel", name, "-n", ns).stdout
    assert "LocalDisk" in table
    on_disk = json.loads((status["sink"] / ns / f"{name}.json").read_text())
    assert on_disk["data"] == obj["data"]

    code, got, _ = api(status, "GET", ns, name, token=tok)
    assert code == 200
    assert got["storageType"] == "LocalDisk" and got["data"] == obj["data"]
    assert got["status"] == obj["status"]

    # Merging into a LocalDisk model reads the file and keeps it there.
    extra = big_model(name, 0)
    extra["data"]["dynamicResult"]["apparmor"]["files"] = [
        {"path": "/srv/data/shard-000/object-000001.bin", "permissions": ["w"]},
        {"path": "/srv/new-file", "permissions": ["r"]}]
    extra["data"]["dynamicResult"]["seccomp"]["syscalls"] = ["fsync"]
    code, merged, _ = api(status, "POST", ns, name, token=tok, body=extra)
    assert code == 200, merged
    assert merged["storageType"] == "LocalDisk"
    code, got, _ = api(status, "GET", ns, name, token=tok)
    files = got["data"]["dynamicResult"]["apparmor"]["files"]
    assert len(files) == 30001
    assert {"path": "/srv/data/shard-000/object-000001.bin",
            "permissions": ["r", "w"]} in files
    assert got["data"]["dynamicResult"]["seccomp"]["syscalls"] == [
        "fsync", "openat", "read", "write"]
    assert kube_get(kube_env, ns, name)["data"] == {}

    _, text = http_get(status["metrics"] + "/metrics")
    assert metric_value(text, "armorsmith_status_local_disk_writes_total") >= 2
    assert metric_value(
        text, 'armorsmith_status_imports_total{outcome="created_local_disk"}') >= 1
    assert metric_value(
        text, 'armorsmith_status_imports_total{outcome="merged_local_disk"}') >= 1


def test_status_health_and_metrics(status):
    code, text = http_get(status["metrics"] + "/healthz")
    assert (code, text) == (200, "ok\n")
    code, text = http_get(status["metrics"] + "/metrics")
    assert code == 200
    assert "# TYPE armorsmith_status_requests_total counter" in text
    assert metric_value(text, "armorsmith_status_healthy") == 1
    assert metric_value(text, "armorsmith_status_resident_memory_bytes") > 1_000_000
    assert metric_value(text, 'armorsmith_status_token_reviews_total{result="rejected"}') >= 1
    assert metric_value(text, 'armorsmith_status_access_reviews_total{result="denied"}') >= 1
    assert http_get(status["metrics"] + "/nothing")[0] == 404


# --- /healthz and /metrics of the pipeline programs --------------------------------------

def psql(env, sql, dsn=None):
    r = subprocess.run(["psql", dsn or env["ARMORSMITH_PG_DSN"], "-v", "ON_ERROR_STOP=1",
                        "-At", "-c", sql], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def run_with_metrics(cmd, env, log):
    port = free_port()
    out = open(log, "w")
    proc = subprocess.Popen(cmd + ["--metrics-addr", f"127.0.0.1:{port}"], env=env,
                            stdout=out, stderr=subprocess.STDOUT)
    out.close()
    return proc, f"http://127.0.0.1:{port}"


def test_merger_serves_health_and_metrics(bin_dir, services_env, tmp_path):
    group = f"status-metrics-{uuid.uuid4().hex[:8]}"
    # A fresh group that starts at the topics' current end (as test_faults does).
    offsets = subprocess.run([str(bin_dir / "bench-produce"), "--offsets",
                              services_env["ARMORSMITH_KAFKA_BROKERS"]], check=True,
                             capture_output=True, text=True).stdout
    for line in offsets.splitlines():
        topic, part, high = line.split()
        psql(services_env, f"INSERT INTO consumer_offsets VALUES ('{group}', '{topic}', "
                           f"{part}, {high}) ON CONFLICT DO NOTHING")
    log = tmp_path / "merger.log"
    proc, url = run_with_metrics([str(bin_dir / "armorsmith-merger"), "--group", group],
                                 services_env, log)
    try:
        wait_healthy(url + "/healthz", proc, log)
        prefix = f"status-metrics-{uuid.uuid4().hex[:6]}"
        subprocess.run([str(bin_dir / "bench-produce"), services_env["ARMORSMITH_KAFKA_BROKERS"],
                        prefix, "1", "200", "50"], check=True, capture_output=True)
        deadline, text = time.time() + 60, ""
        while time.time() < deadline:
            _, text = http_get(url + "/metrics")
            if (metric_value(text, "armorsmith_merger_messages_total") or 0) >= 200:
                break
            time.sleep(0.5)
        assert metric_value(text, "armorsmith_merger_messages_total") >= 200, text
        assert metric_value(text, "armorsmith_merger_batches_total") >= 1
        assert metric_value(text, "armorsmith_merger_events_merged_total") >= 50
        assert "armorsmith_merger_committed_offset{topic=\"armorsmith.behavior.v1\"" in text
        assert metric_value(text, "armorsmith_merger_healthy") == 1
        assert http_get(url + "/healthz") == (200, "ok\n")
    finally:
        assert stop(proc) == 0, log.read_text()


def test_builder_serves_health_and_metrics(bin_dir, services_env, tmp_path):
    db = f"status_metrics_{uuid.uuid4().hex[:8]}"
    psql(services_env, f"CREATE DATABASE {db}")
    dsn = services_env["ARMORSMITH_PG_DSN"].replace("dbname=armorsmith", f"dbname={db}")
    log = tmp_path / "builder.log"
    try:
        proc, url = run_with_metrics([str(bin_dir / "armorsmith-builder"), "--pg", dsn,
                                      "--sink-dir", str(tmp_path / "sink")], services_env, log)
        try:
            wait_healthy(url + "/healthz", proc, log)
            _, text = http_get(url + "/metrics")
            assert "# TYPE armorsmith_builder_runs_built_total counter" in text
            assert metric_value(text, "armorsmith_builder_runs_built_total") == 0
            assert metric_value(text, "armorsmith_builder_healthy") == 1
        finally:
            assert stop(proc) == 0, log.read_text()
    finally:
        psql(services_env, f"DROP DATABASE IF EXISTS {db}")


def test_merger_not_healthy_before_its_loop_runs(bin_dir, services_env, tmp_path):
    """With Kafka unreachable the merger waits for its topic (up to 10 s, then
    exits): /healthz answers meanwhile, with 503, never 200."""
    log = tmp_path / "merger.log"
    proc, url = run_with_metrics([str(bin_dir / "armorsmith-merger"), "--kafka",
                                  "127.0.0.1:1", "--group", f"status-{uuid.uuid4().hex[:6]}"],
                                 services_env, log)
    seen = []
    try:
        while proc.poll() is None:
            code, text = http_get(url + "/healthz")
            if code:
                seen.append((code, text))
            time.sleep(0.2)
    finally:
        stop(proc)
    assert proc.returncode != 0
    assert ("503", "starting\n") in {(str(c), t) for c, t in seen}, log.read_text()
    assert all(c == 503 for c, _ in seen), seen


def test_probe_serves_health_and_metrics(bin_dir, services_env, tmp_path):
    log = tmp_path / "probe.log"
    # A node name no run targets: the probe joins nothing and publishes nothing.
    proc, url = run_with_metrics([str(bin_dir / "armorsmith-probe"),
                                  "--node", f"status-metrics-{uuid.uuid4().hex[:6]}",
                                  "--state-dir", str(tmp_path / "state")], services_env, log)
    try:
        wait_healthy(url + "/healthz", proc, log)
        deadline, text = time.time() + 10, ""
        while time.time() < deadline:
            _, text = http_get(url + "/metrics")
            if "armorsmith_probe_spool_bytes" in text:
                break
            time.sleep(0.3)
        assert "# TYPE armorsmith_probe_events_published_total counter" in text
        assert metric_value(text, "armorsmith_probe_spool_bytes") == 0, text
        assert metric_value(text, "armorsmith_probe_spool_dropped_total") == 0
        assert metric_value(text, "armorsmith_probe_healthy") == 1
    finally:
        assert stop(proc) == 0, log.read_text()
