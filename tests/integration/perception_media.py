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
from pathlib import Path

import numpy as np
import pytest

CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
CACHE = Path(os.environ.get("EDGESDK_HOME", Path.home() / ".cache" / "edgesdk")) / "testdata"


def cjk_font() -> str:
    for font in CJK_FONTS:
        if Path(font).exists():
            return font
    pytest.skip("no CJK font; install fonts-wqy-zenhei (scripts/apt-packages.txt)")


def sign(
    lines: list[str],
    *,
    size: tuple[int, int] = (640, 360),
    font_size: int = 48,
    angle: float = 0.0,
    blur: float = 0.0,
) -> np.ndarray:
    """A light sign with dark centred text, optionally rotated (degrees) and blurred."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    bg = (250, 245, 230)
    img = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(cjk_font(), font_size)
    y = (size[1] - len(lines) * font_size * 1.4) / 2
    for line in lines:
        width = draw.textlength(line, font=font)
        draw.text(((size[0] - width) / 2, y), line, font=font, fill=(20, 20, 20))
        y += font_size * 1.4
    if angle:
        img = img.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=bg)
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    return np.array(img, dtype=np.uint8)


def espeak(text: str, path: Path, *, speed: int = 140) -> Path:
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng not installed (scripts/apt-packages.txt)")
    subprocess.run([exe, "-v", "en-us", "-s", str(speed), "-w", str(path), text],
                   check=True, capture_output=True, timeout=60)
    return path


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


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    noise = noise[: len(clean)].astype(np.float64)
    gain = np.sqrt(np.sum(clean.astype(np.float64) ** 2) / np.sum(noise**2) / 10 ** (snr_db / 10))
    mixed: np.ndarray = (clean + gain * noise).astype(np.float32)
    return mixed
