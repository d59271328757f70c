"""deploy/: the CRDs are the contract's, the Helm chart lints, renders and applies to a real
kube-apiserver (deploy/local/kube-apiserver.sh) with strict field validation, its RBAC
grants the least verbs (checked with `kubectl auth can-i` after a real apply), the probe
has exactly its documented capabilities and nothing privileged, and the Dockerfile builds
and ships every program the chart runs with every shared library those programs load.

helm comes from scripts/install-helm.sh (run by scripts/install-deps.sh); these tests fail,
not skip, without it. There is no Docker engine here, so the Dockerfile is checked against
the files, the build and Debian's package index instead of being built."""
import filecmp
import fnmatch
import json
import os
import pathlib
import re
import shutil
import subprocess
import tarfile
import uuid

import pytest
import yaml

from conftest import REPO, shared_dir

CHART = REPO / "deploy/helm/armorsmith"
CRDS = REPO / "deploy/crds"
KUBE_SCRIPT = REPO / "deploy/local/kube-apiserver.sh"
DOCKERFILE = REPO / "Dockerfile"

# The probe's capabilities with the default values, and what each optional value adds.
PROBE_DEFAULT_CAPS = {"BPF", "PERFMON", "AUDIT_WRITE", "AUDIT_CONTROL"}
PROBE_OPTIONAL_CAPS = {"auditControl": "AUDIT_CONTROL", "sysResource": "SYS_RESOURCE",
                       "dacReadSearch": "DAC_READ_SEARCH"}
# Packages the runtime stage installs that are not there for a shared library.
RUNTIME_NON_LIBRARY_PACKAGES = {"ca-certificates"}
METRICS_PORTS = {"probe": 9464, "merger": 9465, "builder": 9466, "status": 9467}


# ---------------------------------------------------------------- helpers

@pytest.fixture(scope="session")
def helm():
    cache = pathlib.Path(os.environ.get("ARMORSMITH_CACHE_DIR",
                                        pathlib.Path.home() / ".cache/armorsmith"))
    path = cache / "go/bin/helm"
    if not os.access(path, os.X_OK):
        found = shutil.which("helm")
        if not found:
            pytest.fail(f"helm is not installed ({path}); scripts/install-deps.sh installs it "
                        "(scripts/install-helm.sh)")
        path = pathlib.Path(found)
    return str(path)


@pytest.fixture(scope="session")
def kubectl():
    path = shutil.which("kubectl")
    if not path:
        pytest.fail("kubectl is not installed")
    return path


@pytest.fixture(scope="session")
def kube_env():
    st = subprocess.run([str(KUBE_SCRIPT), "status"], capture_output=True, text=True)
    if st.returncode != 0:
        pytest.fail("kube-apiserver is not running (deploy/local/kube-apiserver.sh start):\n"
                    + st.stdout + st.stderr)
    env = dict(os.environ)
    out = subprocess.run([str(KUBE_SCRIPT), "env"], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        k, v = line[len("export "):].split("=", 1)
        env[k] = v.strip("'")
    return env


def run(cmd, env=None, check=True, input=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, input=input, timeout=300)
    if check and r.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


def render(helm, *sets, release="armorsmith", namespace="armorsmith", text=False):
    cmd = [helm, "template", release, str(CHART), "--namespace", namespace]
    for s in sets:
        cmd += ["--set", s]
    out = run(cmd).stdout
    if text:
        return out
    return [o for o in yaml.safe_load_all(out) if o]


def find(objs, kind, name=None, component=None):
    hits = [o for o in objs if o["kind"] == kind
            and (name is None or o["metadata"]["name"] == name)
            and (component is None
                 or o["metadata"]["labels"].get("app.kubernetes.io/component") == component)]
    assert len(hits) == 1, (kind, name, component, [o["metadata"]["name"] for o in hits])
    return hits[0]


def pod_spec(objs, kind, component):
    return find(objs, kind, component=component)["spec"]["template"]["spec"]


def container(spec, name):
    hits = [c for c in spec["containers"] if c["name"] == name]
    assert len(hits) == 1, (name, [c["name"] for c in spec["containers"]])
    return hits[0]


def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}


def create_namespace(kubectl, env, name, labels=None):
    run([kubectl, "create", "namespace", name], env=env)
    if labels:
        run([kubectl, "label", "namespace", name] + [f"{k}={v}" for k, v in labels.items()],
            env=env)


def delete_namespace(kubectl, env, name):
    """Deletes a namespace for good: there is no controller-manager here to run the
    namespace finalizer, so after the delete the finalizer is cleared through the API."""
    run([kubectl, "delete", "namespace", name, "--wait=false", "--ignore-not-found"], env=env,
        check=False)
    got = run([kubectl, "get", "namespace", name, "-o", "json"], env=env, check=False)
    if got.returncode != 0:
        return
    ns = json.loads(got.stdout)
    ns["spec"]["finalizers"] = []
    run([kubectl, "replace", "--raw", f"/api/v1/namespaces/{name}/finalize", "-f", "-"],
        env=env, input=json.dumps(ns), check=False)


