"""Measure the speech recognisers on real recorded speech: WER/CER, speed, memory, noise, and
the transcript confidence (and fit its calibration).

Usage::

    .venv/bin/python scripts/measure_speech.py [--out docs/reports/speech] [--fit] [--quick]

The corpus is real human speech with reference transcripts, from registry packages
(``scripts/speech_corpus.py`` fetches and pins them). For every recogniser (Whisper tiny.en,
Whisper base, PocketSphinx) on the same utterances, in one run:

* WER (English) or CER (Chinese) with ``jiwer``, after the same normalisation for all
  (lower case, no punctuation, simplified characters);
* real-time factor (decode seconds / audio seconds) on the profile's 2 threads, and peak RSS
  (each recogniser in its own process, ``VmHWM``);
* the same at 10 dB and 0 dB SNR, the noise being *other speakers* of the corpus (babble) plus
  pink noise, with no front-end, RNNoise and DeepFilterNet3 in front;
* the transcript confidence: AUROC for "this utterance's WER ≤ 0.2" on held-out speakers.

``--fit`` fits the calibration of each Whisper model on half the speakers (all conditions) and
writes ``edgesdk/local/calibrations/<model>.json``; the AUROC reported is on the other half.
Writes ``speech.json``, ``speech.md`` and ``speech.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speech_corpus import Utterance, load_corpus

from edgesdk.catalog import Catalog
from edgesdk.local.audio import SileroVAD, to_mono16k
from edgesdk.local.whisper import (
    CALIBRATIONS,
    FEATURES,
    TranscriptCalibration,
    WhisperASR,
    evidence_features,
)
from edgesdk.testing.media import babble_noise, mix_at_snr

RECOGNISERS = ("asr-whisper-tiny-en", "asr-whisper-base", "pocketsphinx")
CONDITIONS = (("clean", None, "none"), ("10 dB", 10.0, "none"), ("10 dB", 10.0, "rnnoise"),
              ("10 dB", 10.0, "deepfilternet3"), ("0 dB", 0.0, "none"),
              ("0 dB", 0.0, "rnnoise"), ("0 dB", 0.0, "deepfilternet3"))
GOOD_WER = 0.2
"""A transcript is 'right enough to answer' at WER (CER for Chinese) ≤ this."""
PUNCT = re.compile(r"[^\w\s']|_", re.UNICODE)


# ---------------------------------------------------------------------- scoring


ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen"]
TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
FILLERS = frozenset({"uh", "um", "hm", "hmm", "mhm", "er", "ah", "eh"})
ZH_DIGITS = str.maketrans("0123456789", "零一二三四五六七八九")


def spoken(n: int) -> str:
    """An integer below a million in words ("ten", "four hundred fifteen")."""
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        return ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + spoken(n % 100))
    return spoken(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + spoken(n % 1000))


def ordinal(n: int) -> str:
    """"seventieth", "twenty first", "third"."""
    words = spoken(n).split()
    last = {"one": "first", "two": "second", "three": "third", "five": "fifth",
            "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}.get(words[-1])
    if last is None:
        last = words[-1][:-1] + "ieth" if words[-1].endswith("y") else words[-1] + "th"
    return " ".join([*words[:-1], last])


def normalise(text: str, lang: str) -> str:
    """The same for reference and hypothesis: lower case, no punctuation, numbers in words,
    no fillers; Chinese in simplified characters, digits as characters, scored per character.
    """
    if lang == "zh":
        from opencc import OpenCC

        text = OpenCC("t2s").convert(text).translate(ZH_DIGITS)
        return "".join(PUNCT.sub("", text).split())
    text = text.lower().replace("’", "'").replace("%", " percent")
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = re.sub(r"(\d+)(?:st|nd|rd|th)\b", lambda m: f" {ordinal(int(m.group(1)))} ", text)
    text = re.sub(r"\d+", lambda m: f" {spoken(int(m.group()))} "
                  if len(m.group()) < 7 else m.group(), text)
    text = PUNCT.sub(" ", text)
    return " ".join(w for w in (w.strip("'") for w in text.split()) if w and w not in FILLERS)


def error_rate(ref: str, hyp: str, lang: str) -> float:
    import jiwer

    r, h = normalise(ref, lang), normalise(hyp, lang)
    if not r:
        return 0.0 if not h else 1.0
    if lang == "zh":
        return float(jiwer.cer(r, h if h else ""))
    return float(jiwer.wer(r, h if h else ""))


def pooled_rate(rows: Sequence[dict[str, Any]]) -> float:
    """Errors over reference units, pooled (each utterance weighs by its length)."""
    units = sum(r["ref_units"] for r in rows)
    return sum(r["rate"] * r["ref_units"] for r in rows) / max(units, 1)


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    from edgesdk.routing.fitting.metrics import auroc as _auroc

    if len(set(labels)) < 2:
        return None
    return float(_auroc(np.asarray(scores), np.asarray(labels)))


# ---------------------------------------------------------------------- audio conditions


def noisy(utt: Utterance, samples: np.ndarray, snr: float | None,
          others: Sequence[np.ndarray], seed: int) -> np.ndarray:
    """``samples`` at ``snr`` dB against babble of three other speakers plus pink noise."""
    if snr is None:
        return samples
    rng = np.random.default_rng(seed)
    babble = np.zeros(samples.size, np.float32)
    for other in rng.choice(len(others), size=min(3, len(others)), replace=False):
        clip = np.resize(others[other], samples.size)
        babble += clip / (np.sqrt(np.mean(clip.astype(np.float64) ** 2)) + 1e-9)
    pink = np.resize(babble_noise(samples.size / 16000 + 0.01, seed=seed), samples.size)
    noise = babble / 3 + 0.5 * pink
    return np.clip(mix_at_snr(samples, noise.astype(np.float32), snr), -1.0, 1.0)


def front_end(name: str, catalog: Catalog) -> Callable[[np.ndarray], np.ndarray]:
    if name == "none":
        return lambda x: x
    if name == "rnnoise":
        from edgesdk.local.denoise import RNNoiseDenoiser

        den = RNNoiseDenoiser.load(catalog=catalog)
    else:
        from edgesdk.local.deepfilter import DeepFilterNet3

        den = DeepFilterNet3.load(catalog=catalog, threads=2)  # type: ignore[assignment]
    return den.denoise


# ---------------------------------------------------------------------- recognisers


class PocketSphinx:
    """The first recogniser, kept here only as the baseline (read by its own package)."""

    def __init__(self, catalog: Catalog) -> None:
        from pocketsphinx import Decoder

        model = catalog.locate("asr-pocketsphinx-en-us")
        self.decoder = Decoder(hmm=str(model / "en-us"), lm=str(model / "en-us.lm.bin"),
                               dict=str(model / "cmudict-en-us.dict"), loglevel="FATAL")

    def transcribe(self, samples: np.ndarray) -> tuple[str, None]:
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, False, True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return (hyp.hypstr if hyp is not None else ""), None


def recogniser(name: str, catalog: Catalog) -> Callable[[np.ndarray, str], tuple[str, Any]]:
    if name == "pocketsphinx":
        ps = PocketSphinx(catalog)
        return lambda samples, lang: ps.transcribe(samples)
    asr = WhisperASR.load(catalog=catalog, model_id=name, language="auto", threads=2,
                          vad=SileroVAD.load(catalog=catalog))

    def run(samples: np.ndarray, lang: str) -> tuple[str, Any]:
        t = asr.transcribe(samples, language=lang)  # type: ignore[arg-type]
        return t.text, t

    return run


def hears(name: str, lang: str) -> bool:
    return lang == "en" or name == "asr-whisper-base"


# ---------------------------------------------------------------------- one recogniser


def run_one(name: str, corpus_dir: Path, quick: bool, noisy_every: int = 1) -> dict[str, Any]:
    """Every utterance the recogniser can hear, in every condition (run in a child process
    so its peak memory is its own)."""
    catalog = Catalog()
    utts = [u for u in load_corpus(corpus_dir) if hears(name, u.lang)]
    if quick:
        utts = utts[::4]
    audio = {u.id: to_mono16k(u.audio) for u in utts}
    by_lang: dict[str, list[np.ndarray]] = defaultdict(list)
    for u in utts:
        by_lang[u.lang].append(audio[u.id])
    transcribe = recogniser(name, catalog)
    transcribe(audio[utts[0].id], utts[0].lang)  # warm-up (lazy allocations)
    rows = []
    for label, snr, fe in CONDITIONS:
        clean = front_end(fe, catalog)
        for i, u in enumerate(utts):
            if snr is not None and i % noisy_every:
                continue  # noise conditions on every n-th utterance (noisy_every=1: all)
            others = [a for a in by_lang[u.lang] if a is not audio[u.id]]
            heard = clean(noisy(u, audio[u.id], snr, others, seed=i))
            started = time.perf_counter()
            text, transcript = transcribe(heard, u.lang)
            seconds = time.perf_counter() - started
            rate = error_rate(u.text, text, u.lang)
            ref_units = len(normalise(u.text, u.lang)) if u.lang == "zh" else len(
                normalise(u.text, u.lang).split())
            row = {"id": u.id, "lang": u.lang, "source": u.source, "speaker": u.speaker,
                   "condition": label, "front_end": fe, "ref": u.text, "hyp": text,
                   "rate": round(rate, 4), "ref_units": ref_units,
                   "audio_s": round(heard.size / 16000, 3), "decode_s": round(seconds, 4)}
            if transcript is not None:
                row["confidence"] = transcript.confidence
                row["features"] = (evidence_features(transcript.evidence)
                                   if transcript.evidence is not None else None)
            rows.append(row)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return {"recogniser": name, "rows": rows, "peak_rss_mb": int(peak)}


# ---------------------------------------------------------------------- calibration


def fit_calibration(name: str, rows: Sequence[dict[str, Any]], fit_speakers: set[str]
                    ) -> tuple[TranscriptCalibration, dict[str, Any]]:
    from edgesdk.routing.fitting.logistic import fit_logistic

    usable = [r for r in rows if r.get("features") is not None]
    fit = [r for r in usable if r["speaker"] in fit_speakers]
    held = [r for r in usable if r["speaker"] not in fit_speakers]
    x = np.asarray([r["features"] for r in fit], dtype=np.float64)
    y = np.asarray([r["rate"] <= GOOD_WER for r in fit], dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    weights, bias = fit_logistic((x - mean) / scale, y, l2=1.0)
    cal = TranscriptCalibration(model_id=name, mean=tuple(map(float, mean)),
                                scale=tuple(map(float, scale)),
                                weights=tuple(map(float, weights)), bias=float(bias),
                                fitted_on=(f"{len(fit)} utterance-conditions of "
                                           f"{len(fit_speakers)} speakers, "
                                           "scripts/measure_speech.py"))
    labels = [r["rate"] <= GOOD_WER for r in held]
    naive = auroc([r["features"][0] for r in held], labels)
    report = {"fit_rows": len(fit), "held_rows": len(held),
              "held_good_share": round(float(np.mean(labels)), 3) if labels else None,
              "auroc_held_out": auroc([cal.probability_of(r["features"]) for r in held], labels),
              "auroc_avg_logprob_alone": naive,
              "weights": dict(zip(FEATURES, map(float, weights)))}
    return cal, report


# ---------------------------------------------------------------------- report


def summarise(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    table = []
    for res in results:
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
        for r in res["rows"]:
            groups[(r["lang"], r["condition"], r["front_end"])].append(r)
        for (lang, cond, fe), rows in sorted(groups.items()):
            table.append({
                "recogniser": res["recogniser"], "lang": lang, "condition": cond,
                "front_end": fe, "utterances": len(rows),
                "audio_min": round(sum(r["audio_s"] for r in rows) / 60, 2),
                "metric": "CER" if lang == "zh" else "WER",
                "rate": round(pooled_rate(rows), 4),
                "good_share": round(float(np.mean([r["rate"] <= GOOD_WER for r in rows])), 3),
                "rtf": round(sum(r["decode_s"] for r in rows)
                             / max(sum(r["audio_s"] for r in rows), 1e-9), 3),
                "peak_rss_mb": res["peak_rss_mb"],
            })
    return table


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Speech recognition on real speech ({report['date']})", "",
             f"Corpus: {report['corpus']['summary']}", "",
             "| recogniser | lang | condition | front end | utts | min | metric | rate | "
             "share ≤ 0.2 | RTF | peak RSS MB |", "|---|---|---|---|---:|---:|---|---:|---:|"
             "---:|---:|"]
    for t in report["table"]:
        lines.append(f"| {t['recogniser']} | {t['lang']} | {t['condition']} | {t['front_end']}"
                     f" | {t['utterances']} | {t['audio_min']} | {t['metric']} | "
                     f"{t['rate']:.3f} | {t['good_share']:.2f} | {t['rtf']:.3f} | "
                     f"{t['peak_rss_mb']} |")
    lines += ["", "Transcript confidence (calibrated P(WER ≤ 0.2)), held-out speakers:", "",
              "| model | fit rows | held-out rows | share good | AUROC | AUROC of avg log-prob "
              "alone |", "|---|---:|---:|---:|---:|---:|"]
    for name, c in report["calibration"].items():
        lines.append(f"| {name} | {c['fit_rows']} | {c['held_rows']} | {c['held_good_share']} "
                     f"| {c['auroc_held_out']:.3f} | {c['auroc_avg_logprob_alone']:.3f} |")
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [t for t in report["table"] if t["front_end"] == "none"]
    fig, ax = plt.subplots(figsize=(7, 4))
    for (name, lang) in sorted({(t["recogniser"], t["lang"]) for t in rows}):
        pts = [t for t in rows if t["recogniser"] == name and t["lang"] == lang]
        order = {"clean": 0, "10 dB": 1, "0 dB": 2}
        pts.sort(key=lambda t: order[t["condition"]])
        ax.plot([t["condition"] for t in pts], [t["rate"] for t in pts], marker="o",
                label=f"{name} ({lang}, {pts[0]['metric']})")
    ax.set_ylabel("error rate (pooled)")
    ax.set_title("Real speech: error rate by noise (no front end)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/reports/speech"))
    parser.add_argument("--fit", action="store_true", help="write the calibrations")
    parser.add_argument("--quick", action="store_true", help="a quarter of the utterances")
    parser.add_argument("--noisy-every", type=int, default=1,
                        help="noise conditions on every n-th utterance only (clean: all)")
    parser.add_argument("--only", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from speech_corpus import fetch_corpus

    corpus_dir, summary = fetch_corpus()
    if args.only:  # the child process: one recogniser, results on stdout
        print(json.dumps(run_one(args.only, corpus_dir, args.quick, args.noisy_every)))
        return 0
    results = []
    raw = args.out / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in RECOGNISERS:  # each in its own process; kept, so a re-run can resume
        saved = raw / f"{name}{'-quick' if args.quick else ''}.json"
        if not saved.is_file():
            cmd = [sys.executable, __file__, "--only", name,
                   f"--noisy-every={args.noisy_every}"] + (["--quick"] if args.quick else [])
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
            saved.write_text(done.stdout.strip().splitlines()[-1])
        results.append(json.loads(saved.read_text()))
        print(f"{name}: {len(results[-1]['rows'])} transcripts", file=sys.stderr)
    speakers = sorted({r["speaker"] for res in results for r in res["rows"]})
    fit_speakers = set(speakers[::2])
    calibration = {}
    for res in results:
        if res["recogniser"] == "pocketsphinx":
            continue
        cal, rep = fit_calibration(res["recogniser"], res["rows"], fit_speakers)
        calibration[res["recogniser"]] = rep
        if args.fit:
            (CALIBRATIONS / f"{res['recogniser']}.json").write_text(cal.to_json())
    report = {"date": time.strftime("%Y-%m-%d"), "corpus": summary, "table": summarise(results),
              "calibration": calibration, "good_wer": GOOD_WER,
              "rows": {res["recogniser"]: res["rows"] for res in results}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speech.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    (args.out / "speech.md").write_text(markdown(report))
    plot(report, args.out / "speech.png")
    sys.stdout.write(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
