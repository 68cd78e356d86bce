"""Fixtures for the tests of the deployment files.

These tests read docker-compose.yml, the Dockerfile and deploy/ as files: they need no
Docker engine, no database and no Django settings.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.deploy.support import REPO, interpolate_tree, parse_env_file

COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / "deploy" / "env.example"
SCHEMA_FILE = REPO / "tests" / "data" / "compose-spec.json"


@pytest.fixture(scope="session")
def compose_text() -> str:
    return COMPOSE_FILE.read_text()


@pytest.fixture(scope="session")
def env_example() -> dict[str, str]:
    return parse_env_file(ENV_EXAMPLE.read_text())


@pytest.fixture(scope="session")
def operator_env(env_example: dict[str, str]) -> dict[str, str]:
    """deploy/env.example as an operator fills it in: every blank given a value."""
    return {
        name: value or f"filled-in-{name.lower().replace('_', '-')}-{'x' * 50}"
        for name, value in env_example.items()
    }


@pytest.fixture
def compose_raw(compose_text: str) -> dict[str, Any]:
    """The YAML as written (merge keys resolved), before variable substitution."""
    loaded = yaml.safe_load(compose_text)
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture
def compose(compose_raw: dict[str, Any], operator_env: dict[str, str]) -> dict[str, Any]:
    """The file as compose sees it once .env is read: variables substituted."""
    result = interpolate_tree(compose_raw, operator_env)
    assert isinstance(result, dict)
    return result


@pytest.fixture(scope="session")
def schema() -> dict[str, Any]:
    loaded = json.loads(SCHEMA_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded
