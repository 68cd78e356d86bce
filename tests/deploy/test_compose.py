"""docker-compose.yml: valid by the Compose Specification, and deployed the way it must be.

No Docker engine runs where these tests run, so the file is checked against the published
Compose Specification schema (tests/data/compose-spec.json, vendored) and then, field by
field, against what the deployment needs: replicas, health checks, start-up order, secrets
kept out of the environment and no database or Redis port on the host.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from tests.deploy.support import REPO, MissingVariable, interpolate_tree, referenced_variables

APP = "app"
MIGRATE = "migrate"
KEY_SECRET_PATH = "/run/secrets/"
# A key-file line (KEY_ID:BASE64 of 32 bytes) written out anywhere would be a leaked key.
KEY_LINE = re.compile(r"[A-Za-z0-9_.-]{1,32}:[A-Za-z0-9+/]{43}=")


def validation_errors(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<top>'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def command(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command", [])
    return cmd.split() if isinstance(cmd, str) else list(cmd)


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: spec["condition"] for name, spec in deps.items()}


# --- the schema itself ------------------------------------------------------------------------


def test_vendored_schema_is_the_complete_draft_7_compose_specification(
    schema: dict[str, Any],
) -> None:
    assert schema["title"] == "Compose Specification"
    # The schema names its own dialect; the tests use the matching validator.
    assert "draft-07" in schema["$schema"]
    jsonschema.Draft7Validator.check_schema(schema)
    for top_level in ("services", "networks", "volumes", "secrets", "configs"):
        assert top_level in schema["properties"]
    for definition in ("service", "healthcheck", "deployment", "secret", "ulimits"):
        assert definition in schema["definitions"]
    assert schema["additionalProperties"] is False


# --- the file against the specification -------------------------------------------------------


def test_compose_file_is_valid_by_the_compose_specification(
    schema: dict[str, Any], compose: dict[str, Any]
) -> None:
    assert validation_errors(schema, compose) == []


def test_compose_file_is_valid_before_variable_substitution_too(
    schema: dict[str, Any], compose_raw: dict[str, Any]
) -> None:
    # Tools that read the file without an .env (linters, editors) see it this way.
    assert validation_errors(schema, compose_raw) == []


def _unknown_top_level_key(doc: dict[str, Any]) -> None:
    doc["service"] = doc["services"]


def _bad_depends_on_condition(doc: dict[str, Any]) -> None:
    doc["services"][APP]["depends_on"]["postgres"]["condition"] = "service_ready"


def _depends_on_without_condition(doc: dict[str, Any]) -> None:
    del doc["services"][APP]["depends_on"]["migrate"]["condition"]


def _misspelt_healthcheck_field(doc: dict[str, Any]) -> None:
    doc["services"]["postgres"]["healthcheck"]["intervall"] = "10s"


def _unknown_service_field(doc: dict[str, Any]) -> None:
    doc["services"]["redis"]["replicas"] = 2


def _bad_service_name(doc: dict[str, Any]) -> None:
    doc["services"]["chat server"] = doc["services"].pop(APP)


def _secret_with_unknown_field(doc: dict[str, Any]) -> None:
    doc["secrets"]["chatserver_keys"]["path"] = "./keys"


def _volume_of_unknown_type(doc: dict[str, Any]) -> None:
    doc["services"]["postgres"]["volumes"] = [{"type": "disk", "source": "x", "target": "/y"}]


@pytest.mark.parametrize(
    "break_it",
    [
        _unknown_top_level_key,
        _bad_depends_on_condition,
        _depends_on_without_condition,
        _misspelt_healthcheck_field,
        _unknown_service_field,
        _bad_service_name,
        _secret_with_unknown_field,
        _volume_of_unknown_type,
    ],
)
def test_validation_rejects_a_broken_copy(
    schema: dict[str, Any],
    compose: dict[str, Any],
    break_it: Callable[[dict[str, Any]], None],
) -> None:
    # Proves the validation above can fail: a schema that accepted anything would pass it.
    broken = copy.deepcopy(compose)
    break_it(broken)
    assert validation_errors(schema, broken) != []


# --- replicas, health and start-up order ------------------------------------------------------


def test_at_least_two_app_replicas_serve_the_chat(compose: dict[str, Any]) -> None:
    app = compose["services"][APP]
    replicas = int(app.get("deploy", {}).get("replicas", app.get("scale", 1)))
    assert replicas >= 2
    # With replicas there is no fixed container name, or the second could not start.
    assert "container_name" not in app


def test_app_runs_the_server_without_migrating(compose: dict[str, Any]) -> None:
    assert command(compose["services"][APP]) == [
        "chatserver",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
        "--no-migrate",
    ]


def test_migrations_run_once_in_a_one_shot_job(compose: dict[str, Any]) -> None:
    migrate = compose["services"][MIGRATE]
    assert command(migrate) == ["chatserver", "migrate", "--noinput"]
    assert migrate.get("restart", "no") == "no"
    assert "deploy" not in migrate and "scale" not in migrate
    # Migrations run against the same image and settings as the replicas.
    app = compose["services"][APP]
    assert migrate["image"] == app["image"]
    assert environment(migrate) == environment(app)
    assert migrate["secrets"] == app["secrets"]
    assert depends_on(migrate) == {"postgres": "service_healthy"}


def test_every_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        if name == MIGRATE:
            # A job that exits serves nothing to check; compose judges it by its exit code
            # (service_completed_successfully), and the image's HTTP check must not run.
            assert check == {"disable": True}
            continue
        assert not check.get("disable"), f"{name} disables its healthcheck"
        test = check["test"]
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), name
        for field in ("interval", "timeout", "retries"):
            assert field in check, f"{name} healthcheck has no {field}"


def test_health_checks_ask_the_right_thing(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert services[APP]["healthcheck"]["test"] == [
        "CMD",
        "python",
        "/usr/local/lib/chatserver/healthcheck.py",
    ]
    assert "8081/healthz" in " ".join(services["proxy"]["healthcheck"]["test"])


def test_app_waits_for_healthy_backends_and_a_finished_migration(
    compose: dict[str, Any],
) -> None:
    assert depends_on(compose["services"][APP]) == {
        "postgres": "service_healthy",
        "redis": "service_healthy",
        "migrate": "service_completed_successfully",
    }


def test_proxy_waits_for_healthy_app_and_is_the_only_published_service(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert depends_on(services["proxy"]) == {APP: "service_healthy"}
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    assert services["proxy"]["ports"] == ["80:80", "443:443"]


def test_postgres_and_redis_are_not_reachable_from_the_host(compose: dict[str, Any]) -> None:
    for name in ("postgres", "redis"):
        service = compose["services"][name]
        assert "ports" not in service, f"{name} publishes a port on the host"
        assert service.get("network_mode") is None, f"{name} shares another network stack"
        assert service["networks"] == ["backend"]
    assert compose["networks"]["backend"]["internal"] is True
    # The proxy cannot reach them either: it is only on the edge network.
    assert compose["services"]["proxy"]["networks"] == ["edge"]


# --- secrets and settings ---------------------------------------------------------------------


def test_key_file_is_a_compose_secret_not_an_environment_value(compose: dict[str, Any]) -> None:
    secret = compose["secrets"]["chatserver_keys"]
    assert set(secret) == {"file"}, "the key file comes from a file on the host"
    for name in (APP, MIGRATE):
        service = compose["services"][name]
        assert "chatserver_keys" in service["secrets"]
        env = environment(service)
        assert env["CHATSERVER_KEY_FILE"] == KEY_SECRET_PATH + "chatserver_keys"
        # The other way to give keys, a variable holding them, is not used.
        assert "CHATSERVER_KEYS" not in env
        assert "env_file" not in service


def test_no_key_or_password_is_written_into_the_compose_file(
    compose_raw: dict[str, Any],
) -> None:
    for name, service in compose_raw["services"].items():
        for variable, value in environment(service).items():
            assert not KEY_LINE.search(value), f"{name}: {variable} holds a key"
            if variable in ("SECRET_KEY", "POSTGRES_PASSWORD", "CHANNEL_ENCRYPTION_KEY"):
                assert value.startswith("${" + variable), f"{name}: {variable} is a literal"
            if variable == "DATABASE_URL":
                assert ":${POSTGRES_PASSWORD" in value, f"{name}: the password is a literal"


def test_required_values_stop_compose_when_the_env_file_lacks_them(
    compose_text: str, compose_raw: dict[str, Any], operator_env: dict[str, str]
) -> None:
    for variable in ("SECRET_KEY", "POSTGRES_PASSWORD", "CHAT_HOSTNAME"):
        assert "${" + variable + ":?" in compose_text
        incomplete = {k: v for k, v in operator_env.items() if k != variable}
        with pytest.raises(MissingVariable):
            interpolate_tree(compose_raw, incomplete)
        # Present but left blank (as in deploy/env.example) is refused too.
        with pytest.raises(MissingVariable):
            interpolate_tree(compose_raw, {**operator_env, variable: ""})


def test_env_example_lists_every_variable_the_compose_file_reads(
    compose_raw: dict[str, Any], env_example: dict[str, str]
) -> None:
    example_text = (REPO / "deploy" / "env.example").read_text()
    for variable in sorted(referenced_variables(compose_raw)):
        # Set, or shown commented out where the default suits most deployments.
        assert variable in env_example or f"# {variable}=" in example_text, variable
    # Secrets are blank in the example, so no copied .env ever holds a published value.
    for variable in ("SECRET_KEY", "POSTGRES_PASSWORD", "CHANNEL_ENCRYPTION_KEY"):
        assert env_example[variable] == ""


def test_app_settings_are_those_of_production(compose: dict[str, Any]) -> None:
    env = environment(compose["services"][APP])
    assert env["DEBUG"] == "false"
    assert env["SECURE_PROXY_SSL_HEADER_ENABLED"] == "true"
    assert env["SECURE_SSL_REDIRECT"] == "true"
    assert env["ALLOWED_HOSTS"] == "chat.example.org"
    assert env["CSRF_TRUSTED_ORIGINS"] == "https://chat.example.org"
    assert env["DATABASE_URL"].startswith("postgres://chat:")
    assert env["DATABASE_URL"].endswith("@postgres:5432/chat")
    # REDIS_URL switches the channel layer to Redis, shared by all replicas.
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["CHATSERVER_DATA_DIR"] == "/var/lib/chatserver"


def test_redis_keeps_nothing_on_disk(compose: dict[str, Any]) -> None:
    cmd = command(compose["services"]["redis"])
    assert cmd[cmd.index("--save") + 1] == ""
    assert cmd[cmd.index("--appendonly") + 1] == "no"
    assert "volumes" not in compose["services"]["redis"]


def test_postgres_keeps_its_data_in_a_named_volume(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["postgres"]["volumes"]
    assert volumes == ["postgres-data:/var/lib/postgresql/data"]
    assert "postgres-data" in compose["volumes"]
