"""Static checks of the container set-up: docker-compose.yml, Dockerfile, .dockerignore, .env.example.

These parse the files (no Docker needed) and check the wiring that is easy to break and slow to
find out about at `docker compose up` time: the password flows from one env variable to both
Neo4j and the app, the app waits for a *healthy* Neo4j, torch comes from the CPU index, the
image does not run as root, and so on. Only ``test_docker_compose_config_validates`` needs a
Docker engine; it is marked ``docker`` and skipped where none answers.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"

NEO4J_BOLT = 7687
NEO4J_HTTP = 7474
APP_PORT = 8000
STATE_DIR = "/var/lib/cartograph"
QUICKSTART_CMD = ["cartograph", "quickstart", "--host", "0.0.0.0", "--port", str(APP_PORT)]
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

# What the Dockerfile may COPY from the build context (repo-relative, no trailing slash).
ALLOWED_COPY_SOURCES = {
    "pyproject.toml",
    "README.md",
    "constraints.txt",
    "kg",
    "gnn",
    "api",
    "cartograph",
    "cypher",
    "data/sample",
}
# Sources that other work in progress adds to the repo; until they exist the existence check
# skips (loudly) instead of failing.
PENDING_COPY_SOURCES = {"README.md", "cypher", "data/sample"}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


class InterpolationError(ValueError):
    """Raised where `docker compose` itself would refuse the file (missing required var, bad syntax)."""


_INTERP = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?$", re.DOTALL)


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose-style interpolation of one string (the subset of the spec this project uses)."""

    def repl(m: re.Match[str]) -> str:
        if m.group("escaped"):
            return "$"
        if m.group("named"):
            return env.get(m.group("named"), "")
        braced = _BRACED.match(m.group("braced"))
        if braced is None:
            raise InterpolationError(f"invalid interpolation format: ${{{m.group('braced')}}}")
        name, op, arg = braced.group("name"), braced.group("op"), braced.group("arg")
        val = env.get(name)
        unset_or_empty = not val
        missing = unset_or_empty if op and op.startswith(":") else val is None
        if op is None:
            return val or ""
        if op.endswith("-"):
            return arg if missing else (val or "")
        if op.endswith("?"):
            if missing:
                raise InterpolationError(f"required variable {name} is missing a value: {arg}")
            return val or ""
        return "" if missing else arg  # "+" / ":+"

    return _INTERP.sub(repl, value)


def interpolate_tree(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(v, env) for v in node]
    if isinstance(node, dict):
        return {k: interpolate_tree(v, env) for k, v in node.items()}
    return node


def env_mapping(service: dict[str, Any]) -> dict[str, str]:
    """A service's `environment`, either form (mapping or list of KEY=VALUE), as a dict."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        out = {}
        for item in env:
            key, _, value = str(item).partition("=")
            out[key] = value
        return out
    return {k: "" if v is None else str(v) for k, v in env.items()}


def container_ports(service: dict[str, Any]) -> set[int]:
    """Container-side ports a service publishes (short "[ip:]host:container[/proto]" or long form)."""
    ports: set[int] = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("published") is not None:
                ports.add(int(str(entry["target"])))
            continue
        spec = str(entry).split("/")[0]
        parts = spec.rsplit(":", 2)
        if len(parts) < 2:
            continue  # a bare container port is exposed on a random host port: not "published"
        ports.add(int(parts[-1]))
    return ports


def volume_mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, read_only) for each volume entry, short or long syntax."""
    mounts = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            mounts.append((str(entry.get("source", "")), str(entry["target"]), bool(entry.get("read_only"))))
            continue
        parts = str(entry).split(":")
        source, target = parts[0], parts[1]
        mode = parts[2] if len(parts) > 2 else ""
        mounts.append((source, target, "ro" in mode.split(",")))
    return mounts


def is_named_volume(source: str) -> bool:
    return bool(source) and not source.startswith((".", "/", "~", "$"))


