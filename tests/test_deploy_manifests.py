"""The deployment manifests apply as they are: what `kubectl apply -k deploy/kubernetes` sends is
valid against the Kubernetes API schemas, carries the program config where the job reads it, and
the Azure Container Apps job mounts its share read-only with a user-assigned identity.

No cluster and no kustomize binary here: `tests/kustomize_render.py` renders the kustomization
(and refuses any kustomize feature it does not implement), and `kubernetes-validate` checks every
object against the Kubernetes JSON schemas it ships, in strict mode (an unknown field fails), for
the Kubernetes versions in `KUBERNETES_VERSIONS`.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from datetime import date
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.conftest import ROOT, TEMPLATES
from tests.kustomize_render import RenderError, config_map_hash, go_json, render
from worker.cli.main import build_parser
from worker.config import load_config
from worker.config.settings import Settings

KUBERNETES = ROOT / "deploy" / "kubernetes"
CERTIFICATE_OVERLAY = KUBERNETES / "overlays" / "client-certificate"
CONTAINER_APPS = ROOT / "deploy" / "azure-container-apps"
# The oldest and the newest minor version the manifests are held to.
KUBERNETES_VERSIONS = ("1.31", "1.35")
PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"
CONFIG_MAP_LIMIT = 1024 * 1024  # the API server refuses a larger ConfigMap


def _dockerfile_env() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    block = re.search(r"^ENV (.+)$", text, re.MULTILINE)
    assert block is not None
    return dict(pair.split("=", 1) for pair in block.group(1).split())


def _one(objects: list[dict[str, Any]], kind: str, prefix: str = "") -> dict[str, Any]:
    found = [obj for obj in objects
             if obj["kind"] == kind and obj["metadata"]["name"].startswith(prefix)]
    assert len(found) == 1, (kind, prefix, [obj["metadata"]["name"] for obj in objects])
    return found[0]


def _pod(objects: list[dict[str, Any]]) -> dict[str, Any]:
    template: dict[str, Any] = _one(objects, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]
    return template


def _container_env(objects: list[dict[str, Any]]) -> dict[str, str]:
    """The environment the worker sees (envFrom first, then env, as the kubelet builds it)."""
    container = _pod(objects)["spec"]["containers"][0]
    by_name = {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == "ConfigMap"}
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(by_name[source["configMapRef"]["name"]]["data"])
    env.update({item["name"]: item["value"] for item in container.get("env", [])})
    return env


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return render(KUBERNETES)


@pytest.fixture(scope="module")
def overlay() -> list[dict[str, Any]]:
    return render(CERTIFICATE_OVERLAY)


@pytest.fixture(scope="module")
def container_apps_job() -> dict[str, Any]:
    job: dict[str, Any] = yaml.safe_load((CONTAINER_APPS / "job.yaml").read_text("utf-8"))
    return job


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(("MENTORING_", "AZURE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return monkeypatch


# The renderer


def test_the_hash_suffix_is_kustomizes_for_its_own_test_vectors() -> None:
    # kustomize's api/hasher/hasher_test.go (TestConfigMapHash).
    assert config_map_hash(None) == "6ct58987ht"
    assert config_map_hash({"one": ""}) == "9g67k2htb6"
    # Whole builds: api/krusty/configmaps_test.go (blah-bob-db529cg5bk, o1-cm-ft9mmdc8c6,
    # cm-o2-5k95kd76ft) and examples/configGeneration.md (staging-the-map-v1-5276h4th55).
    nobles = "\nhelium\nneon\nargon\nkrypton\nxenon\nradon\n"
    assert config_map_hash({"fruit": "apple", "nobles": nobles, "vegetable": "broccoli"}) == (
        "db529cg5bk")
    assert config_map_hash({"big": "bang", "foo": "bar"}) == "ft9mmdc8c6"
    assert config_map_hash({"big": "crunch", "foo": "bar"}) == "5k95kd76ft"
    assert config_map_hash({"altGreeting": "Have a pineapple!", "enableRisky": "true"}) == (
        "5276h4th55")
    # Go's json.Marshal escapes <, > and & (templates and YAML comments hold them).
    assert go_json({"b": "<a & b>", "a": "é"}) == '{"a":"é","b":"\\u003ca \\u0026 b\\u003e"}'


def test_the_renderer_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    def kustomization(body: str) -> Path:
        root = tmp_path / str(len(list(tmp_path.iterdir())))
        root.mkdir()
        (root / "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" + body)
        return root

    (tmp_path / "outside.yaml").write_text("x: 1\n")
    cases = {
        "images:\n  - name: a\n    newTag: b\n": "does not implement: ['images']",
        "configMapGenerator:\n  - name: a\n    files: [../outside.yaml]\n": "outside the "
        "kustomization root",
        "configMapGenerator:\n  - name: a\n    envs: [a.env]\n": "unsupported ['envs']",
        "labels:\n  - pairs: {a: b}\n    includeSelectors: true\n": "only `pairs`",
        "patches:\n  - path: patch.yaml\n": "only an inline `patch`",
    }
    for body, message in cases.items():
        with pytest.raises(RenderError, match=re.escape(message)):
            render(kustomization(body))


@pytest.mark.parametrize("root", [KUBERNETES, CERTIFICATE_OVERLAY], ids=["base", "certificate"])
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_object_is_valid_for_the_kubernetes_api(
        root: Path, version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object) -> None:
        raise AssertionError("schema validation tried to reach the network")

    # The schemas come with the package: validation works offline.
    monkeypatch.setattr(socket.socket, "connect", no_network)
    objects = render(root)
    assert {obj["kind"] for obj in objects} == {"Namespace", "ServiceAccount", "CronJob",
                                                "ConfigMap"}
    problems = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            problems.append(f"{obj['kind']}/{obj['metadata']['name']} at {path}: {error.message}")
    assert not problems


def test_the_schema_check_is_strict_about_unknown_fields(base: list[dict[str, Any]]) -> None:
    cronjob = _one(base, "CronJob")
    misspelt = {**cronjob, "spec": {**cronjob["spec"], "concurencyPolicy": "Forbid"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, KUBERNETES_VERSIONS[0], strict=True)


# The program config


def test_everything_lands_in_the_namespace_the_base_creates(base: list[dict[str, Any]]) -> None:
    namespace = _one(base, "Namespace")["metadata"]["name"]
    for obj in base:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == namespace, obj["kind"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/name"] == "reverse-mentoring-worker"


def test_the_config_map_holds_the_program_files_and_they_are_a_valid_config(
        base: list[dict[str, Any]], tmp_path: Path) -> None:
    program = _one(base, "ConfigMap", "mentoring-program-")
    assert set(program["data"]) == {"program.yaml", "pairings.yaml"}
    for key, text in program["data"].items():
        assert text == (KUBERNETES / "config" / key).read_text(encoding="utf-8")
        (tmp_path / key).write_text(text, encoding="utf-8")
    assert sum(len(text.encode()) for text in program["data"].values()) < CONFIG_MAP_LIMIT
    # What the job will read, with the templates the image ships (MENTORING_TEMPLATES_DIR).
    config = load_config(tmp_path, today=date(2027, 1, 1), templates_dir=TEMPLATES)
    assert config.pairings


def test_the_editors_schema_reference_of_each_config_copy_resolves() -> None:
    for name in ("program.yaml", "pairings.yaml"):
        path = KUBERNETES / "config" / name
        first = path.read_text(encoding="utf-8").splitlines()[0]
        reference = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
        assert reference is not None, name
        assert (path.parent / reference.group(1)).resolve().is_file(), reference.group(1)


def test_the_cronjob_mounts_the_config_read_only_where_the_job_reads_it(
        base: list[dict[str, Any]]) -> None:
    pod = _pod(base)["spec"]
    container = pod["containers"][0]
    config_dir = _container_env(base).get("MENTORING_CONFIG_DIR",
                                          _dockerfile_env()["MENTORING_CONFIG_DIR"])
    mounts = [m for m in container["volumeMounts"] if m["mountPath"] == config_dir]
    assert len(mounts) == 1 and mounts[0]["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == mounts[0]["name"])
    assert volume["configMap"]["name"] == _one(base, "ConfigMap", "mentoring-program-")[
        "metadata"]["name"]
    # The templates come with the image; nothing is mounted over them.
    templates_dir = _dockerfile_env()["MENTORING_TEMPLATES_DIR"]
    assert "MENTORING_TEMPLATES_DIR" not in _container_env(base)
    assert not any(templates_dir.startswith(m["mountPath"]) for m in container["volumeMounts"])


def test_every_config_map_the_cronjob_names_is_rendered(base: list[dict[str, Any]],
                                                        overlay: list[dict[str, Any]]) -> None:
    for objects in (base, overlay):
        rendered = {obj["metadata"]["name"] for obj in objects if obj["kind"] == "ConfigMap"}
        pod = _pod(objects)["spec"]
        named = {v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v}
        named |= {s["configMapRef"]["name"] for s in pod["containers"][0].get("envFrom", [])}
        assert named and named <= rendered


def test_an_edited_config_rolls_the_config_map_the_cronjob_reads(tmp_path: Path) -> None:
    copy = tmp_path / "kubernetes"
    shutil.copytree(KUBERNETES, copy)
    before = render(copy)
    pairings = copy / "config" / "pairings.yaml"
    pairings.write_text(pairings.read_text(encoding="utf-8").replace(
        "status: active", "status: paused", 1), encoding="utf-8")
    after = render(copy)
    old = _one(before, "ConfigMap", "mentoring-program-")["metadata"]["name"]
    new = _one(after, "ConfigMap", "mentoring-program-")["metadata"]["name"]
    assert old != new
    volumes = _pod(after)["spec"]["volumes"]
    assert [v["configMap"]["name"] for v in volumes if "configMap" in v] == [new]
    assert (_one(before, "ConfigMap", "mentoring-settings-")["metadata"]["name"]
            == _one(after, "ConfigMap", "mentoring-settings-")["metadata"]["name"])


# The job and its identity


def test_the_cronjob_keeps_its_safety_settings(base: list[dict[str, Any]]) -> None:
    cronjob = _one(base, "CronJob")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    job = cronjob["spec"]["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0
    pod = job["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's USER
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert _container_env(base)["MENTORING_LOG_FORMAT"] == "json"


def test_workload_identity_is_wired_with_one_client_id(base: list[dict[str, Any]]) -> None:
    pod = _pod(base)
    account = _one(base, "ServiceAccount")
    assert pod["spec"]["serviceAccountName"] == account["metadata"]["name"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    env = _container_env(base)
    assert account["metadata"]["annotations"]["azure.workload.identity/client-id"] == (
        env["MENTORING_CLIENT_ID"])
    assert env["MENTORING_TENANT_ID"] == PLACEHOLDER_ID  # no real tenant in the repo


def test_the_container_args_are_mentoring_commands(base: list[dict[str, Any]],
                                                   container_apps_job: dict[str, Any]) -> None:
    parser = build_parser()
    commands = next(action for action in parser._actions
                    if action.dest == "command").choices
    assert commands is not None
    arguments = [_pod(base)["spec"]["containers"][0]["args"],
                 container_apps_job["properties"]["template"]["containers"][0]["args"]]
    for args in arguments:
        assert args[0] in commands
        assert parser.parse_args(args).command == "run"
    assert 'CMD ["run"]' in (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_each_deployment_gives_the_worker_exactly_one_credential(
        base: list[dict[str, Any]], overlay: list[dict[str, Any]],
        container_apps_job: dict[str, Any], clean_environment: pytest.MonkeyPatch) -> None:
    # The workload identity webhook adds AZURE_FEDERATED_TOKEN_FILE to a labelled pod only.
    webhook = {"AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token"}
    aca = {item["name"]: item["value"]
           for item in container_apps_job["properties"]["template"]["containers"][0]["env"]}
    cases = [(_container_env(base) | webhook, "federated_token"),
             (_container_env(overlay), "certificate"),
             (aca, "managed_identity")]
    assert "azure.workload.identity/use" not in _pod(overlay)["metadata"]["labels"]
    for env, kind in cases:
        for name in list(os.environ):
            if name.startswith(("MENTORING_", "AZURE_")):
                clean_environment.delenv(name)
        for name, value in env.items():
            clean_environment.setenv(name, value)
        assert Settings().credential_kinds() == [kind]


def test_the_certificate_is_read_from_the_secret_mount(overlay: list[dict[str, Any]]) -> None:
    container = _pod(overlay)["spec"]["containers"][0]
    path = _container_env(overlay)["MENTORING_CERTIFICATE_PATH"]
    mount = next(m for m in container["volumeMounts"] if path.startswith(m["mountPath"] + "/"))
    assert mount["readOnly"] is True
    volume = next(v for v in _pod(overlay)["spec"]["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "mentoring-client-certificate"
    assert volume["secret"]["defaultMode"] == 0o440
    readme = (KUBERNETES / "README.md").read_text(encoding="utf-8")
    assert "kubectl create secret generic mentoring-client-certificate" in readme
    assert "client.pem=" in readme and path.endswith("/client.pem")


# Azure Container Apps


def test_the_container_apps_job_uses_the_user_assigned_identity(
        container_apps_job: dict[str, Any]) -> None:
    identity = container_apps_job["identity"]
    assert identity["type"] == "UserAssigned"
    (resource_id,) = identity["userAssignedIdentities"]
    assert re.fullmatch(r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
                        r"Microsoft\.ManagedIdentity/userAssignedIdentities/[^/]+", resource_id)
    env = {item["name"]: item["value"]
           for item in container_apps_job["properties"]["template"]["containers"][0]["env"]}
    assert env["MENTORING_MANAGED_IDENTITY"] == "true"
    assert env["MENTORING_MANAGED_IDENTITY_CLIENT_ID"] == env["MENTORING_CLIENT_ID"]
    assert env["MENTORING_LOG_FORMAT"] == "json"


def test_the_container_apps_share_is_mounted_read_only_where_the_job_reads_it(
        container_apps_job: dict[str, Any]) -> None:
    template = container_apps_job["properties"]["template"]
    env = {item["name"]: item["value"] for item in template["containers"][0]["env"]}
    config_dir = env.get("MENTORING_CONFIG_DIR", _dockerfile_env()["MENTORING_CONFIG_DIR"])
    (mount,) = [m for m in template["containers"][0]["volumeMounts"]
                if m["mountPath"] == config_dir]
    (volume,) = [v for v in template["volumes"] if v["name"] == mount["volumeName"]]
    assert volume["storageType"] == "AzureFile"
    options = dict(option.split("=", 1) for option in volume["mountOptions"].split(","))
    assert options["dir_mode"] == "0555" and options["file_mode"] == "0444"
    # The environment storage the volume names is registered read-only.
    readme = (CONTAINER_APPS / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    storage = re.search(r"az containerapp env storage set[^\n]*", readme)
    assert storage is not None
    assert "--access-mode ReadOnly" in storage.group(0)
    assert f"--storage-name {volume['storageName']}" in storage.group(0)


def test_the_container_apps_runs_never_overlap(container_apps_job: dict[str, Any]) -> None:
    configuration = container_apps_job["properties"]["configuration"]
    assert configuration["scheduleTriggerConfig"]["cronExpression"] == "*/15 * * * *"
    assert configuration["scheduleTriggerConfig"]["parallelism"] == 1
    assert configuration["replicaTimeout"] < 15 * 60


def _graph_permissions() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## App registration and permissions", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([A-Za-z.]+)` \|", section, re.MULTILINE)


def test_the_container_apps_readme_grants_every_permission_the_worker_needs() -> None:
    permissions = _graph_permissions()
    assert "Calendars.ReadWrite" in permissions and "Sites.Selected" in permissions
    readme = (CONTAINER_APPS / "README.md").read_text(encoding="utf-8")
    assert "/appRoleAssignedTo" in readme
    granted = re.search(r"for ROLE in ([^;]+);", readme)
    assert granted is not None
    app_roles = granted.group(1).split()
    # Calendars.ReadWrite only through Exchange RBAC for Applications, scoped to one mailbox.
    assert set(app_roles) == set(permissions) - {"Calendars.ReadWrite"}
    assert '-Role "Application Calendars.ReadWrite"' in readme
    for cmdlet in ("New-ServicePrincipal", "New-ManagementScope", "New-ManagementRoleAssignment",
                   "Test-ServicePrincipalAuthorization"):
        assert cmdlet in readme, cmdlet
    assert "/permissions" in readme and '"roles": ["write"]' in readme  # Sites.Selected
    assert "az identity create" in readme
    assert readme.index("az identity create") < readme.index("az containerapp job create")
