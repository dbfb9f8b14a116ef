"""Real test media for the perception tests: rendered signs, synthesised and recorded speech.

Signs are rendered with PIL in a CJK font from Debian (fonts-wqy-zenhei), so the OCR has never
seen them; speech comes from espeak-ng (Debian) and from the recording shipped in the
``useful-moonshine-onnx`` wheel (downloaded once with pip into the test-data cache).
"""

from __future__ import annotations

import os
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
    return _or_skip(media.recorded_speech, CACHE)


mix_at_snr = media.mix_at_snr
