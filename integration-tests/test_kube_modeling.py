"""The seed's use case end to end against a real kube-apiserver: Deployments
with the sandbox label in two namespaces (in one, container c0 annotated
unconfined), a VarmorClusterPolicy in BehaviorModeling mode, the workload's
commands, the duration patched to 1, the policy Completed, and the profiles
read back with kubectl exactly as the seed reads them.

Nothing runs pods here (no kubelet, no controller-manager), so this file is
the kubelet: it creates the ReplicaSets and Pods a Deployment controller
would, bound to a node name, starts each "container" as a process tree in a
cgroup named the way containerd names them under the systemd driver, and
writes the container ids into the pods' status. `kubectl exec` becomes
running the command inside that container's cgroup. The probe, merger and
builder are the real programs, with BPF capture."""
import json
import os
import pathlib
import re
import secrets
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import REPO

SCRIPT = REPO / "deploy/local/kube-apiserver.sh"
WORKDIR = pathlib.Path("/var/lib/armorsmith-e2e")


def cgroup2_root():
    """Where cgroup2 is mounted (/sys/fs/cgroup/unified on hybrid hosts)."""
    for line in open("/proc/self/mountinfo"):
        left, _, right = line.partition(" - ")
        if right.split()[0] == "cgroup2":
            return pathlib.Path(left.split()[4])
    pytest.fail("no cgroup2 mount in /proc/self/mountinfo")




def kube_env():
    st = subprocess.run([str(SCRIPT), "status"], capture_output=True, text=True)
    if st.returncode != 0:
        pytest.fail("kube-apiserver is not running (deploy/local/kube-apiserver.sh start):\n"
                    + st.stdout + st.stderr)
    env = {}
    for line in subprocess.run([str(SCRIPT), "env"], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        k, v = line[len("export "):].split("=", 1)
        env[k] = v.strip("'")
    return env


class Cluster:
    def __init__(self, env, kubectl):
        self.env = env
        self.kubectl_bin = kubectl

    def kubectl(self, *args, stdin=None, check=True):
        r = subprocess.run([self.kubectl_bin, *args], input=stdin, capture_output=True,
                           text=True, env=self.env, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {r.stderr}")
        return r.stdout

    def create(self, obj):
        return json.loads(self.kubectl("create", "-o", "json", "-f", "-",
                                       stdin=json.dumps(obj)))

    def get(self, *args):
        return json.loads(self.kubectl("get", "-o", "json", *args))


class Kubelet:
    """Runs a Deployment's pods on one node the way the kubelet would,
    as far as armorsmith can tell: objects, cgroups, processes, status."""

    def __init__(self, cluster, node):
        self.c = cluster
        self.node = node
        self.root = cgroup2_root() / f"armorsmith-e2e-{os.getpid()}-{secrets.token_hex(3)}"
        self.procs = []
        self.containers = {}  # (ns, pod, container) -> cgroup dir
        self.root.mkdir()

    def deployment(self, ns, name, labels, template_annotations, containers, replicas=1):
        dep = self.c.create({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name},
                                               "annotations": template_annotations},
                                  "spec": {"shareProcessNamespace": True, "containers": [
                                      {"name": c, "image": "debian:10",
                                       "command": ["/bin/sh", "-c", "sleep infinity"]}
                                      for c in containers]}}}})
        h = secrets.token_hex(5)[:9]
        rs = self.c.create({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{name}-{h}", "namespace": ns,
                         "labels": {"app": name, "pod-template-hash": h},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                              "name": name, "uid": dep["metadata"]["uid"],
                                              "controller": True,
                                              "blockOwnerDeletion": True}]},
            "spec": {"replicas": replicas,
                     "selector": {"matchLabels": {"app": name, "pod-template-hash": h}},
                     "template": {"metadata": {"labels": {"app": name, "pod-template-hash": h},
                                               "annotations": template_annotations},
                                  "spec": dep["spec"]["template"]["spec"]}}})
        pods = []
        for i in range(replicas):
            pod = self.c.create({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"{name}-{h}-{secrets.token_hex(3)[:5]}", "namespace": ns,
                             "labels": {"app": name, "pod-template-hash": h},
                             "annotations": template_annotations,
                             "ownerReferences": [{"apiVersion": "apps/v1",
                                                  "kind": "ReplicaSet",
                                                  "name": rs["metadata"]["name"],
                                                  "uid": rs["metadata"]["uid"],
                                                  "controller": True,
                                                  "blockOwnerDeletion": True}]},
                "spec": dict(dep["spec"]["template"]["spec"], nodeName=self.node)})
            self.run_pod(pod)
            pods.append(pod["metadata"]["name"])
        return pods

    def run_pod(self, pod):
        ns, name, uid = (pod["metadata"]["namespace"], pod["metadata"]["name"],
                         pod["metadata"]["uid"])
        pod_cg = self.root / "kubepods.slice" / f"kubepods-pod{uid.replace('-', '_')}.slice"
        pod_cg.mkdir(parents=True)
        statuses = []
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for c in pod["spec"]["containers"]:
            cid = secrets.token_hex(32)
            cg = pod_cg / f"cri-containerd-{cid}.scope"
            cg.mkdir()
            self.containers[(ns, name, c["name"])] = cg
            self.procs.append(self.spawn(cg, ["sleep", "infinity"]))
            statuses.append({"name": c["name"], "containerID": f"containerd://{cid}",
                             "image": c["image"], "imageID": "", "ready": True,
                             "restartCount": 0, "started": True,
                             "state": {"running": {"startedAt": now}}})
        self.c.kubectl("patch", "pod", "-n", ns, name, "--subresource=status", "--type=merge",
                       "-p", json.dumps({"status": {"phase": "Running",
                                                    "containerStatuses": statuses}}))

    @staticmethod
    def spawn(cgroup, argv, **kw):
        def enter():
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))
        return subprocess.Popen(argv, preexec_fn=enter, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, **kw)

    def exec(self, ns, pod, container, argv):
        """kubectl exec: the command runs in the container's cgroup."""
        p = self.spawn(self.containers[(ns, pod, container)], argv)
        out, _ = p.communicate(timeout=30)
        return p.returncode, out.decode(errors="replace")

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()
        for d in sorted(self.root.rglob("*"), key=lambda p: -len(p.parts)):
            if d.is_dir():
                d.rmdir()
        self.root.rmdir()


