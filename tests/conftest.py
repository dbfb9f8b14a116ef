"""Shared fixtures: an isolated $EDGESDK_HOME per test, and the real model store for
integration tests (skipped with a clear reason when the models were never fetched)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REAL_HOME = Path(os.environ.get("EDGESDK_HOME", Path.home() / ".cache" / "edgesdk"))


@pytest.fixture
def edgesdk_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "edgesdk-home"
    monkeypatch.setenv("EDGESDK_HOME", str(home))
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    monkeypatch.delenv("EDGESDK_CLOUD_BASE_URL", raising=False)
    yield home


@pytest.fixture(scope="session")
def real_catalog() -> object:
    from edgesdk.catalog import Catalog
    from edgesdk.config import Settings

    catalog = Catalog(settings=Settings(home=REAL_HOME))
    for model_id in ("smollm2-135m-instruct", "gemma3-270m"):
        if not catalog.path_of(model_id).exists():
            pytest.skip(f"model {model_id} not fetched; run: edgesdk models fetch")
    return catalog


def pytest_sessionstart(session: pytest.Session) -> None:
    """Calibrations fitted with ``edgesdk router fit`` (no ``--out``) live under the real home
    and take precedence over the shipped ones, which these tests expect: say so up front (also
    under ``-q``)."""
    mine = sorted((REAL_HOME / "calibrations").glob("*.json"))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if mine and reporter is not None:
        reporter.write_line(f"edgesdk: {len(mine)} calibration(s) of your own in "
                            f"{mine[0].parent} override the shipped ones in tests that load "
                            "calibrations; move them away for a clean run", yellow=True)
