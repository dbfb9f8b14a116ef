"""Real test media for apps, tests and the demo: photos, rendered signs, synthesised speech.

Perception must be exercised on inputs the models have never seen, made on the machine:
photos from scikit-image's data folder (astronaut: one face; chelsea: a cat; coffee: a cup),
signs rendered with PIL in a CJK font from Debian (``fonts-wqy-zenhei``), and speech from
Debian's ``espeak-ng``. A missing tool raises :class:`MediaUnavailable` naming the package to
install, so tests can skip with that reason and the demo can say what to do.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edgesdk.errors import EdgeSDKError

CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
RGB = npt.NDArray[np.uint8]


class MediaUnavailable(EdgeSDKError):
    code = "media_unavailable"


def cjk_font() -> str:
    for font in CJK_FONTS:
        if Path(font).exists():
            return font
    raise MediaUnavailable("no CJK font found; install one: apt-get install fonts-wqy-zenhei")


def photo(name: str) -> RGB:
    """A scikit-image sample photo by name (``astronaut``, ``chelsea``, ``coffee``, ...)."""
    try:
        from skimage import data as skdata
    except ImportError as exc:
        raise MediaUnavailable("sample photos need scikit-image: pip install scikit-image") \
            from exc
    image: RGB = np.asarray(getattr(skdata, name)(), dtype=np.uint8)
    return image


def sign(lines: list[str], *, size: tuple[int, int] = (640, 360), font_size: int = 48,
         angle: float = 0.0, blur: float = 0.0) -> RGB:
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


def jpeg(image: RGB, *, quality: int = 85) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def espeak(text: str, path: Path, *, speed: int = 140, voice: str = "en-us") -> Path:
    """Synthesise ``text`` to a WAV file with espeak-ng."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise MediaUnavailable("speech synthesis needs espeak-ng: apt-get install espeak-ng")
    subprocess.run([exe, "-v", voice, "-s", str(speed), "-w", str(path), text],
                   check=True, capture_output=True, timeout=60)
    return path


def read_wav_16k(path: Path) -> npt.NDArray[np.float32]:
    """Mono float32 samples at 16 kHz from a 16-bit WAV (resampled linearly if needed)."""
    with wave.open(str(path), "rb") as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        raw = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    samples = raw.reshape(-1, channels).mean(axis=1).astype(np.float32) / 32768.0
    if rate != 16000:
        n = round(len(samples) * 16000 / rate)
        samples = np.interp(np.linspace(0, len(samples) - 1, n), np.arange(len(samples)),
                            samples).astype(np.float32)
    out: npt.NDArray[np.float32] = samples
    return out


def wav_bytes(samples: npt.NDArray[np.float32], *, rate: int = 16000) -> bytes:
    """16-bit mono WAV bytes of float samples in [-1, 1]."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())
    return buf.getvalue()


def mix_at_snr(clean: npt.NDArray[np.float32], noise: npt.NDArray[np.float32],
               snr_db: float) -> npt.NDArray[np.float32]:
    """``clean`` plus ``noise`` scaled so the mix has the given signal-to-noise ratio."""
    noise64 = np.resize(noise, len(clean)).astype(np.float64)
    gain = np.sqrt(np.sum(clean.astype(np.float64) ** 2) / np.sum(noise64**2)
                   / 10 ** (snr_db / 10))
    mixed: npt.NDArray[np.float32] = (clean + gain * noise64).astype(np.float32)
    return mixed


def babble_noise(seconds: float, *, seed: int = 0) -> npt.NDArray[np.float32]:
    """Pink-ish background noise (a street or café), deterministic for a seed."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(int(seconds * 16000))
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(white.size, 1 / 16000)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))
    pink = np.fft.irfft(spectrum, n=white.size)
    out: npt.NDArray[np.float32] = (pink / np.abs(pink).max() * 0.3).astype(np.float32)
    return out


BECKETT_TEXT = "Ever tried. Ever failed. No matter. Try again. Fail again. Fail better."


def recorded_speech(cache: Path) -> Path:
    """A real 10 s recording (``BECKETT_TEXT``) from the ``useful-moonshine-onnx`` wheel,
    downloaded once with pip into ``cache``; ``MediaUnavailable`` when the registry cannot be
    reached."""
    import sys
    import zipfile

    target = cache / "beckett.wav"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / "dl"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d",
                        str(tmp), "useful-moonshine-onnx==20251121"],
                       check=True, capture_output=True, timeout=300)
        with zipfile.ZipFile(next(tmp.glob("*.whl"))) as zf:
            target.write_bytes(zf.read("moonshine_onnx/assets/beckett.wav"))
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, StopIteration) as exc:
        raise MediaUnavailable(f"could not download the speech sample: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target