@pytest.fixture
def cluster(tool):
    return Cluster(dict(os.environ, **kube_env()), tool("kubectl"))


def start(bin_dir, name, args, env, logs):
    log = open(logs / f"{name}.log", "w")
    return subprocess.Popen([str(bin_dir / name), *args], env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def wait_for(what, fn, timeout, procs=(), logs=None):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"{p.args[0]} exited with {p.returncode} while waiting "
                                     f"for {what}" + dump_logs(logs))
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + dump_logs(logs))


def dump_logs(logs):
    if not logs:
        return ""
    return "".join(f"\n--- {f.name} ---\n" + f.read_text()[-4000:]
                   for f in sorted(logs.glob("*.log")))


def test_seed_use_case_cluster_policy(bin_dir, services_env, cluster, tmp_path):
    tag = uuid.uuid4().hex[:6]
    install_ns, ns_a, ns_b = f"varmor-{tag}", f"e2e-a-{tag}", f"e2e-b-{tag}"
    node = f"node-{tag}"
    policy = f"demo-4-{tag}"
    logs = tmp_path / "logs"
    logs.mkdir()
    for ns in (install_ns, ns_a, ns_b):
        cluster.kubectl("create", "namespace", ns)
    env = dict(cluster.env, **{k: v for k, v in services_env.items()
                               if k.startswith("ARMORSMITH_")})
    env.update(ARMORSMITH_SINK_DIR=str(tmp_path / "models"),
               ARMORSMITH_PROBE_STATE_DIR=str(tmp_path / "probe"), ARMORSMITH_GRACE="20s")
    kubelet = Kubelet(cluster, node)
    procs = []
    if WORKDIR.exists():
        shutil.rmtree(WORKDIR)
    WORKDIR.mkdir()
    try:
        procs.append(start(bin_dir, "armorsmith-merger", [], env, logs))
        procs.append(start(bin_dir, "armorsmith-builder", ["--kube", "--namespace", install_ns],
                           env, logs))
        procs.append(start(bin_dir, "armorsmith-probe", ["--kube", "--node", node], env, logs))

        sandbox = {"app": "demo-4", "sandbox.varmor.org/enable": "true"}
        unconfined = {"container.apparmor.security.beta.varmor.org/c0": "unconfined",
                      "container.seccomp.security.beta.varmor.org/c0": "unconfined"}
        pods_a = kubelet.deployment(ns_a, "demo-4", sandbox, {}, ["c0"], replicas=2)
        pods_b = kubelet.deployment(ns_b, "demo-4", sandbox, unconfined, ["c0", "c1"],
                                    replicas=2)
        # Same selector, no sandbox label: vArmor's webhook never sees it.
        pods_c = kubelet.deployment(ns_b, "demo-5", {"app": "demo-4"}, {}, ["c0"])

        cluster.create({
            "apiVersion": "crd.varmor.org/v1beta1", "kind": "VarmorClusterPolicy",
            "metadata": {"name": policy},
            "spec": {"updateExistingWorkloads": True,
                     "target": {"kind": "Deployment",
                                "selector": {"matchLabels": {"app": "demo-4"}}},
                     "policy": {"enforcer": "AppArmorSeccomp", "mode": "BehaviorModeling",
                                "modelingOptions": {"duration": 30}}}})
        profile = f"varmor-cluster-{install_ns}-{policy}"

        def phase():
            return cluster.get("vcpol", policy).get("status", {}).get("phase")
        wait_for("policy Modeling", lambda: phase() == "Modeling", 60, procs, logs)
        # updateExistingWorkloads: the labeled Deployments get a rolling restart.
        def restarted(ns, name):
            return "armorsmith.io/restartedAt" in (cluster.get("deployment", "-n", ns, name)
                                                   ["spec"]["template"]["metadata"]
                                                   .get("annotations") or {})
        wait_for("rolling restarts", lambda: restarted(ns_a, "demo-4") and
                 restarted(ns_b, "demo-4"), 30, procs, logs)
        assert not restarted(ns_b, "demo-5")
        table = cluster.kubectl("get", "vcpol", policy)
        assert "Modeling" in table and profile in table and "AppArmorSeccomp" in table, table
        # The probe has found the containers once it joined the run.
        wait_for("probe joined", lambda: "joined run" in (logs / "armorsmith-probe.log")
                 .read_text(), 60, procs, logs)
        time.sleep(2)

        rc, out = kubelet.exec(ns_a, pods_a[0], "c0", ["cat", "/etc/shadow"])
        assert rc == 0, out
        rc, out = kubelet.exec(ns_a, pods_a[0], "c0", ["bash", "-c", "unshare -Un id"])
        assert rc == 0 and "uid=" in out, out
        for c in ("c0", "c1"):
            rc, out = kubelet.exec(ns_b, pods_b[1], c, [
                "bash", "-c", f"echo {pods_b[1]}/{c} > {WORKDIR}/{c}"])
            assert rc == 0, out
        rc, out = kubelet.exec(ns_b, pods_b[1], "c0", ["tac", f"{WORKDIR}/c0"])
        assert rc == 0 and "c0" in out, out
        rc, out = kubelet.exec(ns_b, pods_b[1], "c1", ["cat", f"{WORKDIR}/c1"])
        assert rc == 0 and "c1" in out, out
        # The unlabeled Deployment's pod: must contribute nothing.
        rc, out = kubelet.exec(ns_b, pods_c[0], "c0", ["od", "-c", "/etc/hostname"])
        assert rc == 0, out
        time.sleep(1)

        cluster.kubectl("patch", "vcpol", policy, "--type=json", "-p",
                        '[{"op": "replace", "path": "/spec/policy/modelingOptions/duration",'
                        ' "value":1}]')
        wait_for("policy Completed", lambda: phase() == "Completed", 150, procs, logs)
        table = cluster.kubectl("get", "vcpol", policy)
        assert "Completed" in table and "true" in table, table

        profile_name = cluster.kubectl("get", "vcpol", policy, "-o",
                                       "jsonpath={.status.profileName}")
        assert profile_name == profile
        apm = cluster.get("ArmorProfileModel", "-n", install_ns, profile_name)
        assert apm["storageType"] == "CRDInternal"
        assert apm["status"]["ready"] is True
        assert apm["status"]["desiredNumber"] == 1 and apm["status"]["completedNumber"] == 1
        table = cluster.kubectl("get", "ArmorProfileModel", "-A")
        assert profile_name in table and "CRDInternal" in table

        content = cluster.kubectl("get", "ArmorProfileModel", "-n", install_ns, profile_name,
                                  "-o", "jsonpath={.data.profile.content}")
        assert content.startswith("\n## == Managed by vArmor == ##\n\nabi <abi/3.0>,\n"), content
        assert f"profile {profile} flags=(attach_disconnected,mediate_deleted) {{" in content
        for rule in ("/usr/bin/id ix,", "/usr/bin/unshare ix,", "/usr/bin/cat ix,",
                     "/etc/shadow r,"):
            assert rule in content, (rule, content)
        assert re.search(rf"^  (owner )?{WORKDIR}/c1 [a-z]*w[a-z]*,$", content, re.M), content
        # c0 of the annotated pods and the unlabeled Deployment contribute nothing.
        for absent in ("/usr/bin/tac", f"{WORKDIR}/c0", "/usr/bin/od"):
            assert absent not in content, (absent, content)

        seccomp = json.loads(cluster.kubectl(
            "get", "ArmorProfileModel", "-n", install_ns, profile_name, "-o",
            "jsonpath={.data.profile.seccompContent}"))
        assert seccomp["defaultAction"] == "SCMP_ACT_ERRNO"
        assert seccomp["syscalls"][0]["names"] == ["open", "openat", "openat2", "close",
                                                  "read", "write"]
        assert {"unshare", "execve"} <= set(seccomp["syscalls"][1]["names"])
        execs = apm["data"]["dynamicResult"]["bpf"]["executions"]
        assert "/usr/bin/tac" not in execs and "/usr/bin/od" not in execs

        # Points to Note: a new duration after completion restarts modeling.
        cluster.kubectl("patch", "vcpol", policy, "--type=json", "-p",
                        '[{"op": "replace", "path": "/spec/policy/modelingOptions/duration",'
                        ' "value":2}]')
        wait_for("policy Modeling again", lambda: phase() == "Modeling", 60, procs, logs)
        conds = cluster.get("vcpol", policy)["status"]["conditions"]
        assert any("generation 2" in c.get("message", "") for c in conds), conds
    finally:
        cluster.kubectl("delete", "vcpol", policy, "--ignore-not-found", check=False)
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        kubelet.close()
        for ns in (install_ns, ns_a, ns_b):
            cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)
        shutil.rmtree(WORKDIR, ignore_errors=True)