def duration_seconds(value: str | int) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    total, pos = 0.0, 0
    text = str(value)
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", text):
        assert m.start() == pos, f"bad duration {value!r}"
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    assert pos == len(text) and pos > 0, f"bad duration {value!r}"
    return total


def healthcheck_command(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    if isinstance(test, str):
        return test
    assert test[0] in {"CMD", "CMD-SHELL"}, f"healthcheck test must start with CMD or CMD-SHELL: {test}"
    return " ".join(test[1:])


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=VALUE: {raw!r}"
        values[key.strip()] = value.strip().strip("'\"")
    return values


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and line continuations joined."""
    instructions: list[tuple[str, str]] = []
    buf = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not buf):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        buf += stripped
        keyword, _, args = buf.strip().partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        buf = ""
    assert not buf, "Dockerfile ends inside a line continuation"
    return instructions


def exec_form_or_shell(args: str) -> list[str]:
    if args.startswith("["):
        return json.loads(args)
    return shlex.split(args)


def copy_sources_and_dest(args: str) -> tuple[list[str], str]:
    """Build-context sources and destination of a COPY (none for `COPY --from=<stage>`)."""
    tokens = exec_form_or_shell(args)
    parts = [p for p in tokens if not p.startswith("--")]
    if any(t.startswith("--from") for t in tokens):
        return [], parts[-1]
    assert len(parts) >= 2, f"COPY needs a source and a destination: {args}"
    return parts[:-1], parts[-1]


def normalise_source(src: str) -> str:
    return str(PurePosixPath(src.rstrip("/"))).removeprefix("./")


def parse_env_instruction(args: str) -> dict[str, str]:
    out = {}
    for token in shlex.split(args):
        key, sep, value = token.partition("=")
        assert sep, f"use ENV KEY=VALUE form: {args}"
        out[key] = value
    return out


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Docker .dockerignore glob: "*" and "?" stay within one path element, "**" spans any number."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            out.append(pattern[i : end + 1])
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (last matching rule wins; a rule
    matching a parent directory applies to everything under it, as in Docker's matcher)."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = (pattern[1:] if negate else pattern).strip().rstrip("/").removeprefix("/")
        if pat and any(_glob_regex(pat).match(c) for c in candidates):
            excluded = not negate
    return excluded


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE_FILE.read_text()


@pytest.fixture(scope="module")
def compose(compose_text: str) -> dict[str, Any]:
    data = yaml.safe_load(compose_text)
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def dockerignore_patterns() -> list[str]:
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


# --------------------------------------------------------------------------------------------
# docker-compose.yml
# --------------------------------------------------------------------------------------------


def test_compose_uses_the_compose_spec_and_defines_the_services(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "top-level `version:` is obsolete in the Compose spec"
    assert {"neo4j", "app", "rebuild"} <= set(compose["services"])


def test_neo4j_image_is_a_pinned_neo4j5_community_tag(services: dict[str, Any]) -> None:
    image = services["neo4j"]["image"]
    assert re.fullmatch(r"neo4j:5(\.\d+){1,2}-community(-[a-z0-9]+)?", image), image


def test_neo4j_publishes_browser_and_bolt(services: dict[str, Any]) -> None:
    assert {NEO4J_HTTP, NEO4J_BOLT} <= container_ports(services["neo4j"])


def test_neo4j_auth_comes_from_the_required_env_var(services: dict[str, Any]) -> None:
    auth = env_mapping(services["neo4j"])["NEO4J_AUTH"]
    assert re.fullmatch(r"neo4j/\$\{NEO4J_PASSWORD:\?[^}]+\}", auth), auth
    with pytest.raises(InterpolationError, match="NEO4J_PASSWORD"):
        interpolate(auth, {})
    assert interpolate(auth, {"NEO4J_PASSWORD": "s3cret-pw"}) == "neo4j/s3cret-pw"


def test_neo4j_container_gets_no_stray_neo4j_variables(services: dict[str, Any]) -> None:
    # The image's entrypoint writes every NEO4J_* variable except a few control ones into
    # neo4j.conf ("NEO4J_PASSWORD" would become an unknown setting "PASSWORD").
    control = {
        "NEO4J_AUTH",
        "NEO4J_AUTH_PATH",
        "NEO4J_PLUGINS",
        "NEO4J_DEBUG",
        "NEO4J_ACCEPT_LICENSE_AGREEMENT",
    }
    for key in env_mapping(services["neo4j"]):
        if key.startswith("NEO4J_") and key not in control:
            setting = key.removeprefix("NEO4J_")
            assert re.fullmatch(r"[a-z][a-z0-9]*(_{1,2}[a-z0-9]+)+", setting), (
                f"{key} is not a Neo4j setting in env form (e.g. NEO4J_server_memory_heap_max__size)"
            )


def test_neo4j_memory_is_configured_with_defaults(services: dict[str, Any]) -> None:
    env = interpolate_tree(env_mapping(services["neo4j"]), {"NEO4J_PASSWORD": "x" * 12})
    for key in (
        "NEO4J_server_memory_heap_initial__size",
        "NEO4J_server_memory_heap_max__size",
        "NEO4J_server_memory_pagecache_size",
    ):
        assert re.fullmatch(r"\d+[kKmMgG]", env.get(key, "")), f"{key}={env.get(key)!r}"
    assert "NEO4J_PLUGINS" not in env, "keep the community image plain: no plugins by default"


def test_neo4j_keeps_data_and_logs_in_named_volumes(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    mounts = {target: source for source, target, _ in volume_mounts(services["neo4j"])}
    for target in ("/data", "/logs"):
        assert target in mounts, f"neo4j {target} is not mounted"
        assert is_named_volume(mounts[target]), f"neo4j {target} should be a named volume"
        assert mounts[target] in (compose.get("volumes") or {}), f"volume {mounts[target]} not declared"


@pytest.mark.parametrize("name", ["neo4j", "app"])
def test_service_has_a_complete_healthcheck(services: dict[str, Any], name: str) -> None:
    hc = services[name].get("healthcheck")
    assert hc and not hc.get("disable"), f"{name} has no healthcheck"
    for key in ("test", "interval", "timeout", "retries", "start_period"):
        assert key in hc, f"{name} healthcheck lacks {key}"
    assert int(hc["retries"]) >= 3
    assert duration_seconds(hc["timeout"]) <= duration_seconds(hc["interval"]) * 3
    assert duration_seconds(hc["start_period"]) > 0


def test_neo4j_healthcheck_runs_an_authenticated_query(services: dict[str, Any]) -> None:
    command = healthcheck_command(services["neo4j"])
    assert "cypher-shell" in command and "RETURN 1" in command, command
    assert str(NEO4J_BOLT) in command or "-a" not in command
    # Compose must not expand the container-side variable on the host: "$$" in the file ...
    assert "$${NEO4J_AUTH" in command, "read the password from the container's NEO4J_AUTH, escaped as $$"
    # ... which comes out as a single "$" for the container's shell, and never needs the host env.
    rendered = interpolate(command, {})
    assert "${NEO4J_AUTH" in rendered and "$$" not in rendered
    # No "-p <literal>" anywhere.
    assert not re.search(r"(-p|--password)\s+['\"]?[^\s$'\"]", command), command


def test_app_healthcheck_hits_health_endpoint_with_python(services: dict[str, Any]) -> None:
    test = services["app"]["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1] == "python" and test[2] == "-c", test
    assert f"http://localhost:{APP_PORT}/health" in test[3]
    compile(test[3], "<healthcheck>", "exec")  # the one-liner is valid Python
    assert "timeout=" in test[3]


@pytest.mark.parametrize("name", ["app", "rebuild"])
def test_service_waits_for_healthy_neo4j(services: dict[str, Any], name: str) -> None:
    depends = services[name].get("depends_on")
    assert isinstance(depends, dict), f"{name}: use the long depends_on form with a condition"
    assert depends["neo4j"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", ["app", "rebuild"])
def test_service_env_wires_the_app_to_neo4j(services: dict[str, Any], name: str) -> None:
    env = env_mapping(services[name])
    assert env["CARTOGRAPH_STORE_BACKEND"] == "neo4j"
    assert env["CARTOGRAPH_NEO4J_URI"] == f"bolt://neo4j:{NEO4J_BOLT}"
    assert env["CARTOGRAPH_NEO4J_URI"].split("//")[1].split(":")[0] in services, "URI host is not a service"
    assert env["CARTOGRAPH_NEO4J_USER"] == "neo4j"
    assert env["CARTOGRAPH_HOME"] == STATE_DIR, (
        "the default home (relative `var`) is not writable in the image"
    )
    assert env["CARTOGRAPH_ARTIFACTS_DIR"] == f"{STATE_DIR}/artifacts"
    assert env["CARTOGRAPH_DATA_DIR"] == f"{STATE_DIR}/data"
    assert env["HF_HUB_OFFLINE"] == "1"


@pytest.mark.parametrize("name", ["app", "rebuild"])
def test_app_and_neo4j_get_the_same_password(services: dict[str, Any], name: str) -> None:
    host_env = {"NEO4J_PASSWORD": "pw-from-dotenv", "CARTOGRAPH_ADMIN_API_KEY": "k"}
    neo4j_env = interpolate_tree(env_mapping(services["neo4j"]), host_env)
    app_env = interpolate_tree(env_mapping(services[name]), host_env)
    assert neo4j_env["NEO4J_AUTH"] == "neo4j/" + app_env["CARTOGRAPH_NEO4J_PASSWORD"]
    assert app_env["CARTOGRAPH_NEO4J_PASSWORD"] == "pw-from-dotenv"
    with pytest.raises(InterpolationError):
        interpolate_tree(env_mapping(services[name]), {})


def test_no_literal_secret_in_compose(
    services: dict[str, Any], compose_text: str, env_example: dict[str, str]
) -> None:
    for name, service in services.items():
        for key, value in env_mapping(service).items():
            if re.search(r"PASSWORD|SECRET|API_KEY|TOKEN|AUTH", key):
                assert "${" in value, f"{name}.{key} is a literal ({value!r}); take it from .env"
    for key, value in env_example.items():
        if re.search(r"PASSWORD|SECRET|API_KEY|TOKEN", key):
            assert value not in compose_text, f"the example value of {key} is written in docker-compose.yml"


def test_app_publishes_port_and_runs_quickstart(services: dict[str, Any]) -> None:
    app = services["app"]
    assert APP_PORT in container_ports(app)
    assert app["command"] == QUICKSTART_CMD
    build = app.get("build")
    assert build, "app is built from the Dockerfile"
    if isinstance(build, str):
        build = {"context": build}
    assert (ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE


@pytest.mark.parametrize("name", ["app", "rebuild"])
def test_state_dir_is_a_named_volume(compose: dict[str, Any], services: dict[str, Any], name: str) -> None:
    mounts = {target: source for source, target, _ in volume_mounts(services[name])}
    assert is_named_volume(mounts.get(STATE_DIR, "")), f"{name}: {STATE_DIR} should be a named volume"
    assert mounts[STATE_DIR] in (compose.get("volumes") or {})


def test_app_and_rebuild_share_state_and_image(services: dict[str, Any]) -> None:
    app, rebuild = services["app"], services["rebuild"]
    assert rebuild.get("image") == app.get("image") and app.get("image")
    assert rebuild.get("build") == app.get("build")
    assert env_mapping(rebuild) == env_mapping(app)
    app_state = {t: s for s, t, _ in volume_mounts(app)}[STATE_DIR]
    rebuild_state = {t: s for s, t, _ in volume_mounts(rebuild)}[STATE_DIR]
    assert app_state == rebuild_state, "rebuild must write the artifacts the app serves"


def test_rebuild_is_a_one_shot_job_behind_a_profile(services: dict[str, Any]) -> None:
    rebuild = services["rebuild"]
    assert rebuild.get("profiles"), "rebuild must be in a profile so `docker compose up` skips it"
    assert "jobs" in rebuild["profiles"]
    for always_on in ("neo4j", "app"):
        assert not services[always_on].get("profiles"), f"{always_on} must start with plain `up`"
    assert rebuild.get("restart") == "no", "quote it: unquoted `no` is YAML false"
    assert rebuild["command"] == [
        "cartograph",
        "rebuild",
        "--catalog",
        f"{STATE_DIR}/incoming/catalog.jsonl",
    ]
    incoming = [(s, ro) for s, t, ro in volume_mounts(rebuild) if t == f"{STATE_DIR}/incoming"]
    assert incoming == [("./incoming", True)], "mount ./incoming read-only at the catalog's directory"


def test_declared_volumes_are_used_and_used_volumes_declared(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    declared = set(compose.get("volumes") or {})
    used = {s for svc in services.values() for s, _, _ in volume_mounts(svc) if is_named_volume(s)}
    assert declared, "no top-level volumes"
    assert declared == used, f"declared-but-unused: {declared - used}; used-but-undeclared: {used - declared}"


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def test_every_required_variable_is_in_env_example(
    compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    required = {
        name
        for value in _strings(compose)
        for name in re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*):?\?", value)
    }
    assert {"NEO4J_PASSWORD", "CARTOGRAPH_ADMIN_API_KEY"} <= required
    missing = required - set(env_example)
    assert not missing, f".env.example lacks {sorted(missing)}"
    interpolate_tree(compose, env_example)  # the whole file resolves with .env.example alone
    with pytest.raises(InterpolationError):
        interpolate_tree(compose, {})


def test_env_example_password_is_acceptable_to_neo4j(env_example: dict[str, str]) -> None:
    password = env_example["NEO4J_PASSWORD"]
    assert len(password) >= 8, "the neo4j image rejects passwords shorter than 8 characters"
    assert "/" not in password and password != "neo4j"
    assert env_example.get("CARTOGRAPH_ADMIN_API_KEY")


# --------------------------------------------------------------------------------------------
# Dockerfile
# --------------------------------------------------------------------------------------------


def _indexes(dockerfile: list[tuple[str, str]], keyword: str) -> list[int]:
    return [i for i, (kw, _) in enumerate(dockerfile) if kw == keyword]


def test_dockerfile_base_image(dockerfile: list[tuple[str, str]]) -> None:
    froms = [args for kw, args in dockerfile if kw == "FROM"]
    assert froms, "no FROM"
    final = froms[-1].split()[0]
    assert final.startswith("python:3.11"), final
    assert "slim" in final


def test_torch_comes_from_the_cpu_index_before_the_project(dockerfile: list[tuple[str, str]]) -> None:
    runs = [(i, args) for i, (kw, args) in enumerate(dockerfile) if kw == "RUN"]
    torch_runs = [i for i, args in runs if re.search(r"pip install\b.*\btorch==", args)]
    assert torch_runs, "torch is not installed explicitly"
    torch_args = dockerfile[torch_runs[0]][1]
    assert f"--index-url {TORCH_CPU_INDEX}" in torch_args or f"--index-url={TORCH_CPU_INDEX}" in torch_args
    assert "--extra-index-url" not in torch_args, "an extra index would let pip pick a CUDA wheel"

    pinned = re.search(r"torch==([\w.+]+)", torch_args)
    constraints = (ROOT / "constraints.txt").read_text()
    want = re.search(r"^torch==([\w.+]+)", constraints, re.MULTILINE)
    assert pinned and want and pinned.group(1) == want.group(1), "torch pin differs from constraints.txt"

    project_runs = [i for i, args in runs if re.search(r"pip install\b[^&;]*\s\.(\s|$)", args)]
    assert project_runs, "the project (`pip install ... .`) is never installed"
    assert torch_runs[0] < min(project_runs)
    for i in project_runs:
        assert "-c constraints.txt" in dockerfile[i][1], "install the project under constraints.txt"


def test_dependency_layer_comes_before_the_code(dockerfile: list[tuple[str, str]]) -> None:
    copies = [(i, *copy_sources_and_dest(args)) for i, (kw, args) in enumerate(dockerfile) if kw == "COPY"]
    first = {}
    for i, sources, _ in copies:
        for src in sources:
            first.setdefault(normalise_source(src), i)
    assert first["constraints.txt"] < first["kg"], "copy the dependency metadata before the code"
    assert first["pyproject.toml"] < first["kg"]
    deps_install = [
        i for i, (kw, args) in enumerate(dockerfile) if kw == "RUN" and "-c constraints.txt" in args
    ]
    assert deps_install and deps_install[0] < first["kg"], "install dependencies before copying the code"


def test_dockerfile_copies_only_allowed_sources(dockerfile: list[tuple[str, str]]) -> None:
    for kw, args in dockerfile:
        if kw == "ADD":
            pytest.fail(f"use COPY, not ADD: {args}")
        if kw == "COPY":
            sources, _ = copy_sources_and_dest(args)
            for src in sources:
                assert normalise_source(src) in ALLOWED_COPY_SOURCES, f"COPY {src}: not an expected path"


def test_dockerfile_copies_what_pyproject_needs(dockerfile: list[tuple[str, str]]) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    copied = {
        normalise_source(src)
        for kw, args in dockerfile
        if kw == "COPY"
        for src in copy_sources_and_dest(args)[0]
    }
    needed = {"pyproject.toml", "constraints.txt", "cypher", "data/sample"}
    readme = pyproject["project"].get("readme")
    if isinstance(readme, str):
        needed.add(readme)
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        needed.add(pattern.rstrip("*").rstrip("."))
    assert needed <= copied, f"not copied into the image: {sorted(needed - copied)}"


def test_dockerfile_copy_sources_exist(dockerfile: list[tuple[str, str]]) -> None:
    missing = sorted(
        normalise_source(src)
        for kw, args in dockerfile
        if kw == "COPY"
        for src in copy_sources_and_dest(args)[0]
        if not (ROOT / normalise_source(src)).exists()
    )
    unexpected = [m for m in missing if m not in PENDING_COPY_SOURCES]
    assert not unexpected, f"COPY sources missing from the repo: {unexpected}"
    if missing:
        pytest.skip(f"COPY sources not written yet (docker build would fail): {missing}")


def test_dockerignore_keeps_copied_sources_and_drops_local_state(dockerignore_patterns: list[str]) -> None:
    for src in ALLOWED_COPY_SOURCES:
        assert not dockerignore_excludes(src, dockerignore_patterns), f".dockerignore drops {src}"
    for path in (
        "cartograph/cli.py",
        "gnn/model.py",
        "api/app.py",
        "cypher/schema.cypher",
        "data/sample/catalog.jsonl",
    ):
        assert not dockerignore_excludes(path, dockerignore_patterns), f".dockerignore drops {path}"
    for path in (
        ".git/config",
        ".venv/bin/python",
        ".env",
        "kg/__pycache__/x.cpython-311.pyc",
        "artifacts/model.pt",
        "var/graph.lbug",
        "graph.lbug",
        "graph.kuzu",
        ".pytest_cache/v/cache",
        "data/raw/big.csv",
    ):
        assert dockerignore_excludes(path, dockerignore_patterns), f".dockerignore lets {path} in"


def test_dockerfile_runtime_settings(dockerfile: list[tuple[str, str]]) -> None:
    env: dict[str, str] = {}
    for kw, args in dockerfile:
        if kw == "ENV":
            env.update(parse_env_instruction(args))
    assert env.get("CARTOGRAPH_CYPHER_DIR") == "/app/cypher"
    assert env.get("CARTOGRAPH_SAMPLE_DIR") == "/app/data/sample"
    assert env.get("HF_HUB_OFFLINE") == "1"
    # State goes to the directory the non-root user owns (and compose mounts a volume on).
    assert env.get("CARTOGRAPH_HOME") == STATE_DIR
    for key in ("CARTOGRAPH_ARTIFACTS_DIR", "CARTOGRAPH_DATA_DIR"):
        assert PurePosixPath(env[key]).is_relative_to(STATE_DIR), f"{key}={env.get(key)}"
    run_text = " ".join(args for kw, args in dockerfile if kw == "RUN")
    assert re.search(rf"chown -R \S+ {re.escape(STATE_DIR)}", run_text), (
        f"{STATE_DIR} not owned by the app user"
    )

    # The variables point where the files were actually copied.
    workdir = "/"
    dests = {}
    for kw, args in dockerfile:
        if kw == "WORKDIR":
            workdir = str(PurePosixPath(workdir) / args)
        if kw == "COPY":
            sources, dest = copy_sources_and_dest(args)
            for src in sources:
                dests[normalise_source(src)] = str(PurePosixPath(workdir) / dest.rstrip("/"))
    assert dests.get("cypher") == env["CARTOGRAPH_CYPHER_DIR"]
    assert dests.get("data/sample") == env["CARTOGRAPH_SAMPLE_DIR"]

    exposed = {p.split("/")[0] for kw, args in dockerfile if kw == "EXPOSE" for p in args.split()}
    assert str(APP_PORT) in exposed


def test_dockerfile_runs_as_non_root(dockerfile: list[tuple[str, str]]) -> None:
    users = _indexes(dockerfile, "USER")
    assert users, "no USER: the container would run as root"
    user = dockerfile[users[-1]][1].split(":")[0]
    assert user not in {"root", "0"}, f"USER {user}"
    cmd_index = _indexes(dockerfile, "CMD")[-1]
    assert users[-1] < cmd_index
    assert not any(kw == "RUN" for kw, _ in dockerfile[users[-1] :]), (
        "RUN after USER: keep installs root-owned"
    )


def test_dockerfile_cmd_matches_compose(dockerfile: list[tuple[str, str]], services: dict[str, Any]) -> None:
    cmds = [args for kw, args in dockerfile if kw == "CMD"]
    assert cmds, "no CMD"
    assert cmds[-1].startswith("["), "use the exec form so the server gets signals directly"
    assert json.loads(cmds[-1]) == QUICKSTART_CMD == services["app"]["command"]


# --------------------------------------------------------------------------------------------
# Docker itself (optional)
# --------------------------------------------------------------------------------------------


def _docker_compose_available() -> tuple[bool, str]:
    docker = shutil.which("docker")
    if docker is None:
        return False, "no Docker engine on this machine (docker CLI not found)"
    try:
        info = subprocess.run([docker, "info"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False, "no Docker engine on this machine (docker info failed)"
    if info.returncode != 0:
        return False, "no Docker engine on this machine (docker info failed)"
    version = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=20)
    if version.returncode != 0:
        return False, "the docker compose plugin is not installed"
    return True, ""


@pytest.mark.docker
def test_docker_compose_config_validates() -> None:
    ok, reason = _docker_compose_available()
    if not ok:
        pytest.skip(reason)
    for extra in ([], ["--profile", "jobs"]):
        result = subprocess.run(
            ["docker", "compose", "--env-file", str(ENV_EXAMPLE), *extra, "config", "-q"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
