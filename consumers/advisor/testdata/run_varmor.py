#!/usr/bin/env python3
"""Regenerates expected/*.json with vArmor's own Policy Advisor.

usage: run_varmor.py VARMOR_POLICY_ADVISOR_DIR

VARMOR_POLICY_ADVISOR_DIR holds tools/policy-advisor of bytedance/vArmor at
6b0c028619bb99aa28c8321e48e95cbe344333ca (not part of this repository).
For every line of cases.txt it runs, unmodified,
    python3 policy-advisor.py ENFORCERS -f FEATURES -c CAPABILITIES -m MODEL
and stores the JSON template it printed (NAME.json) and its whole output
(NAME.stdout). The one preparation: files entries
without "oldPath" get "oldPath": "" in a temporary copy of the model, because
that script indexes file["oldPath"] and raises KeyError otherwise, while
vArmor's own Go writer omits an empty oldPath (omitempty) - both mean "no
old path", so the rule selection is unaffected."""
import json
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent


def prepared(model_path, tmp):
    obj = json.loads(model_path.read_text())
    dyn = obj.get("data", {}).get("dynamicResult", {})
    for section in ("apparmor", "bpf"):
        for f in (dyn.get(section) or {}).get("files", []):
            f.setdefault("oldPath", "")
    out = pathlib.Path(tmp) / model_path.name
    out.write_text(json.dumps(obj))
    return out


def template(stdout):
    start = stdout.index("------------------ Template (json) ------------------")
    end = stdout.index("------------------ Template (yaml) ------------------")
    return json.loads(stdout[start:end].split("\n", 1)[1])


def main():
    tool = pathlib.Path(sys.argv[1]) / "policy-advisor.py"
    (HERE / "expected").mkdir(exist_ok=True)
    for line in (HERE / "cases.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, model, enforcers, features, caps = [x.strip() for x in line.split("|")]
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, str(tool), enforcers]
            if features:
                cmd += ["-f", features]
            if caps:
                cmd += ["-c", caps]
            if model != "-":
                cmd += ["-m", str(prepared(HERE / "models" / model, tmp))]
            r = subprocess.run(cmd, capture_output=True, text=True, check=True,
                               cwd=tool.parent)
        result = {"case": name, "command": cmd[1:], "template": template(r.stdout)}
        result["command"][0] = "policy-advisor.py"
        if model != "-":
            result["command"][-1] = "models/" + model
        (HERE / "expected" / (name + ".json")).write_text(json.dumps(result, indent=2) + "\n")
        # The whole output too: armorsmith prints the same bytes.
        (HERE / "expected" / (name + ".stdout")).write_text(r.stdout)
        print(name, "ok")


if __name__ == "__main__":
    main()