@pytest.fixture
def namespace(kubectl, kube_env):
    name = f"helm-test-{uuid.uuid4().hex[:8]}"
    create_namespace(kubectl, kube_env, name)
    yield name
    delete_namespace(kubectl, kube_env, name)


# ---------------------------------------------------------------- CRDs

def crd_files(d):
    return sorted(p.name for p in d.glob("*.yaml"))


def test_deploy_crds_are_the_contract_crds():
    shared = shared_dir()
    if shared is None:
        pytest.skip("../shared is absent: deploy/crds cannot be compared with "
                    "../shared/contracts/crds here (the other CRD checks still run)")
    contract = shared / "contracts/crds"
    assert crd_files(CRDS) == crd_files(contract), "deploy/crds and the contract list differ"
    for name in crd_files(contract):
        assert filecmp.cmp(CRDS / name, contract / name, shallow=False), \
            f"deploy/crds/{name} drifted from {contract / name}: copy it again"


def test_chart_crds_are_deploy_crds():
    chart_crds = CHART / "crds"
    assert crd_files(CRDS) == ["crd.varmor.org_armorprofilemodels.yaml",
                               "crd.varmor.org_varmorclusterpolicies.yaml",
                               "crd.varmor.org_varmorpolicies.yaml"]
    assert crd_files(chart_crds) == crd_files(CRDS)
    for name in crd_files(CRDS):
        # helm package follows no symlink portably: the chart holds real copies
        assert not (chart_crds / name).is_symlink(), name
        assert filecmp.cmp(chart_crds / name, CRDS / name, shallow=False), \
            f"{chart_crds / name} differs from deploy/crds/{name}"


def test_kube_apiserver_script_applies_deploy_crds(kube_env):
    env = {k: v for k, v in kube_env.items() if k != "ARMORSMITH_CRDS_DIR"}
    r = run([str(KUBE_SCRIPT), "apply-crds"], env=env)
    assert f"applied 3 CRD(s) from {CRDS}" in r.stderr, r.stderr


def test_packaged_chart_carries_the_crds(helm, tmp_path):
    run([helm, "package", str(CHART), "-d", str(tmp_path)])
    pkgs = list(tmp_path.glob("armorsmith-*.tgz"))
    assert len(pkgs) == 1, pkgs
    with tarfile.open(pkgs[0]) as tar:
        for name in crd_files(CRDS):
            member = tar.extractfile(f"armorsmith/crds/{name}")
            assert member is not None and member.read() == (CRDS / name).read_bytes(), name


def test_helm_template_includes_the_crds(helm):
    out = run([helm, "template", "armorsmith", str(CHART), "--include-crds"]).stdout
    crds = {o["metadata"]["name"]: o for o in yaml.safe_load_all(out)
            if o and o["kind"] == "CustomResourceDefinition"}
    assert sorted(crds) == ["armorprofilemodels.crd.varmor.org",
                            "varmorclusterpolicies.crd.varmor.org",
                            "varmorpolicies.crd.varmor.org"]
    for name in crd_files(CRDS):
        want = yaml.safe_load((CRDS / name).read_text())
        assert crds[want["metadata"]["name"]] == want


# ---------------------------------------------------------------- lint and apply

