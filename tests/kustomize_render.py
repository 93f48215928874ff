"""Renders `deploy/kubernetes` the way `kubectl apply -k` would, for the tests to check.

No kustomize binary is needed (the project's machines and CI have none): this is a small
renderer for exactly the kustomization features the shipped base and overlay use, and it refuses
any other field with an error naming it, so a kustomization that grows a feature fails here
loudly instead of being checked half.

Supported, with kustomize's semantics:
- `resources`: YAML files inside the kustomization's root (kustomize's default load restrictor
  refuses files outside it) and directories holding a kustomization (an overlay's base);
- `namespace`: set on every namespaced object; a `Namespace` object is renamed to it, as
  kustomize's namespace transformer does;
- `labels` with `pairs` only (metadata labels; no selectors, no templates);
- `configMapGenerator` with `files` (`name` or `key=name`) and `literals` (`KEY=value`), and the
  content hash suffix computed as kustomize's `api/hasher` does (sha256 of the JSON of the kind,
  an empty name and the data, keys sorted, Go's HTML escaping; the first ten hex digits with
  0, 1, 3, a, e replaced by g, h, k, m, t); references to the generated names in a CronJob's
  pod template (volumes, env and envFrom) follow the suffix;
- `patches` with an inline JSON 6902 patch (`add`, `remove`, `replace`) and a `target` of
  kind and name.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

KUSTOMIZATION_FILE = "kustomization.yaml"
KNOWN_FIELDS = {"apiVersion", "kind", "namespace", "labels", "resources", "configMapGenerator",
                "patches"}
CLUSTER_SCOPED = {"Namespace"}
NAMESPACED = {"ServiceAccount", "ConfigMap", "Secret", "CronJob"}


class RenderError(Exception):
    """The kustomization uses something this renderer does not implement, or is wrong."""


def go_json(value: Any) -> str:
    """`json.Marshal` of Go for maps of strings: sorted keys, no spaces, <, > and & escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def config_map_hash(data: dict[str, str] | None) -> str:
    """The suffix kustomize appends to a generated ConfigMap's name.

    The name takes no part: kustomize's hasher looks the name up as one field called
    `metadata/name`, finds none and hashes "" (its own build tests' names agree: the same data
    gives the same suffix whatever the prefix)."""
    encoded = go_json({"kind": "ConfigMap", "name": "", "data": data if data else ""})
    digest = hashlib.sha256(encoded.encode("utf-8")).hexdigest()
    return digest[:10].translate(str.maketrans({"0": "g", "1": "h", "3": "k", "a": "m",
                                                "e": "t"}))


def _inside(root: Path, relative: str) -> Path:
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise RenderError(f"{relative}: outside the kustomization root {root} (kustomize's "
                          "default load restrictor refuses it)")
    return path


def _generate_config_map(root: Path, spec: dict[str, Any]) -> dict[str, Any]:
    unknown = set(spec) - {"name", "files", "literals", "behavior"}
    if unknown:
        raise RenderError(f"configMapGenerator {spec.get('name')}: unsupported {sorted(unknown)}")
    if spec.get("behavior", "create") != "create":
        raise RenderError(f"configMapGenerator {spec['name']}: only behavior create is supported")
    data: dict[str, str] = {}
    for entry in spec.get("files", []):
        key, _, relative = entry.rpartition("=") if "=" in entry else ("", "", entry)
        path = _inside(root, relative)
        key = key or path.name
        if key in data:
            raise RenderError(f"configMapGenerator {spec['name']}: key {key} twice")
        data[key] = path.read_text(encoding="utf-8")
    for literal in spec.get("literals", []):
        key, sep, value = literal.partition("=")
        if not sep or not key:
            raise RenderError(f"configMapGenerator {spec['name']}: literal {literal!r} is not "
                              "KEY=value")
        if value[:1] in ("'", '"'):
            raise RenderError(f"literal {literal!r}: quoted values are not supported here")
        if key in data:
            raise RenderError(f"configMapGenerator {spec['name']}: key {key} twice")
        data[key] = value
    name = spec["name"]
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"{name}-{config_map_hash(data)}"}, "data": data}


