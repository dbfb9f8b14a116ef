"""Image and audio decoding: documented conversions and typed errors for bad input."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from edgesdk.errors import InvalidAudio, InvalidImage, MissingExtra, ModelLoadError
from edgesdk.local.audio import resample, to_mono16k, to_wav_bytes
from edgesdk.local.images import MAX_PIXELS, image_nbytes, letterbox, to_rgb

Image = pytest.importorskip("PIL.Image")


def _png(img: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")  # type: ignore[attr-defined]
    return buf.getvalue()


def test_every_image_kind_becomes_rgb_uint8(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    assert np.array_equal(to_rgb(rgb), rgb)
    assert np.array_equal(to_rgb(Image.fromarray(rgb)), rgb)
    assert np.array_equal(to_rgb(_png(Image.fromarray(rgb))), rgb)
    path = tmp_path / "x.png"
    path.write_bytes(_png(Image.fromarray(rgb)))
    assert np.array_equal(to_rgb(path), rgb) and np.array_equal(to_rgb(str(path)), rgb)
    assert to_rgb(rgb[:, :, 0]).shape == (20, 30, 3)  # grey
    assert to_rgb(np.dstack([rgb, rgb[:, :, :1]])).shape == (20, 30, 3)  # RGBA
    assert to_rgb(_png(Image.fromarray(rgb).convert("P"))).shape == (20, 30, 3)  # palette
    assert to_rgb(np.ones((20, 30, 3), np.float32)).max() == 255  # float 0..1
    assert to_rgb(np.full((20, 30), 65535, np.uint16)).max() == 255  # 16-bit


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° when shown
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    assert to_rgb(buf.getvalue()).shape == (40, 20, 3)


@pytest.mark.parametrize(
    "bad",
    [b"", b"GIF89a garbage", bytearray(b"\x00" * 10), np.zeros((5, 5, 2), np.uint8),
     np.zeros((2, 40, 3), np.uint8), np.full((10, 10), np.nan), "no/such/file.png", 42],
)
def test_bad_images_raise_invalid_image(bad: object) -> None:
    with pytest.raises(InvalidImage):
        to_rgb(bad)  # type: ignore[arg-type]


def test_huge_images_are_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    Image.new("1", (10_000, MAX_PIXELS // 10_000 + 10)).save(path)
    with pytest.raises(InvalidImage, match="downscale"):
        to_rgb(path)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(InvalidImage, match="empty"):
        to_rgb(empty)
    assert image_nbytes(path) == path.stat().st_size


def test_letterbox_maps_source_pixels() -> None:
    img = np.zeros((100, 200, 3), np.uint8)
    square, scale, pad_x, pad_y = letterbox(img, 128)
    assert square.shape == (128, 128, 3)
    assert scale == pytest.approx(0.64) and pad_x == 0 and pad_y == 32


def _wav(samples: np.ndarray, rate: int, channels: int, width: int = 2) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 1:
            w.writeframes((samples * 127 + 128).astype(np.uint8).tobytes())
        else:
            w.writeframes((samples * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def test_audio_conversions() -> None:
    t = np.arange(16_000) / 16_000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    assert np.allclose(to_mono16k(to_wav_bytes(tone)), tone, atol=1e-4)
    assert np.allclose(to_mono16k((tone * 32767).astype(np.int16)), tone, atol=1e-4)
    stereo = np.stack([tone, -tone], axis=1).ravel()
    assert np.allclose(to_mono16k(_wav(stereo, 16_000, 2)), 0.0, atol=1e-4)  # channel mean
    tone48 = (0.5 * np.sin(2 * np.pi * 440 * np.arange(48_000) / 48_000)).astype(np.float32)
    down = to_mono16k(_wav(tone48, 48_000, 1))
    assert len(down) == 16_000
    assert np.allclose(down[100:-100], tone[100:-100], atol=0.01)
    assert len(to_mono16k(_wav(tone, 8_000, 1, width=1))) == 32_000
    assert len(resample(tone, 16_000, 44_100)) == 44_100
    assert to_mono16k(np.full(10, 3.0, np.float32)).max() == 1.0  # clipped


@pytest.mark.parametrize(
    "bad",
    [b"", b"RIFF\x00\x00\x00\x00WAVEfmt junk", np.zeros((100, 2), np.float32),
     np.zeros(0, np.float32), np.array([np.inf], np.float32), np.zeros(5, np.int64),
     "no/such.wav", 3.5],
)
def test_bad_audio_raises_invalid_audio(bad: object) -> None:
    with pytest.raises(InvalidAudio):
        to_mono16k(bad)  # type: ignore[arg-type]


def test_runtime_seams_translate_errors(tmp_path: Path) -> None:
    from edgesdk.local.runtimes import OnnxModel, _import

    with pytest.raises(MissingExtra, match=r"edgesdk\[vision\]"):
        _import("edgesdk_no_such_module", extra="vision", purpose="a test")
    pytest.importorskip("onnxruntime")
    garbage = tmp_path / "bad.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="models fetch"):
        OnnxModel(path=garbage, threads=1)