VARIANTS = {
    "defaults": [],
    "persistence-existing-claim": ["builder.persistence.enabled=true",
                                   "builder.persistence.existingClaim=models-claim"],
    "persistence-new-claim": ["builder.persistence.enabled=true",
                              "builder.persistence.storageClass=standard"],
    "match-label-empty": ["matchLabel="],
    "optional-capabilities": ["probe.capabilities.sysResource=true",
                              "probe.capabilities.dacReadSearch=true",
                              "probe.capabilities.auditControl=false"],
    "status-disabled-existing-pg-secret": ["status.enabled=false",
                                           "postgres.existingSecret=pg", "postgres.dsn="],
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_helm_lint(helm, variant):
    cmd = [helm, "lint", "--strict", str(CHART)]
    for s in VARIANTS[variant]:
        cmd += ["--set", s]
    r = run(cmd)
    assert "0 chart(s) failed" in r.stdout, r.stdout


@pytest.mark.parametrize("unset, message", [
    ("kafka.brokers=", "kafka.brokers is required"),
    ("postgres.dsn=", "postgres.dsn or postgres.existingSecret is required"),
    ("status.tls.secretName=", "status.tls.secretName is required")])
def test_helm_template_refuses_missing_values(helm, unset, message):
    r = run([helm, "template", "armorsmith", str(CHART), "--set", unset], check=False)
    assert r.returncode != 0 and message in r.stderr, r.stderr


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_rendered_object_applies(helm, kubectl, kube_env, namespace, variant):
    """kube-apiserver's own validation, admission and strict field validation accept
    every object (server-side dry run)."""
    text = render(helm, *VARIANTS[variant], release=f"as-{variant[:20]}", namespace=namespace,
                  text=True)
    objs = [o for o in yaml.safe_load_all(text) if o]
    r = run([kubectl, "apply", "--dry-run=server", "--validate=strict", "-f", "-"],
            env=kube_env, input=text, check=False)
    assert r.returncode == 0, r.stderr
    applied = [line for line in r.stdout.splitlines() if line.endswith("(server dry run)")]
    assert len(applied) == len(objs), r.stdout
    kinds = {o["kind"] for o in objs}
    assert {"DaemonSet", "Deployment", "ServiceAccount", "ClusterRole",
            "ClusterRoleBinding", "Service"} <= kinds


def test_models_volume(helm):
    spec = pod_spec(render(helm), "Deployment", "builder")
    vol = {v["name"]: v for v in spec["volumes"]}["models"]
    assert vol == {"name": "models", "emptyDir": {"sizeLimit": "500Mi"}}

    objs = render(helm, *VARIANTS["persistence-existing-claim"])
    vol = {v["name"]: v for v in pod_spec(objs, "Deployment", "builder")["volumes"]}["models"]
    assert vol == {"name": "models", "persistentVolumeClaim": {"claimName": "models-claim"}}
    assert not [o for o in objs if o["kind"] == "PersistentVolumeClaim"]

    objs = render(helm, *VARIANTS["persistence-new-claim"])
    pvc = find(objs, "PersistentVolumeClaim")
    assert pvc["metadata"]["name"] == "armorsmith-models"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "500Mi"
    assert pvc["spec"]["storageClassName"] == "standard"
    vol = {v["name"]: v for v in pod_spec(objs, "Deployment", "builder")["volumes"]}["models"]
    assert vol["persistentVolumeClaim"]["claimName"] == "armorsmith-models"

    # builder and status share the volume at the sink dir
    spec = pod_spec(objs, "Deployment", "builder")
    for name in ("builder", "status"):
        c = container(spec, name)
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        assert mounts["models"]["mountPath"] == "/var/lib/armorsmith/models"
        assert not mounts["models"].get("readOnly", False)
        assert env_of(c)["ARMORSMITH_SINK_DIR"]["value"] == "/var/lib/armorsmith/models"
    # a ReadWriteOnce volume and a single controller: never two builder pods
    builder = find(objs, "Deployment", component="builder")
    assert builder["spec"]["replicas"] == 1
    assert builder["spec"]["strategy"] == {"type": "Recreate"}


# ---------------------------------------------------------------- the probe

def probe_security(objs):
    spec = pod_spec(objs, "DaemonSet", "probe")
    return spec, container(spec, "probe")


def test_probe_has_exactly_the_documented_capabilities(helm):
    spec, c = probe_security(render(helm))
    sc = c["securityContext"]
    assert sc["privileged"] is False
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert set(sc["capabilities"]["add"]) == PROBE_DEFAULT_CAPS
    assert len(sc["capabilities"]["add"]) == len(PROBE_DEFAULT_CAPS)
    assert spec["hostPID"] is True
    assert not spec.get("hostNetwork") and not spec.get("hostIPC")
    assert spec["securityContext"]["runAsUser"] == 0
    assert spec["automountServiceAccountToken"] is True
    # every capability the chart can give is explained in docs/deploy.md and in the template
    doc = (REPO / "docs/deploy.md").read_text()
    template = (CHART / "templates/probe-daemonset.yaml").read_text()
    for cap in PROBE_DEFAULT_CAPS | set(PROBE_OPTIONAL_CAPS.values()):
        assert f"CAP_{cap}" in doc, f"docs/deploy.md does not explain CAP_{cap}"
        assert f"# CAP_{cap}:" in template, f"no comment explains CAP_{cap}"
    assert "privileged: true" not in template


@pytest.mark.parametrize("flag", sorted(PROBE_OPTIONAL_CAPS))
def test_probe_optional_capabilities(helm, flag):
    default = render(helm, f"probe.capabilities.{flag}=false")
    on = render(helm, f"probe.capabilities.{flag}=true")
    cap = PROBE_OPTIONAL_CAPS[flag]
    caps_off = set(probe_security(default)[1]["securityContext"]["capabilities"]["add"])
    caps_on = set(probe_security(on)[1]["securityContext"]["capabilities"]["add"])
    assert cap not in caps_off and caps_on == caps_off | {cap}


def test_probe_host_mounts(helm):
    spec, c = probe_security(render(helm))
    vols = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    want_ro = {"/sys/fs/cgroup": "/sys/fs/cgroup", "/sys/kernel/btf": "/sys/kernel/btf",
               "/var/log/audit": "/var/log/audit"}
    for path, host in want_ro.items():
        m = mounts.pop(path)
        assert m["readOnly"] is True, path
        assert vols[m["name"]]["hostPath"]["path"] == host
    state = mounts.pop("/var/lib/armorsmith/probe")
    assert not state.get("readOnly", False)
    assert vols[state["name"]]["hostPath"] == {"path": "/var/lib/armorsmith/probe",
                                               "type": "DirectoryOrCreate"}
    tmp = mounts.pop("/tmp")
    assert "emptyDir" in vols[tmp["name"]]
    assert not mounts, f"unexpected mounts: {sorted(mounts)}"
    # no other host path at all (no /, no /proc, no container runtime socket)
    host_paths = sorted(v["hostPath"]["path"] for v in spec["volumes"] if "hostPath" in v)
    assert host_paths == sorted(list(want_ro.values()) + ["/var/lib/armorsmith/probe"])


# ---------------------------------------------------------------- the other programs

def test_merger_builder_status_run_unprivileged(helm):
    objs = render(helm)
    for kind, component, names in (("Deployment", "merger", ["merger"]),
                                   ("Deployment", "builder", ["builder", "status"])):
        spec = pod_spec(objs, kind, component)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] != 0
        assert not spec.get("hostPID") and not spec.get("hostNetwork")
        assert not [v for v in spec["volumes"] if "hostPath" in v]
        for name in names:
            sc = container(spec, name)["securityContext"]
            assert sc["runAsNonRoot"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"] == {"drop": ["ALL"]}, name
    assert pod_spec(objs, "Deployment", "merger")["automountServiceAccountToken"] is False


def test_pod_security_restricted_admits_merger_and_builder(helm, kubectl, kube_env):
    """The API server's PodSecurity admission (warn=restricted) finds nothing to say about
    the merger and builder pods; about the probe it does (so the check is live)."""
    ns = f"helm-pss-{uuid.uuid4().hex[:8]}"
    create_namespace(kubectl, kube_env, ns, {"pod-security.kubernetes.io/warn": "restricted"})
    try:
        objs = render(helm, namespace=ns)
        for component in ("merger", "builder"):
            obj = [o for o in objs if o["kind"] == "Deployment"
                   and o["metadata"]["labels"]["app.kubernetes.io/component"] == component]
            r = run([kubectl, "apply", "--dry-run=server", "-f", "-"], env=kube_env,
                    input=yaml.safe_dump_all(obj))
            assert "PodSecurity" not in r.stderr, (component, r.stderr)
        probe = find(objs, "DaemonSet", component="probe")
        r = run([kubectl, "apply", "--dry-run=server", "-f", "-"], env=kube_env,
                input=yaml.safe_dump(probe))
        assert 'would violate PodSecurity "restricted' in r.stderr, r.stderr
        assert "hostPID=true" in r.stderr, r.stderr
    finally:
        delete_namespace(kubectl, kube_env, ns)


def test_environment_and_health_checks(helm):
    objs = render(helm)
    probe = container(pod_spec(objs, "DaemonSet", "probe"), "probe")
    merger = container(pod_spec(objs, "Deployment", "merger"), "merger")
    bspec = pod_spec(objs, "Deployment", "builder")
    builder, status = container(bspec, "builder"), container(bspec, "status")

    def field_ref(env, name):
        return env[name]["valueFrom"]["fieldRef"]["fieldPath"]

    for name, c in (("probe", probe), ("merger", merger), ("builder", builder),
                    ("status", status)):
        env = env_of(c)
        assert env["ARMORSMITH_METRICS_ADDR"]["value"] == f"0.0.0.0:{METRICS_PORTS[name]}"
        assert field_ref(env, "ARMORSMITH_NAMESPACE") == "metadata.namespace"
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        for check in ("livenessProbe", "readinessProbe"):
            get = c[check]["httpGet"]
            assert get["path"] == "/healthz"
            assert ports[get["port"]] == METRICS_PORTS[name], (name, check)
        if name != "merger":
            assert env["ARMORSMITH_KUBE"]["value"] == "true", name
        if name != "status":
            assert env["ARMORSMITH_KAFKA_BROKERS"]["value"] == "kafka:9092"

    env = env_of(probe)
    assert field_ref(env, "ARMORSMITH_NODE_NAME") == "spec.nodeName"
    assert env["ARMORSMITH_PROBE_STATE_DIR"]["value"] == "/var/lib/armorsmith/probe"
    assert "ARMORSMITH_AUDIT_LOG" not in env
    assert "ARMORSMITH_KUBE" not in env_of(merger)
    for c in (merger, builder):
        ref = env_of(c)["ARMORSMITH_PG_DSN"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "armorsmith-postgres", "key": "dsn"}
    secret = find(objs, "Secret", "armorsmith-postgres")
    assert secret["stringData"]["dsn"].startswith("host=")
    for c in (probe, builder):
        assert env_of(c)["ARMORSMITH_MATCH_LABEL"]["value"] == "sandbox.varmor.org/enable"

    env = env_of(status)
    assert env["ARMORSMITH_STATUS_ADDR"]["value"] == "0.0.0.0:8080"
    tls = {m["name"]: m for m in status["volumeMounts"]}["status-tls"]
    assert tls["readOnly"] is True
    assert env["ARMORSMITH_STATUS_TLS_CERT"]["value"] == tls["mountPath"] + "/tls.crt"
    assert env["ARMORSMITH_STATUS_TLS_KEY"]["value"] == tls["mountPath"] + "/tls.key"
    secret_vol = {v["name"]: v for v in bspec["volumes"]}["status-tls"]["secret"]
    assert secret_vol["secretName"] == "armorsmith-status-tls"

    # values reach the environment; an empty match label is set, and set empty
    objs = render(helm, "matchLabel=", "probe.auditLog.file=/var/log/audit/audit.log",
                  "kafka.brokers=k1:9092\\,k2:9092", "postgres.existingSecret=pg",
                  "postgres.existingSecretKey=uri", "status.tls.secretName=my-tls")
    probe = container(pod_spec(objs, "DaemonSet", "probe"), "probe")
    bspec = pod_spec(objs, "Deployment", "builder")
    for c in (probe, container(bspec, "builder")):
        assert env_of(c)["ARMORSMITH_MATCH_LABEL"] == {"name": "ARMORSMITH_MATCH_LABEL",
                                                       "value": ""}
    assert env_of(probe)["ARMORSMITH_AUDIT_LOG"]["value"] == "/var/log/audit/audit.log"
    assert env_of(probe)["ARMORSMITH_KAFKA_BROKERS"]["value"] == "k1:9092,k2:9092"
    ref = env_of(container(bspec, "builder"))["ARMORSMITH_PG_DSN"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "pg", "key": "uri"}
    assert not [o for o in objs if o["kind"] == "Secret"]
    assert {v["name"]: v for v in bspec["volumes"]}["status-tls"]["secret"]["secretName"] \
        == "my-tls"


def test_status_service(helm):
    objs = render(helm)
    svc = find(objs, "Service", "armorsmith-status-svc")
    assert svc["spec"]["ports"] == [{"name": "https", "port": 8080, "targetPort": "https",
                                     "protocol": "TCP"}]
    spec = pod_spec(objs, "Deployment", "builder")
    assert svc["spec"]["selector"] == find(objs, "Deployment", component="builder")[
        "spec"]["selector"]["matchLabels"]
    ports = {p["name"]: p["containerPort"] for p in container(spec, "status")["ports"]}
    assert ports["https"] == 8080
    assert not [p for p in container(spec, "builder")["ports"] if p["name"] == "https"]

    assert find(render(helm, "status.service.name=varmor-status-svc"), "Service",
                "varmor-status-svc")
    assert find(render(helm, "status.service.name=", release="edge"), "Service",
                "edge-status-svc")
    objs = render(helm, "status.enabled=false")
    assert not [o for o in objs if o["metadata"]["name"].endswith("status-svc")]
    assert [c["name"] for c in pod_spec(objs, "Deployment", "builder")["containers"]] == \
        ["builder"]


def test_metrics_services(helm):
    objs = render(helm)
    for component, ports in (("probe", {"metrics": 9464}), ("merger", {"metrics": 9465}),
                             ("builder", {"metrics": 9466, "status-metrics": 9467})):
        svc = find(objs, "Service", f"armorsmith-{component}-metrics")
        assert svc["spec"]["clusterIP"] == "None"
        assert svc["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
        assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == ports
        assert svc["spec"]["selector"]["app.kubernetes.io/component"] == component
    objs = render(helm, "metrics.service.enabled=false", "metrics.podAnnotations=true")
    assert not [o for o in objs if o["metadata"]["name"].endswith("-metrics")]
    tmpl = find(objs, "DaemonSet", component="probe")["spec"]["template"]
    assert tmpl["metadata"]["annotations"]["prometheus.io/port"] == "9464"


# ---------------------------------------------------------------- RBAC

RBAC_EXPECT = {
    "builder": {
        True: [("get", "varmorpolicies.crd.varmor.org"),
               ("list", "varmorpolicies.crd.varmor.org"),
               ("watch", "varmorclusterpolicies.crd.varmor.org"),
               ("update", "varmorpolicies.crd.varmor.org", "status"),
               ("patch", "varmorclusterpolicies.crd.varmor.org", "status"),
               ("get", "armorprofilemodels.crd.varmor.org"),
               ("watch", "armorprofilemodels.crd.varmor.org"),
               ("create", "armorprofilemodels.crd.varmor.org"),
               ("update", "armorprofilemodels.crd.varmor.org"),
               ("patch", "armorprofilemodels.crd.varmor.org"),
               ("update", "armorprofilemodels.crd.varmor.org", "status"),
               # updateExistingWorkloads: rolling restarts of target workloads
               ("list", "deployments.apps"), ("patch", "statefulsets.apps"),
               ("patch", "daemonsets.apps"),
               # the status container shares the builder pod's service account
               ("create", "tokenreviews.authentication.k8s.io"),
               ("create", "subjectaccessreviews.authorization.k8s.io")],
        False: [("delete", "pods"), ("list", "pods"), ("create", "pods"),
                ("get", "secrets"),
                ("delete", "armorprofilemodels.crd.varmor.org"),
                ("deletecollection", "armorprofilemodels.crd.varmor.org"),
                ("create", "varmorpolicies.crd.varmor.org"),
                ("update", "varmorpolicies.crd.varmor.org"),
                ("delete", "varmorclusterpolicies.crd.varmor.org"),
                ("get", "deployments.apps"), ("delete", "deployments.apps"),
                ("update", "deployments.apps"), ("list", "replicasets.apps"),
                ("impersonate", "serviceaccounts")],
    },
    "probe": {
        True: [("get", "pods"), ("list", "pods"), ("watch", "pods"),
               ("get", "replicasets.apps"), ("get", "deployments.apps"),
               ("get", "statefulsets.apps"), ("get", "daemonsets.apps")],
        False: [("delete", "pods"), ("create", "pods"), ("update", "pods"),
                ("create", "pods", "exec"), ("list", "deployments.apps"),
                ("watch", "replicasets.apps"), ("get", "secrets"), ("get", "nodes"),
                ("get", "armorprofilemodels.crd.varmor.org"),
                ("get", "varmorpolicies.crd.varmor.org"),
                ("create", "tokenreviews.authentication.k8s.io")],
    },
    "merger": {
        True: [],
        False: [("get", "pods"), ("list", "pods"), ("get", "secrets"),
                ("get", "armorprofilemodels.crd.varmor.org"),
                ("create", "armorprofilemodels.crd.varmor.org"),
                ("get", "varmorpolicies.crd.varmor.org")],
    },
}


def can_i(kubectl, env, ns, sa, verb, resource, subresource=None):
    cmd = [kubectl, "auth", "can-i", verb, resource, "--all-namespaces",
           f"--as=system:serviceaccount:{ns}:{sa}"]
    if subresource:
        cmd.append(f"--subresource={subresource}")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    answer = r.stdout.strip()
    assert answer in ("yes", "no"), (cmd, r.stdout, r.stderr)
    return answer == "yes"


def test_rbac_grants_the_least_verbs(helm, kubectl, kube_env):
    """The chart's ServiceAccounts, ClusterRoles and ClusterRoleBindings really applied into
    a throwaway namespace, asked about with `kubectl auth can-i --as`, then deleted."""
    ns = f"helm-rbac-{uuid.uuid4().hex[:8]}"
    release = f"rbac{uuid.uuid4().hex[:6]}"  # cluster-scoped names must not collide
    objs = [o for o in render(helm, release=release, namespace=ns)
            if o["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")]
    assert sorted(o["kind"] for o in objs) == ["ClusterRole"] * 3 + \
        ["ClusterRoleBinding"] * 3 + ["ServiceAccount"] * 3
    status_role = find(objs, "ClusterRole", f"{release}-armorsmith-status")
    assert status_role["rules"] == [
        {"apiGroups": ["crd.varmor.org"], "resources": ["armorprofilemodels"],
         "verbs": ["get", "create", "update", "patch"]},
        {"apiGroups": ["crd.varmor.org"], "resources": ["armorprofilemodels/status"],
         "verbs": ["patch"]},
        {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"],
         "verbs": ["create"]},
        {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"],
         "verbs": ["create"]}]
    text = yaml.safe_dump_all(objs)
    create_namespace(kubectl, kube_env, ns)
    try:
        run([kubectl, "apply", "--validate=strict", "-f", "-"], env=kube_env, input=text)
        wrong = []
        for component, expect in RBAC_EXPECT.items():
            sa = f"{release}-armorsmith-{component}"
            for allowed, checks in expect.items():
                for check in checks:
                    verb, resource = check[0], check[1]
                    sub = check[2] if len(check) > 2 else None
                    if can_i(kubectl, kube_env, ns, sa, verb, resource, sub) != allowed:
                        wrong.append((component, verb, resource, sub, "want", allowed))
        assert not wrong, wrong
        # the rules themselves: no wildcard anywhere
        for o in objs:
            for rule in o.get("rules", []):
                for key in ("verbs", "resources", "apiGroups"):
                    assert "*" not in rule[key], (o["metadata"]["name"], rule)
    finally:
        run([kubectl, "delete", "--ignore-not-found", "--wait=false", "-f", "-"],
            env=kube_env, input=text, check=False)
        delete_namespace(kubectl, kube_env, ns)
    for o in objs:
        if o["kind"] != "ServiceAccount":
            r = run([kubectl, "get", o["kind"].lower(), o["metadata"]["name"]], env=kube_env,
                    check=False)
            assert r.returncode != 0 and "NotFound" in r.stderr, r.stdout


# ---------------------------------------------------------------- Dockerfile

def dockerfile_instructions():
    """(stage, INSTRUCTION, arguments) with continuation lines joined."""
    lines, cur = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        s = raw.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        if cur and s.startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        lines.append(cur + s)
        cur = ""
    assert not cur, "Dockerfile ends with a continuation line"
    out, stage = [], None
    for line in lines:
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest.strip(), re.IGNORECASE)
            assert m, line
            stage = m.group(2)
        out.append((stage, word, rest.strip()))
    return out


def copies():
    """[(from_stage or None, [sources], dest)] of every COPY."""
    res = []
    for _stage, word, rest in dockerfile_instructions():
        if word != "COPY":
            continue
        args = rest.split()
        opts = {}
        while args and args[0].startswith("--"):
            k, _, v = args.pop(0)[2:].partition("=")
            opts[k] = v
        assert len(args) >= 2, rest
        res.append((opts.get("from"), args[:-1], args[-1]))
    return res


def runtime_packages():
    stages = [s for s, w, _ in dockerfile_instructions() if w == "FROM"]
    last = stages[-1]
    pkgs = []
    for stage, word, rest in dockerfile_instructions():
        if stage != last or word != "RUN" or "apt-get install" not in rest:
            continue
        for part in rest.split("&&"):
            tokens = part.split()
            if "install" in tokens and tokens[:1] == ["apt-get"]:
                pkgs += [t for t in tokens[tokens.index("install") + 1:] if not t.startswith("-")]
    assert pkgs, "the runtime stage installs no package"
    return pkgs


def dockerignore_patterns():
    pats = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            assert not line.startswith("!"), "exceptions are not handled by this check"
            pats.append(line.strip("/"))
    return pats


def ignored(rel, pats):
    parts = rel.split("/")
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i])
        for p in pats:
            if fnmatch.fnmatchcase(prefix, p):
                return True
            if p.startswith("**/") and (fnmatch.fnmatchcase(prefix, p[3:])
                                        or fnmatch.fnmatchcase(parts[i - 1], p[3:])):
                return True
    return False


