"""Review of the full stack (docker-compose.yaml, Dockerfile, .env.example) as data.

There is no Docker engine on these machines, so nothing here starts a container: the test
reads the files the way a reviewer would and checks that the stack runs the same code with
the same environment variables as the other runtimes, that every image is pinned, and that
no secret is written anywhere but in a gitignored .env.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from govlake import config

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
GITIGNORE = ROOT / ".gitignore"
REQUIREMENTS = ROOT / "requirements.txt"
REQUIREMENTS_LOCK = ROOT / "requirements.lock"
CONFIG_MODULE = ROOT / "include" / "govlake" / "config.py"
DEPARTMENTS = ROOT / "include" / "catalog" / "departments.yaml"
POSTGRES_INIT = ROOT / "docker" / "postgres" / "init"

# What each Airflow component runs, by its command in the official image.
AIRFLOW_ROLES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
REQUIRED_SERVICES = {
    *AIRFLOW_ROLES,
    "postgres",
    "mariadb",
    "minio",
    "redis",
    "mosquitto",
    "marquez",
    "marquez-web",
}
# Major versions the design names: PostgreSQL 16, MariaDB 10.11, Mosquitto 2.
IMAGE_LINES = {
    "postgres": "postgres:16.",
    "mariadb": "mariadb:10.11.",
    "mosquitto": "eclipse-mosquitto:2.",
}
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|FERNET|JWT|PRIVATE_KEY|API_KEY")
PLACEHOLDER = "change-me"
URI_PASSWORD = re.compile(r"://[^/@\s:]*:([^@\s/]*)@")
SENTINEL = "\x00"  # stands for one ${...} substitution


# ----------------------------------------------------------------------------- helpers


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, whichever of the two compose forms it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command") or ""
    return " ".join(command) if isinstance(command, list) else str(command)


def substitutions(text: str) -> Iterator[tuple[str, str]]:
    """Yield (variable, operator) for every ${VAR...} compose would substitute in ``text``.

    ``$$`` is compose's escape for a literal ``$`` (left to the container's shell). A bare
    ``$VAR`` is rejected: it is easy to misread and cannot say that the value is required.
    """
    i = 0
    while i < len(text):
        if text[i] != "$":
            i += 1
            continue
        if text.startswith("$$", i):
            i += 2
            continue
        match = re.match(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?", text[i:])
        assert match, f"bare or malformed substitution at {text[i : i + 30]!r}: use ${{VAR}}"
        end = text.find("}", i)
        assert end != -1, f"unterminated substitution at {text[i : i + 30]!r}"
        yield match.group(1), match.group(2) or ""
        i = end + 1


def substituted(text: str) -> str:
    """``text`` with each ${...} replaced by SENTINEL (nested braces are not used here)."""
    return re.sub(r"(?<!\$)\$\{[^}]*\}", SENTINEL, text)


def string_values(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from string_values(value)
    elif isinstance(node, list):
        for value in node:
            yield from string_values(value)
    elif isinstance(node, str):
        yield node


def compose_substitutions() -> list[tuple[str, str]]:
    """Substitutions in the values of the compose file (compose ignores YAML comments)."""
    return [found for text in string_values(compose()) for found in substitutions(text)]


def parse_uri(name: str, value: str) -> config.Connection:
    """Parse a connection URI of the compose file, its ${...} parts standing in as text."""
    return config.parse_connection_uri(name, substituted(value).replace(SENTINEL, "from-env"))


def airflow_env() -> dict[str, str]:
    return environment(compose()["x-airflow-common"])


@cache
def variables_config_reads() -> frozenset[str]:
    source = CONFIG_MODULE.read_text(encoding="utf-8")
    names = set(re.findall(r"""_env\(\s*["']([A-Z][A-Z0-9_]*)["']""", source))
    names |= set(re.findall(r"""environ(?:\.get)?[(\[]\s*["']([A-Z][A-Z0-9_]*)["']""", source))
    return frozenset(names)


@cache
def connection_ids() -> frozenset[str]:
    catalog = yaml.safe_load(DEPARTMENTS.read_text(encoding="utf-8"))
    return frozenset(s["connection"] for s in catalog["systems"] if s.get("connection"))


def env_example() -> tuple[dict[str, str], dict[str, str]]:
    """(active, commented-out) assignments of .env.example."""
    active: dict[str, str] = {}
    commented: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if match := re.fullmatch(r"([A-Z_][A-Z0-9_]*)=(.*)", line):
            assert match.group(1) not in active, f"{match.group(1)} is set twice in .env.example"
            active[match.group(1)] = match.group(2)
        elif match := re.fullmatch(r"#\s?([A-Z_][A-Z0-9_]*)=(.*)", line):
            commented[match.group(1)] = match.group(2)
    return active, commented


def dockerfile_env() -> dict[str, str]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", line))
    return env


def init_databases() -> dict[str, str]:
    """database -> owner, as the PostgreSQL init script creates them."""
    created: dict[str, str] = {}
    for script in sorted(POSTGRES_INIT.glob("*.sh")):
        text = script.read_text(encoding="utf-8")
        created.update(re.findall(r"^create_database (\w+) (\w+) ", text, flags=re.M))
    return created


# ----------------------------------------------------------------------------- services


def test_the_compose_file_is_a_mapping_of_services_with_one_airflow_anchor():
    raw = COMPOSE_FILE.read_text(encoding="utf-8")
    assert "version:" not in re.findall(r"^\w+:", raw, flags=re.M), "`version` is obsolete"
    assert raw.count("&airflow-common\n") == 1, "exactly one x-airflow-common anchor"
    assert "x-airflow-common" in compose()
    for name in AIRFLOW_ROLES:
        assert services()[name]["image"] == compose()["x-airflow-common"]["image"], name


def test_required_services_exist():
    missing = REQUIRED_SERVICES - set(services())
    assert not missing, f"docker-compose.yaml lacks services {sorted(missing)}"


@pytest.mark.parametrize(("service", "command"), sorted(AIRFLOW_ROLES.items()))
def test_each_airflow_component_runs_its_role_from_the_built_image(service, command):
    spec = services()[service]
    assert command_text(spec) == command
    assert spec["build"]["dockerfile"] == "Dockerfile"
    assert (ROOT / spec["build"]["context"] / spec["build"]["dockerfile"]).is_file()


def test_airflow_runs_celery_with_redis_and_the_postgres_metadata_db():
    env = airflow_env()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    broker = parse_uri("broker", env["AIRFLOW__CELERY__BROKER_URL"])
    assert (broker.conn_type, broker.host) == ("redis", "redis")
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
        metadata = parse_uri(key, env[key])
        assert (metadata.host, metadata.schema) == ("postgres", "airflow"), key
    assert init_databases().get("airflow") == "airflow", "the init script creates `airflow`"


def test_the_dags_folder_is_the_one_baked_into_the_image():
    source_dir = dockerfile_env()["GOVLAKE_SRC"]
    assert airflow_env()["AIRFLOW__CORE__DAGS_FOLDER"] == f"{source_dir}/dags"
    assert airflow_env()["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == config.TIMEZONE


def test_openlineage_events_go_to_marquez_and_to_the_metadata_store():
    """One transport for every emitter: Marquez over HTTP, and the event log the metadata
    store harvests; the OpenLineage client builds it as written."""
    env = airflow_env()
    transport = json.loads(env["GOVLAKE_LINEAGE_TRANSPORT"])
    assert json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"]) == transport
    assert transport["type"] == "composite" and transport["continue_on_failure"] is True
    by_type = {t["type"]: t for t in transport["transports"]}
    assert set(by_type) == {"http", "govlake.lineage.transport.LineageFile"}
    url = parse_uri("openlineage", by_type["http"]["url"])
    assert url.host == "marquez" and url.host in services()
    assert str(url.port) == environment(services()["marquez"])["MARQUEZ_PORT"]
    assert by_type["http"].get("endpoint", "api/v1/lineage") == "api/v1/lineage"
    # a Marquez outage costs each event seconds, not the client's default half-minute
    assert by_type["http"]["timeout"] <= 5 and by_type["http"]["retry"]["total"] <= 1

    from openlineage.client.transport import get_default_factory
    from openlineage.client.transport.composite import CompositeTransport

    built = get_default_factory().create(json.loads(env["GOVLAKE_LINEAGE_TRANSPORT"]))
    assert isinstance(built, CompositeTransport)
    assert sorted(type(t).__name__ for t in built.transports) == ["HttpTransport", "LineageFile"]


# ------------------------------------------------------------------------------- images


def image_tag(image: str) -> str:
    reference = image.split("@", 1)[0]
    _, colon, tag = reference.rpartition(":")
    return "" if not colon or "/" in tag else tag


@pytest.mark.parametrize("service", sorted(compose()["services"]))
def test_every_image_is_pinned_to_an_exact_version(service):
    image = services()[service].get("image")
    assert image, f"{service} has no image: (a built service still names its tag)"
    assert "$" not in image, f"{service}: an image tag from a variable is not pinned"
    tag = image_tag(image)
    assert tag, f"{service}: {image} has no tag"
    assert tag != "latest", f"{service}: {image} uses `latest`"
    assert re.search(r"\d+\.\d+|RELEASE\.\d{4}-\d\d-\d\dT", tag), (
        f"{service}: {image} is not an exact version (major.minor[.patch] or a release stamp)"
    )


@pytest.mark.parametrize(("service", "prefix"), sorted(IMAGE_LINES.items()))
def test_images_are_on_the_release_lines_of_the_design(service, prefix):
    assert services()[service]["image"].startswith(prefix)


def test_the_airflow_image_matches_the_airflow_pin():
    pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", REQUIREMENTS.read_text(), flags=re.M))
    locked = dict(
        re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", REQUIREMENTS_LOCK.read_text(), flags=re.M)
    )
    text = DOCKERFILE.read_text(encoding="utf-8")
    bases = re.findall(r"^FROM\s+(\S+)", text, flags=re.M)
    assert bases, "the Dockerfile has no FROM"
    match = re.fullmatch(r"apache/airflow:(?P<version>[\d.]+)-python(?P<python>\d+\.\d+)", bases[0])
    assert match, f"not FROM apache/airflow:<version>-python<x.y>: {bases[0]}"
    assert match["version"] == pins["apache-airflow"] == locked["apache-airflow"]
    assert match["python"] == "3.11", "the project requires Python 3.11 (pyproject.toml)"
    assert compose()["x-airflow-common"]["image"].endswith(":" + _project_version())


def _project_version() -> str:
    return re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)[1]


def test_the_image_installs_the_lock_and_the_project_without_new_dependencies():
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    installs = [line for line in text.splitlines() if "pip install" in line]
    assert any(re.search(r"(--constraint|-c)\s+requirements\.lock", line) for line in installs), (
        "dependencies are installed with requirements.lock as the constraint"
    )
    assert any(
        "--no-deps" in line and re.search(r"(--editable|-e)\s+\.", line) for line in installs
    ), "the project is installed editable (config.PROJECT_ROOT is its source tree), --no-deps"
    for folder in ("include", "dags", "plugins", "dbt_project", "expectations"):
        assert re.search(rf"^COPY\b.*\s{folder}/\s", text, flags=re.M), f"{folder}/ is copied"


# ------------------------------------------------------------------ environment variables


def test_config_reads_the_variables_this_test_relies_on():
    # Guards the grep below: if config.py stopped using _env("..."), every later
    # comparison against an empty set would pass for the wrong reason.
    assert {"GOVLAKE_HOME", "GOVLAKE_PG_URL", "GOVLAKE_S3_ENDPOINT"} <= variables_config_reads()
    assert {"kp_police", "kp_market", "kp_hotline_api"} <= connection_ids()


@pytest.mark.parametrize("service", sorted(compose()["services"]))
def test_every_govlake_and_connection_variable_set_is_one_the_code_reads(service):
    expected_connections = {config.connection_env_var(c) for c in connection_ids()}
    for key in environment(services()[service]):
        if key.startswith("GOVLAKE_"):
            assert key in variables_config_reads(), f"{service}: config.py never reads {key}"
        if key.startswith("AIRFLOW_CONN_"):
            assert key in expected_connections, (
                f"{service}: {key} is no connection id of include/catalog/departments.yaml"
            )


def test_every_catalog_connection_has_its_airflow_conn_variable():
    env = airflow_env()
    missing = {config.connection_env_var(c) for c in connection_ids()} - set(env)
    assert not missing, f"x-airflow-common lacks {sorted(missing)}"


def test_all_airflow_components_share_the_platform_environment():
    def platform(env: dict[str, str]) -> dict[str, str]:
        prefixes = ("GOVLAKE_", "AIRFLOW_CONN_", "AWS_", "AIRFLOW__")
        return {k: v for k, v in env.items() if k.startswith(prefixes)}

    reference = platform(airflow_env())
    assert reference["GOVLAKE_STORAGE"] == "s3"
    for name in AIRFLOW_ROLES:
        assert platform(environment(services()[name])) == reference, name


def test_platform_addresses_point_at_services_of_the_stack():
    env = airflow_env()
    databases = init_databases()
    warehouse = parse_uri("warehouse", env["GOVLAKE_PG_URL"])
    assert warehouse.host == "postgres" and databases.get(warehouse.schema) == warehouse.login
    s3 = parse_uri("s3", env["GOVLAKE_S3_ENDPOINT"])
    assert s3.host == "minio" and s3.port == 9000
    assert f"local/{env['GOVLAKE_S3_BUCKET']}" in command_text(services()["minio-init"])
    mqtt = parse_uri("mqtt", env["GOVLAKE_MQTT_URL"])
    assert mqtt.host == "mosquitto" and mqtt.port == 1883


@pytest.mark.parametrize("conn_id", sorted(connection_ids()))
def test_each_connection_reaches_a_database_the_stack_creates(conn_id):
    value = airflow_env()[config.connection_env_var(conn_id)]
    if substituted(value) == SENTINEL:
        return  # the whole URI comes from .env (a system outside the stack)
    connection = parse_uri(conn_id, value)
    assert connection.host in services(), f"{conn_id}: host {connection.host} is no service"
    if connection.conn_type in ("postgres", "postgresql"):
        assert init_databases().get(connection.schema) == connection.login, (
            f"{conn_id}: the init script does not create {connection.schema} for {connection.login}"
        )
    elif connection.conn_type in ("mysql", "mariadb"):
        server = environment(services()[connection.host])
        assert (server["MARIADB_DATABASE"], server["MARIADB_USER"]) == (
            connection.schema,
            connection.login,
        )
    else:
        pytest.fail(f"{conn_id}: unexpected connection type {connection.conn_type}")


# --------------------------------------------------------------------------------- secrets


def test_no_secret_is_written_in_the_compose_file():
    for name, spec in services().items():
        for key, value in environment(spec).items():
            if SECRET_NAME.search(key):
                assert substituted(value) == SENTINEL, (
                    f"{name}: {key} must be exactly one ${{...}} substitution from .env"
                )
    for text in string_values(compose()):
        for password in URI_PASSWORD.findall(substituted(text)):
            assert password == SENTINEL, f"literal password in a URI: {text!r}"


def test_secret_variables_are_required_never_defaulted():
    found = compose_substitutions()
    assert found, "the compose file substitutes nothing: where do its secrets come from?"
    for variable, operator in found:
        if SECRET_NAME.search(variable):
            assert operator == ":?", f"${{{variable}}} must be ${{{variable}:?...}}"


def test_mounted_configuration_holds_no_credential():
    marquez = yaml.safe_load((ROOT / "docker" / "marquez" / "marquez.yml").read_text())
    assert substituted(str(marquez["db"]["password"])) == SENTINEL
    mosquitto = (ROOT / "docker" / "mosquitto" / "mosquitto.conf").read_text()
    assert re.search(r"^allow_anonymous false$", mosquitto, flags=re.M)
    assert re.search(r"^password_file /mosquitto/data/passwd$", mosquitto, flags=re.M)
    assert "/mosquitto/data/passwd" in command_text(services()["mosquitto"])
    for script in POSTGRES_INIT.glob("*.sh"):
        assert not re.search(r"PASSWORD\s+'", script.read_text(), flags=re.I), script


def test_bind_mounted_files_exist():
    for name, spec in services().items():
        for volume in spec.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume["source"]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"


# --------------------------------------------------------------------- health and ordering


def test_long_running_services_have_healthchecks_and_one_shots_do_not_restart():
    for name, spec in services().items():
        if spec.get("restart") == "no":
            continue
        test = spec.get("healthcheck", {}).get("test")
        assert test and test != ["NONE"], f"{name} has no healthcheck"


def test_depends_on_waits_for_health_or_completion():
    allowed = {"service_healthy", "service_completed_successfully", "service_started"}
    for name, spec in services().items():
        depends_on = spec.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        for dependency, rule in depends_on.items():
            assert dependency in services(), f"{name} depends on unknown {dependency}"
            assert dependency != name, f"{name} depends on itself"
            condition = rule.get("condition")
            assert condition in allowed, f"{name} -> {dependency}: condition {condition}"
            target = services()[dependency]
            if condition == "service_healthy":
                assert "healthcheck" in target, f"{name} waits for {dependency}'s health"
            if condition == "service_completed_successfully":
                assert target.get("restart") == "no", f"{dependency} is not a one-shot"
    worker = services()["airflow-worker"]["depends_on"]
    assert worker["minio-init"]["condition"] == "service_completed_successfully"
    assert worker["postgres"]["condition"] == "service_healthy"


def test_the_postgres_init_script_is_mounted_and_creates_every_database():
    mounts = services()["postgres"]["volumes"]
    assert "./docker/postgres/init:/docker-entrypoint-initdb.d:ro" in mounts
    assert {"airflow", "govlake", "kp_police", "kp_hrss", "kp_tax"} <= set(init_databases())


# ---------------------------------------------------------------------------- .env.example


def test_every_substituted_variable_is_in_env_example():
    active, commented = env_example()
    for variable, operator in compose_substitutions():
        assert variable in active or variable in commented, f"{variable} not in .env.example"
        if operator == ":?":
            assert variable in active, f"{variable} is required: set it in .env.example"


def test_env_example_documents_every_variable_the_platform_reads():
    active, commented = env_example()
    documented = set(active) | set(commented)
    wanted = set(variables_config_reads()) | {
        config.connection_env_var(c) for c in connection_ids()
    }
    wanted |= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"}
    missing = wanted - documented
    assert not missing, f".env.example does not document {sorted(missing)}"


def test_env_example_has_the_three_runtime_sections_and_a_comment_for_each_variable():
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    headings = [i for i, line in enumerate(lines) if re.match(r"# \d\. ", line)]
    titles = [lines[i] for i in headings]
    assert [t.split("(")[0].strip() for t in titles] == [
        "# 1. Embedded default",
        "# 2. Services mode",
        "# 3. Full stack",
    ]
    assignment = re.compile(r"[A-Z_][A-Z0-9_]*=.*")
    for number, line in enumerate(lines):
        if not assignment.fullmatch(line):
            continue
        above = number - 1
        while above >= 0 and assignment.fullmatch(lines[above]):
            above -= 1  # a group of related variables shares one comment
        assert above >= 0 and lines[above].startswith("#"), f"{line.split('=')[0]} has no comment"


def test_env_example_holds_placeholders_only():
    active, commented = env_example()
    for name, value in [*active.items(), *commented.items()]:
        if SECRET_NAME.search(name):
            assert value == PLACEHOLDER, f"{name}={value!r}: use {PLACEHOLDER!r}"
        for password in URI_PASSWORD.findall(value):
            assert password == PLACEHOLDER, f"{name}: URI password {password!r}"


def test_dot_env_is_gitignored_and_the_example_is_not():
    patterns = [
        line.strip()
        for line in GITIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ".env" in patterns or "/.env" in patterns, ".env is not in .gitignore"
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if fnmatch.fnmatch(".env.example", pattern.lstrip("!/")):
            ignored = not negated
    assert not ignored, ".gitignore would hide .env.example"
