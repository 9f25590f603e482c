"""Fixtures for the end-to-end tests: the real team servers, once per test session."""

from __future__ import annotations

import pytest

from tests.e2e.servers import TeamServers, team_servers


@pytest.fixture(scope="session")
def team() -> TeamServers:
    """A private PostgreSQL cluster and MLflow tracking server (see tests/e2e/servers.py)."""
    with team_servers() as servers:
        yield servers