def image_binaries():
    """{name: path in the image} of the programs the runtime stage copies from the build."""
    bins = {}
    for frm, srcs, dest in copies():
        if frm == "build":
            for s in srcs:
                if s.startswith("/src/build/bin/"):
                    assert dest.endswith("/"), dest
                    bins[pathlib.PurePosixPath(s).name] = dest + pathlib.PurePosixPath(s).name
    return bins


def test_dockerfile_stages_are_this_machines_debian():
    osrel = dict(line.split("=", 1) for line in
                 pathlib.Path("/etc/os-release").read_text().splitlines() if "=" in line)
    codename = osrel["VERSION_CODENAME"].strip('"')
    assert osrel["ID"] == "debian"
    froms = [rest.split()[0] for _s, w, rest in dockerfile_instructions() if w == "FROM"]
    assert froms == [f"debian:{codename}", f"debian:{codename}-slim"], froms
    runs = [rest for s, w, rest in dockerfile_instructions() if w == "RUN" and s == "build"]
    assert any("scripts/install-deps.sh --build-only" in r for r in runs), runs
    assert any("scripts/build.sh" in r for r in runs), runs
    users = [rest for _s, w, rest in dockerfile_instructions() if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), users


def test_dockerfile_copy_sources_exist(build_dir):
    pats = dockerignore_patterns()
    n = 0
    for frm, srcs, _dest in copies():
        for s in srcs:
            n += 1
            if frm is None:
                assert (REPO / s).exists(), f"COPY source {s} does not exist"
                if s != ".":
                    assert not ignored(s.strip("/"), pats), f"COPY source {s} is .dockerignored"
            elif frm == "build":
                assert s.startswith("/src/"), s
                rel = s[len("/src/"):]
                if rel.startswith("build/"):
                    # made by scripts/build.sh in the build stage
                    built = build_dir / rel[len("build/"):]
                    assert built.is_file() and os.access(built, os.X_OK), \
                        f"{s}: {built} is not built"
                else:
                    assert (REPO / rel).is_file(), f"{s}: {rel} is not in the repository"
                    assert not ignored(rel, pats), f"{s} is .dockerignored"
            else:
                pytest.fail(f"COPY --from={frm}: unknown stage")
    assert n >= 4


def test_dockerignore_keeps_every_source_file():
    files = run(["git", "-C", str(REPO), "ls-files", "--cached", "--others",
                 "--exclude-standard"]).stdout.split()
    assert "CMakeLists.txt" in files
    pats = dockerignore_patterns()
    dropped = [f for f in files if ignored(f, pats)]
    assert not dropped, f".dockerignore leaves out source files: {dropped[:10]}"
    # and it does leave out the build outputs
    for f in ("build/bin/armorsmith", "build-asan/x", ".git/HEAD",
              "integration-tests/__pycache__/x.pyc"):
        assert ignored(f, pats), f


def test_chart_programs_are_built_and_shipped(helm, build_dir):
    objs = render(helm, "builder.persistence.enabled=true")
    commands = set()
    for o in objs:
        if o["kind"] in ("DaemonSet", "Deployment"):
            for c in o["spec"]["template"]["spec"]["containers"]:
                commands.add(c["command"][0])
    assert commands == {"/usr/local/bin/armorsmith-probe", "/usr/local/bin/armorsmith-merger",
                        "/usr/local/bin/armorsmith-builder",
                        "/usr/local/bin/armorsmith-status"}
    shipped = image_binaries()
    targets = set()
    for cm in REPO.rglob("CMakeLists.txt"):
        if not cm.relative_to(REPO).parts[0].startswith("build"):
            targets |= set(re.findall(r"add_executable\(\s*([\w-]+)", cm.read_text()))
    for cmd in sorted(commands) + ["/usr/local/bin/armorsmith"]:
        name = pathlib.PurePosixPath(cmd).name
        assert name in targets, f"{name}: no add_executable in any CMakeLists.txt"
        built = build_dir / "bin" / name
        assert built.is_file() and os.access(built, os.X_OK), f"{name} is not in {built.parent}"
        assert shipped.get(name) == cmd, f"the Dockerfile does not copy {name} to {cmd}"


