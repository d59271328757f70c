"""The vArmor CRD schemas of shared/contracts/crds as JSON Schemas, plus the
structural-schema pruning check a real API server applies.

An API server silently drops every field its structural schema does not
declare; for armorsmith that would be lost data, so unknown_fields() lists
them and validate_apm() treats them as errors.
"""
import copy
import os
from pathlib import Path

import jsonschema
import yaml

REPO = Path(__file__).resolve().parent.parent

# ObjectMeta fields the API server keeps under the root "metadata" (the CRD
# declares metadata as a bare object; the server validates it as ObjectMeta).
OBJECT_META_FIELDS = {
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
    "generation", "creationTimestamp", "deletionTimestamp",
    "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
    "finalizers", "managedFields",
}

INT_RANGES = {"int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1)}


class SchemaError(Exception):
    pass


def shared_dir():
    """<repo>/../shared, or ARMORSMITH_SHARED_DIR; None when absent."""
    env = os.environ.get("ARMORSMITH_SHARED_DIR")
    path = Path(env) if env else REPO.parent / "shared"
    return path if (path / "contracts" / "crds").is_dir() else None


def load_crd(name):
    """The CRD document for name, e.g. "armorprofilemodels"."""
    base = shared_dir()
    if base is None:
        raise FileNotFoundError(
            "shared contracts not found: set ARMORSMITH_SHARED_DIR or place "
            "shared/ beside the repository")
    path = base / "contracts" / "crds" / f"crd.varmor.org_{name}.yaml"
    with open(path, encoding="utf-8") as f:
        for doc in yaml.safe_load_all(f):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                return doc
    raise SchemaError(f"{path}: no CustomResourceDefinition")


def raw_schema(name, version="v1beta1"):
    for v in load_crd(name)["spec"]["versions"]:
        if v["name"] == version:
            return v["schema"]["openAPIV3Schema"]
    raise SchemaError(f"crd {name}: no version {version}")


def to_json_schema(node):
    """OpenAPI v3 (Kubernetes flavour) -> JSON Schema (draft 7 keywords)."""
    if isinstance(node, list):
        return [to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key in ("description", "example"):
            continue
        if key == "properties":
            out[key] = {k: to_json_schema(v) for k, v in value.items()}
        elif key == "nullable":
            continue
        else:
            out[key] = to_json_schema(value)
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    fmt = node.get("format")
    if node.get("type") == "integer" and fmt in INT_RANGES:
        out["minimum"], out["maximum"] = INT_RANGES[fmt]
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


def load_crd_schema(name, version="v1beta1"):
    """The CRD's openAPIV3Schema as a JSON Schema for the jsonschema package.

    The Kubernetes-only keys are dropped; unknown_fields() applies what they
    mean for pruning (x-kubernetes-preserve-unknown-fields)."""
    schema = to_json_schema(copy.deepcopy(raw_schema(name, version)))
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    return schema


def unknown_fields(obj, schema, path="", root=True):
    """Every field path in obj that the structural schema does not declare,
    i.e. what a real API server would prune. schema is the raw
    openAPIV3Schema (raw_schema()) or load_crd_schema()'s conversion; with the
    latter, preserve-unknown markers are gone, so pass the raw one when the
    CRD uses them."""
    found = []
    if not isinstance(schema, dict):
        return found
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return found
    if isinstance(obj, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, value in obj.items():
            sub = f"{path}.{key}" if path else key
            if root and key in ("apiVersion", "kind"):
                continue
            if root and key == "metadata":
                if isinstance(value, dict):
                    found += [f"metadata.{k}" for k in value if k not in OBJECT_META_FIELDS]
                continue
            if props is not None and key in props:
                found += unknown_fields(value, props[key], sub, False)
            elif isinstance(extra, dict):
                found += unknown_fields(value, extra, sub, False)
            elif extra is True:
                continue
            else:
                found.append(sub)
    elif isinstance(obj, list):
        items = schema.get("items")
        for i, value in enumerate(obj):
            found += unknown_fields(value, items, f"{path}[{i}]", False)
    return found


def validate(obj, name, version="v1beta1"):
    raw = raw_schema(name, version)
    errors = sorted(
        jsonschema.Draft7Validator(load_crd_schema(name, version)).iter_errors(obj),
        key=lambda e: list(e.absolute_path))
    problems = [
        f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
        for e in errors]
    problems += [f"{p}: not in the schema (a real API server would prune it)"
                 for p in unknown_fields(obj, raw)]
    if problems:
        raise SchemaError(f"{name} object does not match the crd:\n  " + "\n  ".join(problems))


def validate_apm(obj):
    """Raises SchemaError naming every violation of the ArmorProfileModel CRD."""
    if obj.get("apiVersion") != "crd.varmor.org/v1beta1" or obj.get("kind") != "ArmorProfileModel":
        raise SchemaError(
            f"not an ArmorProfileModel: apiVersion={obj.get('apiVersion')!r} "
            f"kind={obj.get('kind')!r}")
    validate(obj, "armorprofilemodels")
