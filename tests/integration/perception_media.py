"""Real test media for the perception tests: rendered signs, synthesised and recorded speech.

Signs are rendered with PIL in a CJK font from Debian (fonts-wqy-zenhei), so the OCR has never
seen them; speech comes from espeak-ng (Debian) and from the recording shipped in the
``useful-moonshine-onnx`` wheel (downloaded once with pip into the test-data cache).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from edgesdk.testing import media

T = TypeVar("T")

CACHE = Path(os.environ.get("EDGESDK_HOME", Path.home() / ".cache" / "edgesdk")) / "testdata"


def _or_skip(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return fn(*args, **kwargs)
    except media.MediaUnavailable as exc:
        pytest.skip(str(exc))


def sign(lines: list[str], **kwargs: Any) -> np.ndarray:
    """A rendered sign (see ``edgesdk.testing.media.sign``); skips without a CJK font."""
    return _or_skip(media.sign, lines, **kwargs)


def espeak(text: str, path: Path, *, speed: int = 140) -> Path:
    """Synthesised speech (``edgesdk.testing.media.espeak``); skips without espeak-ng."""
    return _or_skip(media.espeak, text, path, speed=speed)


def beckett_wav() -> Path:
    """A real 10 s recording (Beckett: 'Ever tried. Ever failed. ...') from a PyPI wheel."""
    target = CACHE / "beckett.wav"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = CACHE / "dl"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(tmp),
             "useful-moonshine-onnx==20251121"],
            check=True, capture_output=True, timeout=300,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"could not download the speech sample: {exc}")
    wheel = next(tmp.glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        target.write_bytes(zf.read("moonshine_onnx/assets/beckett.wav"))
    shutil.rmtree(tmp, ignore_errors=True)
    return target


mix_at_snr = media.mix_at_snr