def test_runtime_packages_exist_in_debian():
    pkgs = runtime_packages()
    assert len(pkgs) == len(set(pkgs)), "a package is listed twice"
    # one apt-cache call for all (about 1 s each otherwise); it fails if any is unknown
    r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + pkgs, capture_output=True,
                       text=True)
    found = set(re.findall(r"^Package: (\S+)$", r.stdout, re.MULTILINE))
    missing = sorted(set(pkgs) - found)
    assert r.returncode == 0 and not missing, \
        f"not in Debian's package index (apt-get update first?): {missing}\n{r.stderr}"


def dpkg_owners(libs):
    """{library path ldd printed: Debian package providing it}; usrmerge: /lib is /usr/lib,
    so each path is also asked under its other spelling and its resolved name."""
    cands = {}
    for lib in libs:
        for c in (lib, os.path.realpath(lib)):
            for alt in (c, c[len("/usr"):] if c.startswith("/usr/lib") else "/usr" + c):
                cands.setdefault(alt, set()).add(lib)
    # one dpkg -S for all; it exits non-zero when some spelling is unknown, which is expected
    r = subprocess.run(["dpkg", "-S"] + sorted(cands), capture_output=True, text=True)
    owners = {}
    for line in r.stdout.splitlines():
        pkg, _, path = line.partition(": ")
        for lib in cands.get(path.strip(), ()):
            owners.setdefault(lib, pkg.split(":")[0].split(",")[0].strip())
    return owners


def test_runtime_stage_installs_every_shared_library(build_dir):
    bins = image_binaries()
    assert {"armorsmith", "armorsmith-probe", "armorsmith-merger", "armorsmith-builder",
            "armorsmith-status"} <= set(bins)
    users = {}
    for name in sorted(bins):
        out = run(["ldd", str(build_dir / "bin" / name)]).stdout
        assert "not found" not in out, out
        for line in out.splitlines():
            m = re.search(r"=>\s+(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(", line)
            if m:  # not linux-vdso
                users.setdefault(m.group(1), set()).add(name)
    assert len(users) > 10, users
    owners = dpkg_owners(users)
    unowned = sorted(set(users) - set(owners))
    assert not unowned, f"no Debian package owns {unowned}"
    needed = {}
    for lib, pkg in owners.items():
        needed.setdefault(pkg, set()).update(f"{b}: {os.path.basename(lib)}" for b in users[lib])
    listed = set(runtime_packages())
    missing = {p: sorted(v) for p, v in needed.items() if p not in listed}
    assert not missing, f"the runtime stage does not install {missing}"
    extra = listed - set(needed) - RUNTIME_NON_LIBRARY_PACKAGES
    assert not extra, f"the runtime stage installs packages no program loads: {sorted(extra)}"