def test_namespaced_policy_validation_and_status(bin_dir, services_env, cluster, tmp_path):
    """A VarmorPolicy's own namespace and name make its profile name; invalid
    policies get phase Error with the reason; the enforcer cannot change while
    modeling; a new builder picks the running run up from the control topic."""
    tag = uuid.uuid4().hex[:6]
    ns = f"e2e-p-{tag}"
    logs = tmp_path / "logs"
    logs.mkdir()
    cluster.kubectl("create", "namespace", ns)
    env = dict(cluster.env, **{k: v for k, v in services_env.items()
                               if k.startswith("ARMORSMITH_")})
    env.update(ARMORSMITH_SINK_DIR=str(tmp_path / "models"))

    def vpol(name, duration, enforcer="BPFSeccomp", target=None):
        cluster.create({
            "apiVersion": "crd.varmor.org/v1beta1", "kind": "VarmorPolicy",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"target": target or {"kind": "Pod", "name": "web"},
                     "policy": {"enforcer": enforcer, "mode": "BehaviorModeling",
                                "modelingOptions": {"duration": duration}}}})

    def status(name):
        return cluster.get("vpol", "-n", ns, name).get("status", {})

    builder = start(bin_dir, "armorsmith-builder", ["--kube"], env, logs)
    procs = [builder]
    try:
        vpol("good", 30)
        vpol("zero", 0)
        vpol("both", 5, target={"kind": "Deployment", "name": "x",
                                "selector": {"matchLabels": {"a": "b"}}})
        vpol("job", 5, target={"kind": "Job", "name": "x"})
        wait_for("good Modeling", lambda: status("good").get("phase") == "Modeling", 60,
                 procs, logs)
        st = status("good")
        assert st["profileName"] == f"varmor-{ns}-good" and st["ready"] is True
        for name, reason in (("zero", "duration"), ("both", "exactly one"), ("job", "kind")):
            wait_for(f"{name} Error", lambda: status(name).get("phase") == "Error", 30,
                     procs, logs)
            conds = status(name)["conditions"]
            assert conds[0]["status"] == "False" and reason in conds[0]["message"], conds
            assert status(name)["ready"] is False

        cluster.kubectl("patch", "vpol", "-n", ns, "good", "--type=json", "-p",
                        '[{"op": "replace", "path": "/spec/policy/enforcer", "value": "BPF"}]')

        def refused():
            return [c for c in status("good").get("conditions", [])
                    if c["type"] == "Updated" and c["status"] == "False"]
        wait_for("enforcer change refused", refused, 30, procs, logs)
        assert "enforcer" in refused()[0]["message"]
        assert status("good")["phase"] == "Modeling"
        cluster.kubectl("patch", "vpol", "-n", ns, "good", "--type=json", "-p",
                        '[{"op": "replace", "path": "/spec/policy/mode", '
                        '"value": "EnhanceProtect"}]')
        wait_for("mode change refused",
                 lambda: any("mode cannot change" in c["message"] for c in refused()), 30,
                 procs, logs)
        assert status("good")["phase"] == "Modeling"

        # A restarted builder knows the run from the control topic: no new generation.
        builder.terminate()
        builder.wait(timeout=30)
        before = status("good")
        procs[0] = start(bin_dir, "armorsmith-builder", ["--kube"], env, logs)
        wait_for("second builder listing", lambda: (logs / "armorsmith-builder.log")
                 .read_text().count("controller watching") >= 1, 30, procs, logs)
        time.sleep(3)
        after = status("good")
        created = [c for c in after["conditions"] if c["type"] == "Created"][0]
        assert "generation 1 " in created["message"], after
        assert before["conditions"] == after["conditions"] or \
            [c for c in before["conditions"] if c["type"] == "Created"] == [created]
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        # Without a namespace controller, deleting the namespace leaves its objects.
        cluster.kubectl("delete", "vpol", "-n", ns, "--all", "--wait=false", check=False)
        cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def syllable_words(n):
    """n distinct ordinary words (no digits, nothing a random-segment
    classifier would take for an id)."""
    cons, vows = "bdfgklmnprstvz", "aeiou"
    syl = [c + v for c in cons for v in vows]
    out = []
    for a in syl:
        for b in syl:
            for c in syl:
                out.append(a + b + c)
                if len(out) == n:
                    return out
    return out


