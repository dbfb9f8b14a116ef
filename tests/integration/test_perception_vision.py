"""Real vision models on real pictures: scikit-image photos and signs rendered here."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from perception_media import sign

from edgesdk.catalog import Catalog
from edgesdk.config import Settings
from edgesdk.devices import get_profile
from edgesdk.errors import InvalidImage
from edgesdk.local.perceive import PerceptionSuite, build_perceivers
from edgesdk.types import DetectedObject, Face, TextLine

pytestmark = pytest.mark.integration
T = TypeVar("T")
skdata = pytest.importorskip("skimage.data")

REAL_HOME = Path(os.environ.get("EDGESDK_HOME", Path.home() / ".cache" / "edgesdk"))
VISION_MODELS = ("face-blazeface-short", "objects-ssd-mobilenetv2-oidv4", "objects-oidv4-labels",
                 "ocr-ppocrv4-det", "ocr-ppocrv4-rec", "ocr-ppocr-cls")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    cat = Catalog(settings=Settings(home=REAL_HOME))
    missing = [m for m in VISION_MODELS if not cat.path_of(m).exists()]
    if missing:
        pytest.skip(f"models {missing} not fetched; run: edgesdk models fetch")
    return cat


@pytest.fixture(scope="module")
def suite(catalog: Catalog) -> PerceptionSuite:
    return build_perceivers(get_profile("glasses"), catalog=catalog,
                            names=["faces", "objects", "ocr"])


def _of(kind: type[T], percepts: list[Any]) -> list[T]:
    return [p for p in percepts if isinstance(p, kind)]


def test_astronaut_has_exactly_one_face_in_the_right_place(suite: PerceptionSuite) -> None:
    faces = _of(Face, suite.perceive(image=skdata.astronaut()).percepts)
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    assert faces[0].score > 0.8
    # Eileen Collins' face sits roughly at x 170-280, y 70-180 of the 512x512 photo
    assert 150 < (x0 + x1) / 2 < 260 and 90 < (y0 + y1) / 2 < 170
    assert 60 < x1 - x0 < 160
    assert len(faces[0].keypoints) == 6


def test_the_cat_and_the_coffee_cup_are_found_without_faces(suite: PerceptionSuite) -> None:
    cat = suite.perceive(image=skdata.chelsea()).percepts
    assert "Cat" in [o.label for o in _of(DetectedObject, cat)]
    assert not _of(Face, cat)
    cup = suite.perceive(image=skdata.coffee()).percepts
    labels = [o.label for o in _of(DetectedObject, cup)]
    assert "Coffee cup" in labels or "Mug" in labels
    assert not _of(Face, cup)


def test_boxes_are_in_source_pixels_after_scaling(suite: PerceptionSuite) -> None:
    from PIL import Image

    img = Image.fromarray(skdata.chelsea())
    small = next(o for o in _of(DetectedObject, suite.perceive(image=img).percepts)
                 if o.label == "Cat")
    big_img = img.resize((img.width * 2, img.height * 2))
    big = next(o for o in _of(DetectedObject, suite.perceive(image=big_img).percepts)
               if o.label == "Cat")
    assert np.allclose(np.array(big.box) / 2, small.box, atol=12)


@pytest.mark.parametrize(
    ("lines", "angle", "blur"),
    [
        (["EXIT ONLY", "Platform 3"], 0.0, 0.0),
        (["出口", "禁止吸烟"], 0.0, 0.0),
        (["Coffee shop open 7am-9pm"], 5.0, 1.0),
        (["北京南站 Beijing South"], -4.0, 1.2),
        (["Hello world"], 180.0, 0.0),
    ],
)
def test_reads_english_and_chinese_signs(
    suite: PerceptionSuite, lines: list[str], angle: float, blur: float
) -> None:
    texts = _of(TextLine, suite.perceive(image=sign(lines, angle=angle, blur=blur)).percepts)
    read = " ".join(t.text for t in texts).replace(" ", "")
    assert read == "".join(lines).replace(" ", "")
    assert all(t.score > 0.8 for t in texts)


def test_text_boxes_cover_the_text(suite: PerceptionSuite) -> None:
    texts = _of(TextLine, suite.perceive(image=sign(["出口"], font_size=64)).percepts)
    assert [t.text for t in texts] == ["出口"]
    x0, y0, x1, y1 = texts[0].box
    assert x0 < 320 < x1 and y0 < 180 < y1
    assert 80 < x1 - x0 < 220


def test_encoded_jpeg_and_grey_page(suite: PerceptionSuite) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(sign(["STOP"], font_size=72)).save(buf, format="JPEG", quality=80)
    result = suite.perceive(image=buf.getvalue())
    assert [t.text for t in _of(TextLine, result.percepts)] == ["STOP"]
    assert result.observed_bytes == len(buf.getvalue())
    page = _of(TextLine, suite.perceive(image=skdata.page()).percepts)  # greyscale scan
    assert any("segmentation" in t.text for t in page)


def test_bad_images_raise_typed_errors(suite: PerceptionSuite, tmp_path: Path) -> None:
    for bad in (b"", b"\x89PNG\r\n\x1a\n broken", np.zeros((0, 10, 3), np.uint8),
                np.zeros((4, 4, 5), np.uint8), tmp_path / "missing.jpg"):
        with pytest.raises(InvalidImage):
            suite.perceive(image=bad)
    from PIL import Image

    truncated = io.BytesIO()
    Image.fromarray(skdata.astronaut()).save(truncated, format="JPEG")
    with pytest.raises(InvalidImage):
        suite.perceive(image=truncated.getvalue()[:2000])
    huge = tmp_path / "huge.png"
    Image.new("L", (9000, 5000)).save(huge)
    with pytest.raises(InvalidImage, match="downscale"):
        suite.perceive(image=huge)


def test_extreme_shapes_do_not_exhaust_memory(suite: PerceptionSuite) -> None:
    rng = np.random.default_rng(0)
    for shape in ((5000, 8, 3), (8, 5000, 3), (8, 8, 3), (3000, 4000, 3)):
        result = suite.perceive(image=rng.integers(0, 255, shape, dtype=np.uint8))
        assert not [p for p in result.percepts if isinstance(p, Face)]


def test_cli_perceive_prints_percepts_json(
    catalog: Catalog, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from PIL import Image

    from edgesdk.cli import main

    monkeypatch.setenv("EDGESDK_HOME", str(catalog.store.parent))
    path = tmp_path / "astronaut.png"
    Image.fromarray(skdata.astronaut()).save(path)
    assert main(["perceive", str(path), "--json", "--only", "faces"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [p["kind"] for p in out["percepts"]] == ["face"]
    assert set(out["percepts"][0]) == {"kind", "score", "box"}
    sign_path = tmp_path / "sign.png"
    Image.fromarray(sign(["出口 EXIT"], angle=3)).save(sign_path)
    assert main(["perceive", str(sign_path), "--json", "--only", "ocr"]) == 0
    texts = [p["text"] for p in json.loads(capsys.readouterr().out)["percepts"]]
    assert "".join(texts).replace(" ", "") == "出口EXIT"
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    assert main(["perceive", str(bad), "--only", "faces"]) == 2
