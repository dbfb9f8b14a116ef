"""Turn whatever an app hands us (path, bytes, numpy array, PIL image) into one RGB uint8 array.

Every detector wants the same thing — an ``H x W x 3`` ``uint8`` RGB array — and every kind of
bad input should fail here, as :class:`~edgesdk.errors.InvalidImage`, before a tensor runtime
sees it. Documented conversions (so callers know what happens to their pixels):

* grey, grey+alpha, palette, CMYK and RGBA images are converted to RGB (alpha is dropped onto
  black, as PIL does); 16-bit and float arrays are rescaled to 0..255;
* the EXIF orientation tag is applied, so boxes match what a viewer shows;
* images above :data:`MAX_PIXELS` are refused (a decompression bomb would exhaust a watch's
  memory); images whose shorter side is below :data:`MIN_SIDE` pixels are refused.

Detectors resize internally; boxes they return are in the pixels of the array returned here.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import numpy.typing as npt

from edgesdk.errors import InvalidImage, MissingExtra

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

ImageInput = Union[str, Path, bytes, bytearray, npt.NDArray[Any], "PILImage"]
RGB = npt.NDArray[np.uint8]

MAX_PIXELS = 40_000_000
MIN_SIDE = 8


def _pil() -> Any:
    try:
        from PIL import Image, ImageOps
    except ImportError as exc:
        raise MissingExtra(module="PIL", extra="vision", purpose="decoding images") from exc
    return Image, ImageOps


def to_rgb(image: ImageInput) -> RGB:
    """Decode/convert ``image`` to a contiguous ``H x W x 3`` uint8 RGB array."""
    if isinstance(image, np.ndarray):
        return _check(_array_to_rgb(image))
    Image, ImageOps = _pil()
    if isinstance(image, Image.Image):
        return _check(_pil_to_rgb(image, ImageOps))
    if isinstance(image, (bytes, bytearray)):
        if not image:
            raise InvalidImage("the image is empty (0 bytes); pass a JPEG/PNG/WebP/BMP file")
        source: Any = io.BytesIO(bytes(image))
        name = "image bytes"
    elif isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            raise InvalidImage(f"image file {path} does not exist; check the path")
        if path.stat().st_size == 0:
            raise InvalidImage(f"image file {path} is empty; pass a JPEG/PNG/WebP/BMP file")
        source, name = path, str(path)
    else:
        raise InvalidImage(
            f"unsupported image type {type(image).__name__}; pass a path, bytes, a numpy "
            "HxWx3 uint8 array or a PIL image"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(source)
        with img:
            _check_size(img.width, img.height)
            img.load()
            return _check(_pil_to_rgb(img, ImageOps))
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage(
            f"{name} is larger than {MAX_PIXELS:,} pixels; downscale it before perceiving"
        ) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # PIL's decode errors
        raise InvalidImage(
            f"{name} is not a readable image ({exc}); pass a JPEG/PNG/WebP/BMP file"
        ) from exc


def _pil_to_rgb(img: Any, image_ops: Any) -> RGB:
    img = image_ops.exif_transpose(img)
    if img.mode == "I;16" or img.mode == "I":
        arr = np.asarray(img, dtype=np.float64)
        return _array_to_rgb(arr / max(float(arr.max()), 1.0))
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def _array_to_rgb(arr: npt.NDArray[Any]) -> RGB:
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise InvalidImage(
            f"image array has shape {arr.shape}; expected HxW, HxWx3 (RGB) or HxWx4 (RGBA)"
        )
    _check_size(arr.shape[1], arr.shape[0])
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating):
            if not np.all(np.isfinite(arr)):
                raise InvalidImage("image array contains NaN or infinity")
            top = 1.0 if float(arr.max(initial=0.0)) <= 1.0 else 255.0
            arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        elif np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
            top = 255 if arr.dtype == np.bool_ or int(arr.max(initial=0)) <= 255 else 65535
            scale = 255.0 if arr.dtype == np.bool_ else 255.0 / top
            arr = np.clip(arr.astype(np.float64) * scale + 0.5, 0, 255).astype(np.uint8)
        else:
            raise InvalidImage(f"image array has unsupported dtype {arr.dtype}")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] == 4:
        arr = arr[:, :, :3]
    return np.ascontiguousarray(arr)


def _check_size(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise InvalidImage(
            f"image is {width}x{height} pixels, above the {MAX_PIXELS:,}-pixel limit; "
            "downscale it before perceiving"
        )
    if min(width, height) < MIN_SIDE:
        raise InvalidImage(
            f"image is {width}x{height} pixels; both sides must be at least {MIN_SIDE}"
        )


def _check(arr: RGB) -> RGB:
    _check_size(arr.shape[1], arr.shape[0])
    return arr


def resize(rgb: RGB, width: int, height: int) -> RGB:
    """Bilinear resize with PIL (antialiased when shrinking)."""
    Image, _ = _pil()
    out = Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(out, dtype=np.uint8)


def letterbox(rgb: RGB, size: int) -> tuple[RGB, float, float, float]:
    """Fit ``rgb`` into a ``size`` square keeping aspect; return (square, scale, pad_x, pad_y).

    A source pixel ``(x, y)`` lands at ``(x * scale + pad_x, y * scale + pad_y)``.
    """
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    out = np.zeros((size, size, 3), dtype=np.uint8)
    pad_x, pad_y = (size - nw) // 2, (size - nh) // 2
    out[pad_y:pad_y + nh, pad_x:pad_x + nw] = resize(rgb, nw, nh)
    return out, scale, float(pad_x), float(pad_y)


def image_nbytes(image: ImageInput) -> int:
    """Bytes the caller handed over (file size for paths), for data-volume accounting."""
    if isinstance(image, (bytes, bytearray)):
        return len(image)
    if isinstance(image, (str, Path)):
        try:
            return Path(image).stat().st_size
        except OSError:
            return 0
    if isinstance(image, np.ndarray):
        return int(image.nbytes)
    size = getattr(image, "size", (0, 0))
    return int(size[0]) * int(size[1]) * 3