def test_model_too_large_for_the_api_server_lands_on_local_disk(bin_dir, services_env, cluster,
                                                                tmp_path):
    """30,000 files make a model of several MB, which etcd refuses: the builder
    writes storageType LocalDisk with empty data, keeps the data in its sink,
    and armorsmith-status exports it whole."""
    ck = pytest.importorskip("confluent_kafka")
    pyout = tmp_path / "pyproto"
    pyout.mkdir()
    subprocess.run(["protoc", f"--proto_path={REPO / 'proto'}", f"--python_out={pyout}",
                    str(REPO / "proto/armorsmith/v1/armorsmith.proto")], check=True)
    import sys
    sys.path.insert(0, str(pyout))
    from armorsmith.v1 import armorsmith_pb2 as pb

    tag = uuid.uuid4().hex[:6]
    ns, name = f"e2e-big-{tag}", "big"
    profile = f"varmor-{ns}-{name}"
    key = f"{ns}/{profile}"
    logs = tmp_path / "logs"
    logs.mkdir()
    sink = tmp_path / "models"
    cluster.kubectl("create", "namespace", ns)
    env = dict(cluster.env, **{k: v for k, v in services_env.items()
                               if k.startswith("ARMORSMITH_")})
    env.update(ARMORSMITH_SINK_DIR=str(sink))
    procs = [start(bin_dir, "armorsmith-merger", [], env, logs),
             start(bin_dir, "armorsmith-builder", ["--kube"], env, logs)]
    try:
        cluster.create({
            "apiVersion": "crd.varmor.org/v1beta1", "kind": "VarmorPolicy",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"target": {"kind": "Pod", "name": "nowhere"},
                     "policy": {"enforcer": "BPFSeccomp", "mode": "BehaviorModeling",
                                "modelingOptions": {"duration": 1}}}})

        def status():
            return cluster.get("vpol", "-n", ns, name).get("status", {})
        wait_for("Modeling", lambda: status().get("phase") == "Modeling", 60, procs, logs)

        # A node's probe, as the wire sees it: joined, 30,000 files, completed.
        words = syllable_words(30000)
        prod = ck.Producer({"bootstrap.servers": env["ARMORSMITH_KAFKA_BROKERS"],
                            "enable.idempotence": True, "linger.ms": 20})

        def send(rec):
            prod.produce("armorsmith.behavior.v1", key=key, value=rec.SerializeToString())
            prod.poll(0)
        now = time.time_ns()
        send(pb.BehaviorRecord(report=pb.NodeReport(
            policy_key=key, generation=1, node="node-big", report_id=f"{tag}-j",
            phase=pb.NodeReport.PHASE_JOINED, time_unix_nano=now)))
        for i, w in enumerate(words):
            send(pb.BehaviorRecord(event=pb.BehaviorEvent(
                policy_key=key, generation=1, node="node-big", event_id=f"{tag}/{i}",
                source=pb.SOURCE_BPF, time_unix_nano=now,
                file=pb.FileBehavior(path=f"/srv/big/{w[:2]}/{w}.conf", permissions="r"))))
        send(pb.BehaviorRecord(event=pb.BehaviorEvent(
            policy_key=key, generation=1, node="node-big", event_id=f"{tag}/s",
            source=pb.SOURCE_BPF, time_unix_nano=now,
            syscall=pb.SyscallBehavior(name="getpid"))))
        send(pb.BehaviorRecord(report=pb.NodeReport(
            policy_key=key, generation=1, node="node-big", report_id=f"{tag}-c",
            phase=pb.NodeReport.PHASE_COMPLETED, events_published=30001,
            time_unix_nano=time.time_ns())))
        assert prod.flush(60) == 0

        wait_for("Completed", lambda: status().get("phase") == "Completed", 150, procs, logs)
        apm = cluster.get("ArmorProfileModel", "-n", ns, profile)
        assert apm["storageType"] == "LocalDisk"
        assert apm["data"] == {}
        assert apm["status"]["desiredNumber"] == 1 and apm["status"]["completedNumber"] == 1
        assert "too large" in (logs / "armorsmith-builder.log").read_text()
        local = json.loads((sink / ns / f"{profile}.json").read_text())
        files = local["data"]["dynamicResult"]["bpf"]["files"]
        assert len(files) == 30000
        assert len(json.dumps(local)) > 1_600_000  # beyond etcd's 1.5 MiB

        # armorsmith-status exports it whole.
        (tmp_path / "tls").mkdir()
        crt, keyf = tmp_path / "tls/tls.crt", tmp_path / "tls/tls.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(keyf), "-out", str(crt)], check=True, capture_output=True)
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        procs.append(start(bin_dir, "armorsmith-status",
                           ["--addr", f"127.0.0.1:{port}", "--sink-dir", str(sink)],
                           dict(env, ARMORSMITH_STATUS_TLS_CERT=str(crt),
                                ARMORSMITH_STATUS_TLS_KEY=str(keyf)), logs))
        token = env["ARMORSMITH_KUBE_TOKEN"]
        out = wait_for("export", lambda: subprocess.run(
            ["curl", "-sf", "--cacert", str(crt), "-H", f"Authorization: Bearer {token}",
             f"https://127.0.0.1:{port}/apis/crd.varmor.org/v1beta1/namespaces/{ns}/"
             f"armorprofilemodels/{profile}"], capture_output=True, text=True).stdout,
            30, procs, logs)
        exported = json.loads(out)
        assert exported["storageType"] == "LocalDisk"
        assert exported["data"] == local["data"]
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        # Without a namespace controller, deleting the namespace leaves its objects.
        cluster.kubectl("delete", "vpol", "-n", ns, "--all", "--wait=false", check=False)
        cluster.kubectl("delete", "namespace", ns, "--wait=false", check=False)