def _pod_specs(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if obj["kind"] == "CronJob":
        yield obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def _rename_references(obj: dict[str, Any], renamed: dict[str, str]) -> None:
    def rename(holder: dict[str, Any], field: str) -> None:
        if holder.get(field) in renamed:
            holder[field] = renamed[holder[field]]

    for pod in _pod_specs(obj):
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                rename(volume["configMap"], "name")
            for source in volume.get("projected", {}).get("sources", []):
                if "configMap" in source:
                    rename(source["configMap"], "name")
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("configMapKeyRef")
                if ref is not None:
                    rename(ref, "name")
            for env_from in container.get("envFrom", []):
                if "configMapRef" in env_from:
                    rename(env_from["configMapRef"], "name")


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise RenderError(f"JSON patch path {path!r} must start with /")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _apply_json6902(obj: dict[str, Any], operations: list[dict[str, Any]]) -> None:
    for operation in operations:
        op, parts = operation.get("op"), _pointer(operation["path"])
        if op not in ("add", "remove", "replace"):
            raise RenderError(f"JSON patch op {op!r} is not supported")
        parent: Any = obj
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        if isinstance(parent, list):
            if op == "add":
                index = len(parent) if last == "-" else int(last)
                parent.insert(index, copy.deepcopy(operation["value"]))
            elif op == "remove":
                del parent[int(last)]
            else:
                parent[int(last)] = copy.deepcopy(operation["value"])
        else:
            if op in ("remove", "replace") and last not in parent:
                raise RenderError(f"JSON patch {op} {operation['path']}: no such field")
            if op == "remove":
                del parent[last]
            else:
                parent[last] = copy.deepcopy(operation["value"])


def _patch(objects: list[dict[str, Any]], spec: dict[str, Any]) -> None:
    if set(spec) - {"target", "patch"} or "patch" not in spec or "target" not in spec:
        raise RenderError(f"patches: only an inline `patch` with a `target` is supported: {spec}")
    target = spec["target"]
    if set(target) - {"kind", "name"}:
        raise RenderError(f"patch target: only kind and name are supported: {target}")
    operations = yaml.safe_load(spec["patch"])
    if not isinstance(operations, list):
        raise RenderError("only JSON 6902 patches (a list of operations) are supported, "
                          "not strategic merge patches")
    matched = [obj for obj in objects
               if obj["kind"] == target["kind"] and obj["metadata"]["name"] == target["name"]]
    if not matched:
        raise RenderError(f"patch target {target} matches no object")
    for obj in matched:
        _apply_json6902(obj, operations)


def render(root: Path) -> list[dict[str, Any]]:
    """Every object `kubectl apply -k root` would send (in the kustomization's order; kustomize
    itself sorts its output by kind, Namespace first)."""
    file = root / KUSTOMIZATION_FILE
    if not file.is_file():
        raise RenderError(f"{root}: no {KUSTOMIZATION_FILE}")
    kustomization = yaml.safe_load(file.read_text(encoding="utf-8"))
    unknown = set(kustomization) - KNOWN_FIELDS
    if unknown:
        raise RenderError(f"{file}: fields this renderer does not implement: {sorted(unknown)}")
    if (kustomization.get("apiVersion"), kustomization.get("kind")) != (
            "kustomize.config.k8s.io/v1beta1", "Kustomization"):
        raise RenderError(f"{file}: not a kustomize.config.k8s.io/v1beta1 Kustomization")

    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = (root / entry).resolve()
        if path.is_dir():
            objects.extend(render(path))
            continue
        path = _inside(root, entry)
        objects.extend(doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
                       if doc is not None)

    renamed: dict[str, str] = {}
    for spec in kustomization.get("configMapGenerator", []):
        generated = _generate_config_map(root, spec)
        renamed[spec["name"]] = generated["metadata"]["name"]
        objects.append(generated)
    for obj in objects:
        _rename_references(obj, renamed)

    for spec in kustomization.get("patches", []):
        _patch(objects, spec)

    namespace = kustomization.get("namespace")
    for obj in objects:
        kind = obj["kind"]
        if kind not in CLUSTER_SCOPED | NAMESPACED:
            raise RenderError(f"{kind}: this renderer does not know whether it is namespaced")
        if namespace is None:
            continue
        if kind == "Namespace":
            obj["metadata"]["name"] = namespace
        elif kind in NAMESPACED:
            obj["metadata"]["namespace"] = namespace

    for label in kustomization.get("labels", []):
        if set(label) - {"pairs", "includeSelectors", "includeTemplates"} or label.get(
                "includeSelectors") or label.get("includeTemplates"):
            raise RenderError(f"labels: only `pairs` (metadata labels) are supported: {label}")
        for obj in objects:
            obj["metadata"].setdefault("labels", {}).update(label["pairs"])

    names = [(obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
             for obj in objects]
    repeated = {name for name in names if names.count(name) > 1}
    if repeated:
        raise RenderError(f"objects defined twice: {sorted(map(str, repeated))}")
    return objects
