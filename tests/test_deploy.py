"""deploy/: the Containerfile, compose.yaml and the Kubernetes manifests agree with each other and with
the application (commands and options the CLI has, environment variables it reads, routes the web app
serves, the image's user and port). No container runtime or cluster is needed: the image itself is
built and smoke-tested by scripts/image.sh (`make image`, run by .ci/run)."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from quinto.cli import main

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
IMAGE = "quinto:latest"


def load_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def manifests() -> list[dict[str, Any]]:
    return [d for p in sorted(K8S.glob("*.yaml")) for d in load_all(p)]


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in manifests() if d["kind"] == kind}


def compose() -> dict[str, Any]:
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def pod_containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    spec = deployment["spec"]["template"]["spec"]
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def parse_cli(args: list[str]) -> click.Command:
    """Resolve `quinto ARGS` to its command with click, as running it would (an unknown command or
    option, or a missing value, raises click.UsageError), without running it."""
    ctx = click.Context(main, info_name="quinto")
    cmd: click.Command = main
    rest = list(args)
    while isinstance(cmd, click.Group):
        sub = cmd.get_command(ctx, rest[0])
        assert sub is not None, f"quinto has no command {' '.join(args[: len(args) - len(rest) + 1])}"
        ctx = click.Context(sub, info_name=rest[0], parent=ctx)
        cmd, rest = sub, rest[1:]
    cmd.make_context(cmd.name, rest, parent=ctx.parent)
    return cmd


def option_value(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def env_vars_the_app_reads() -> set[str]:
    names: set[str] = set()
    for src in [*(ROOT / "quinto").rglob("*.py"), *(ROOT / "web").rglob("*.py")]:
        names.update(re.findall(r"""["'](QUINTO_[A-Z0-9_]+)["']""", src.read_text(encoding="utf-8")))
    return names


def containerfile() -> str:
    return (DEPLOY / "Containerfile").read_text(encoding="utf-8")


# -- the image ------------------------------------------------------------------------------------


def test_containerfile_is_multi_stage_non_root_on_a_replaceable_base() -> None:
    text = containerfile()
    assert re.search(r"^ARG BASE=python:3\.11-slim$", text, re.M)
    froms = re.findall(r"^FROM (\S+)(?: AS (\w+))?$", text, re.M)
    assert froms == [("${BASE}", "build"), ("${BASE}", "")], "the final stage starts clean from the base"
    final = text.split("\nFROM ${BASE}\n", 1)[1]
    assert "COPY --from=build /opt/quinto /opt/quinto" in final
    assert "pip install" not in final, "the final stage installs nothing from the package index"
    user = re.findall(r"^USER (\S+)$", final, re.M)
    assert user == ["10001:10001"]
    assert re.search(r"^ENTRYPOINT \[\"tini\", \"--\", \"quinto\"\]$", final, re.M)
    assert not (DEPLOY / "Dockerfile").exists(), "deploy/Containerfile replaces the Dockerfile"


def test_the_build_context_holds_what_the_containerfile_copies() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", containerfile(), re.M):
        for path in src.split():
            assert (ROOT / path).exists(), path
            assert path not in ignored, path


def test_every_package_is_installed() -> None:
    """A non-editable install (the image's) holds every package: a subpackage missing from
    pyproject.toml's list imports from a checkout and fails in the image."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "quinto").rglob("__init__.py")}
    web = ROOT / "web"
    found |= {".".join(("quinto", "web", *p.parent.relative_to(web).parts)) for p in web.rglob("__init__.py")}
    assert found == listed, (
        f"pyproject.toml's packages: missing {sorted(found - listed)}, extra {sorted(listed - found)}"
    )


def test_the_image_script_builds_the_image_the_manifests_run() -> None:
    script = (ROOT / "scripts" / "image.sh").read_text(encoding="utf-8")
    default = re.search(r"^IMAGE=\$\{QUINTO_IMAGE:-(\S+)\}$", script, re.M)
    assert default and default.group(1) == "localhost/" + IMAGE  # buildah and podman's name for quinto:latest
    assert "deploy/Containerfile" in script and "--isolation chroot" in script
    assert re.search(r"^image:.*scripts/image\.sh", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M | re.S)


# -- compose ----------------------------------------------------------------------------------------


def test_compose_services() -> None:
    services = compose()["services"]
    assert set(services) == {"store", "web", "scheduler", "alerts"}
    assert services["web"]["deploy"]["replicas"] == 2
    assert services["scheduler"]["deploy"]["replicas"] == 2
    for name in ("web", "scheduler", "alerts"):
        s = services[name]
        assert s["image"] == "${QUINTO_IMAGE:-" + IMAGE + "}", name
        assert s["build"] == {"context": "..", "dockerfile": "deploy/Containerfile"}, name
        assert s["depends_on"]["store"]["condition"] == "service_healthy", name
        cmd = parse_cli(s["command"])
        assert cmd.name == {"web": "serve", "scheduler": "scheduler", "alerts": "send"}[name]
        assert s["environment"]["QUINTO_STORE"].startswith("postgresql+psycopg://quinto:")
        assert s["environment"]["QUINTO_STORE"].endswith("@store:5432/quinto")
        assert s["read_only"] is True and "ALL" in s["cap_drop"]


def test_compose_ports_and_healthcheck_match_the_web_command() -> None:
    web = compose()["services"]["web"]
    port = option_value(web["command"], "--port")
    assert option_value(web["command"], "--host") == "0.0.0.0"  # inside the container; published on 127.0.0.1
    (published,) = web["ports"]
    host, host_ports, container_port = published.split(":")
    assert host == "127.0.0.1" and container_port == port
    first, last = (int(p) for p in host_ports.split("-"))
    assert last - first + 1 == web["deploy"]["replicas"], "one host port per web worker"
    assert f"EXPOSE {port}" in containerfile()
    (url,) = re.findall(r"http://127\.0\.0\.1:(\d+)(/[^'\"]*)", " ".join(web["healthcheck"]["test"]))
    assert url[0] == port
    assert_route(url[1])


def test_compose_environment_is_what_the_app_and_the_manifests_read() -> None:
    doc = compose()
    reads = env_vars_the_app_reads()
    secret_keys = set(by_kind("Secret")["quinto-secrets"]["stringData"])
    for name in ("web", "scheduler", "alerts"):
        env = doc["services"][name]["environment"]
        for var in env:
            assert not var.startswith("QUINTO_") or var in reads, f"{name}: the app never reads {var}"
        assert set(env) <= secret_keys, f"{name}: compose and the Kubernetes Secret name the same variables"
    assert "QUINTO_SECRET_KEY" in doc["services"]["web"]["environment"]
    example = (DEPLOY / "env.example").read_text(encoding="utf-8")
    for var in set(re.findall(r"\$\{([A-Z_]+):\?", (DEPLOY / "compose.yaml").read_text(encoding="utf-8"))):
        assert re.search(rf"^{var}=", example, re.M), f"deploy/env.example does not set {var}"


# -- Kubernetes -------------------------------------------------------------------------------------


def test_manifests_parse_and_name_their_kinds() -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in manifests())
    assert kinds == [
        ("ConfigMap", "quinto-project"),
        ("Deployment", "quinto-alerts"),
        ("Deployment", "quinto-scheduler"),
        ("Deployment", "quinto-web"),
        ("Secret", "quinto-secrets"),
        ("Service", "quinto-web"),
    ]
    for d in manifests():
        assert d["apiVersion"] == {"Deployment": "apps/v1"}.get(d["kind"], "v1")


def test_deployments_run_the_image_as_its_user_with_real_commands() -> None:
    uid = 10001
    deployments = by_kind("Deployment")
    assert deployments["quinto-web"]["spec"]["replicas"] == 2
    assert deployments["quinto-scheduler"]["spec"]["replicas"] == 2
    expected = {"quinto-web": "serve", "quinto-scheduler": "scheduler", "quinto-alerts": "send"}
    for name, d in deployments.items():
        template = d["spec"]["template"]
        assert d["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items(), name
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == uid
        (main_container,) = pod["containers"]
        assert parse_cli(main_container["args"]).name == expected[name]
        for c in pod_containers(d):
            assert c["image"] == IMAGE, (name, c["name"])
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
        volumes = {v["name"]: v for v in pod["volumes"]}
        for c in pod_containers(d):
            for m in c.get("volumeMounts", []):
                assert m["name"] in volumes, (name, m["name"])
        env_from = {e["secretRef"]["name"] for e in main_container["envFrom"]}
        assert env_from <= set(by_kind("Secret")), name
        config_maps = {v["configMap"]["name"] for v in volumes.values() if "configMap" in v}
        # quinto-checks is made from the project's checks/ with kubectl, as project.yaml says
        assert config_maps == {"quinto-project", "quinto-checks"}
        assert "kubectl create configmap quinto-checks --from-file=checks/" in (K8S / "project.yaml").read_text()
    sched = deployments["quinto-scheduler"]["spec"]["template"]["spec"]
    assert sched["terminationGracePeriodSeconds"] >= 900, "audits in progress finish on SIGTERM"


def test_web_service_ports_and_probes() -> None:
    web = by_kind("Deployment")["quinto-web"]
    (container,) = web["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": int(option_value(container["args"], "--port"))}
    assert option_value(container["args"], "--host") == "0.0.0.0"
    service = by_kind("Service")["quinto-web"]
    assert service["spec"]["selector"].items() <= web["spec"]["template"]["metadata"]["labels"].items()
    for p in service["spec"]["ports"]:
        assert p["targetPort"] in ports
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        get = container[probe]["httpGet"]
        assert get["port"] in ports, probe
        assert_route(get["path"])
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness never reads the store"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness reads the store"
    assert_scraped(web, ports["http"])


def assert_scraped(deployment: dict[str, Any], port: int) -> None:
    """The pod asks Prometheus to scrape /metrics on the port that serves it."""
    notes = deployment["spec"]["template"]["metadata"]["annotations"]
    assert notes["prometheus.io/scrape"] == "true" and notes["prometheus.io/path"] == "/metrics"
    assert int(notes["prometheus.io/port"]) == port


def test_scheduler_metrics_port_and_probes() -> None:
    from quinto.metrics import MetricsServer

    sched = by_kind("Deployment")["quinto-scheduler"]
    (container,) = sched["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert parse_cli(args).name == "scheduler"
    port = int(option_value(args, "--metrics-port"))
    assert option_value(args, "--metrics-host") == "0.0.0.0"  # probes and scrapes come from outside the pod
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"metrics": port}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert {"/healthz", "/readyz", "/metrics"} <= set(MetricsServer.PATHS)
    assert_scraped(sched, port)
    # compose runs the schedulers the same way and checks them the same way
    service = compose()["services"]["scheduler"]
    assert option_value(service["command"], "--metrics-port") == str(port)
    (url,) = re.findall(r"http://127\.0\.0\.1:(\d+)(/[^'\"]*)", " ".join(service["healthcheck"]["test"]))
    assert url == (str(port), "/readyz")


def test_probes_tell_alive_from_ready(tmp_path: Path) -> None:
    """What the probes rely on: with the store down, liveness still answers 200 (no restart loop)
    and readiness 503 with the reason (no traffic)."""
    import socket

    from quinto.web import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = create_app({"QUINTO_STORE": f"postgresql+psycopg://q:q@127.0.0.1:{port}/q?connect_timeout=2"})
    client = down.test_client()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["reason"]
    up = create_app({"QUINTO_STORE": f"sqlite:///{tmp_path / 'store.db'}"}).test_client()
    assert up.get("/readyz").status_code == 200


def test_grafana_dashboard_is_documented() -> None:
    doc = json.loads((DEPLOY / "grafana" / "quinto.json").read_text(encoding="utf-8"))
    assert doc["panels"] and doc["title"] == "Quinto"
    assert "grafana/quinto.json" in (DEPLOY / "README.md").read_text(encoding="utf-8")


def test_secret_and_project_file_agree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from quinto.spec import load_project
    from quinto.spec.project import interpolate

    secret = by_kind("Secret")["quinto-secrets"]["stringData"]
    reads = env_vars_the_app_reads()
    assert {k for k in secret if k.startswith("QUINTO_")} <= reads
    project_yaml = by_kind("ConfigMap")["quinto-project"]["data"]["quinto.yaml"]
    assert set(re.findall(r"\$\{(\w+)\}", project_yaml)) <= set(secret), "every ${VAR} of quinto.yaml is in the Secret"
    for key, value in secret.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "checks").mkdir()
    (tmp_path / "quinto.yaml").write_text(project_yaml, encoding="utf-8")
    project = load_project(tmp_path / "quinto.yaml")
    assert interpolate(project.store) == secret["QUINTO_STORE"]
    # the init container copies quinto.yaml and the check files where `checks:` looks for them
    init = by_kind("Deployment")["quinto-web"]["spec"]["template"]["spec"]["initContainers"][0]
    assert "/srv/quinto/checks/" in init["command"][-1]
    assert list(project.check_paths) == ["checks/"]


def test_systemd_units_run_real_commands() -> None:
    for unit in sorted(DEPLOY.glob("*.service")):
        (exec_start,) = re.findall(r"^ExecStart=(.+)$", unit.read_text(encoding="utf-8"), re.M)
        command = shlex.split(shlex.split(exec_start)[-1])  # sh -c 'exec quinto ...'
        start = command.index("quinto")
        args = [a if "%" not in a and "$" not in a else "x" for a in command[start + 1 :]]
        assert parse_cli(args).name, unit.name


def assert_route(path: str) -> None:
    from quinto.web import create_app

    adapter = create_app({"QUINTO_STORE": "sqlite://"}).url_map.bind("localhost")
    adapter.match(path, method="GET")  # raises NotFound or MethodNotAllowed
