"""Real audio models on real speech: espeak-ng synthesis and a recorded clip from PyPI.

The recogniser is Whisper (tiny.en for the glasses, base where Chinese is heard); WER on the
real-speech corpora is measured by ``scripts/measure_speech.py``, not asserted here.
"""

from __future__ import annotations

import io
import json
import os
import wave
from pathlib import Path

import numpy as np
import pytest
from perception_media import beckett_wav, espeak, mix_at_snr

from edgesdk.catalog import Catalog
from edgesdk.config import Settings
from edgesdk.errors import InvalidAudio
from edgesdk.local.audio import SileroVAD, WakeWordDetector, to_mono16k, to_wav_bytes
from edgesdk.local.deepfilter import DeepFilterNet3
from edgesdk.local.denoise import RNNoiseDenoiser, snr_db
from edgesdk.local.perceive import PerceptionSuite, build_perceivers
from edgesdk.types import Speech, Transcript, WakeWord

pytestmark = pytest.mark.integration

REAL_HOME = Path(os.environ.get("EDGESDK_HOME", Path.home() / ".cache" / "edgesdk"))
AUDIO_MODELS = ("vad-silero", "wakeword-alexa", "wakeword-okay-nabu", "wakeword-hey-jarvis",
                "wakeword-hey-mycroft", "denoise-rnnoise", "denoise-deepfilternet3",
                "asr-whisper-tiny-en", "asr-whisper-base")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    cat = Catalog(settings=Settings(home=REAL_HOME))
    missing = [m for m in AUDIO_MODELS if not cat.path_of(m).exists()]
    if missing:
        pytest.skip(f"models {missing} not fetched; run: edgesdk models fetch")
    return cat


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("speech")
    return {
        "alexa": espeak("Alexa, what is the weather today?", d / "alexa.wav"),
        "fox": espeak("The quick brown fox jumps over the lazy dog", d / "fox.wav"),
        "beckett": beckett_wav(),
    }


@pytest.fixture(scope="module")
def suite(catalog: Catalog) -> PerceptionSuite:
    from edgesdk.devices import get_profile

    return build_perceivers(get_profile("glasses"), catalog=catalog,
                            names=["vad", "wakeword", "denoise", "asr"])


def test_vad_finds_speech_and_not_noise(catalog: Catalog, media: dict[str, Path]) -> None:
    vad = SileroVAD.load(catalog=catalog)
    speech = vad.speech(to_mono16k(media["beckett"]))
    assert speech.score > 0.8 and len(speech.segments) >= 4
    assert all(0 <= s.start_s < s.end_s <= 10.0 for s in speech.segments)
    rng = np.random.default_rng(0)
    assert vad.speech(rng.normal(0, 0.05, 48_000).astype(np.float32)).segments == ()
    assert vad.speech(np.zeros(16_000, np.float32)).segments == ()


def test_vad_streaming_matches_offline(catalog: Catalog, media: dict[str, Path]) -> None:
    vad = SileroVAD.load(catalog=catalog)
    samples = to_mono16k(media["fox"])
    offline = vad.probabilities(samples)
    vad.reset()
    streamed = [vad.process_frame(samples[i:i + 512]) for i in range(0, len(samples), 512)]
    assert np.allclose(offline, streamed, atol=1e-5)


def test_wake_word_fires_only_for_its_word(catalog: Catalog, media: dict[str, Path]) -> None:
    alexa = WakeWordDetector.load(catalog=catalog, word="alexa")
    found = alexa.detect(to_mono16k(media["alexa"]))
    assert found is not None and found.name == "Alexa" and found.score > 0.9
    assert 0.3 < found.at_s < 1.5
    assert alexa.detect(to_mono16k(media["fox"])) is None
    assert alexa.detect(to_mono16k(media["beckett"])) is None
    jarvis = WakeWordDetector.load(catalog=catalog, word="hey_jarvis")
    assert jarvis.detect(to_mono16k(media["alexa"])) is None


def test_wake_word_streaming_in_small_chunks(catalog: Catalog, media: dict[str, Path]) -> None:
    det = WakeWordDetector.load(catalog=catalog, word="alexa")
    samples = to_mono16k(media["alexa"])
    whole = max(p for _, p in det.process(samples))
    det.reset()
    scores = [p for i in range(0, len(samples), 100) for _, p in det.process(samples[i:i + 100])]
    assert max(scores) == pytest.approx(whole, abs=1e-6)


def test_rnnoise_improves_snr_on_noisy_speech(catalog: Catalog, media: dict[str, Path]) -> None:
    den = RNNoiseDenoiser.load(catalog=catalog)
    clean = to_mono16k(media["beckett"])
    rng = np.random.default_rng(1)
    white = rng.normal(0, 1, len(clean))
    hum = np.sin(2 * np.pi * 120 * np.arange(len(clean)) / 16_000) + 0.5 * white
    for noise in (white, hum):
        noisy = mix_at_snr(clean, noise, 6.0)
        out = den.denoise(noisy)
        assert len(out) == len(noisy)
        assert snr_db(clean, out) > snr_db(clean, noisy) + 3.0


def test_deepfilternet3_improves_snr_more_than_rnnoise(
    catalog: Catalog, media: dict[str, Path]
) -> None:
    dfn = DeepFilterNet3.load(catalog=catalog)
    rnn = RNNoiseDenoiser.load(catalog=catalog)
    clean = to_mono16k(media["beckett"])
    noisy = mix_at_snr(clean, np.random.default_rng(3).normal(0, 1, len(clean)), 6.0)
    out = dfn.denoise(noisy)
    assert len(out) == len(noisy)
    gain = snr_db(clean, out) - snr_db(clean, noisy)
    assert gain > 4.0
    assert gain > snr_db(clean, rnn.denoise(noisy)) - snr_db(clean, noisy)
    assert np.abs(dfn.denoise(np.zeros(4000, np.float32))).max() < 1e-3


def test_rnnoise_streams_in_any_chunk_size(catalog: Catalog, media: dict[str, Path]) -> None:
    den = RNNoiseDenoiser.load(catalog=catalog)
    samples = to_mono16k(media["fox"])[:8000]
    whole = den.process(samples)
    for size in (1, 160, 333):
        den.reset()
        parts = [den.process(samples[i:i + size]) for i in range(0, len(samples), size)]
        assert all(len(p) == len(samples[i:i + size]) for p, i in
                   zip(parts, range(0, len(samples), size)))
        assert np.allclose(np.concatenate(parts), whole, atol=1e-6)
    assert den.process(np.zeros(0, np.float32)).size == 0


def test_whisper_transcribes_real_and_synthetic_speech(
    catalog: Catalog, media: dict[str, Path]
) -> None:
    from edgesdk.local.whisper import WhisperASR

    vad = SileroVAD.load(catalog=catalog)
    tiny = WhisperASR.load(catalog=catalog, model_id="asr-whisper-tiny-en", vad=vad)
    beckett = tiny.transcribe(to_mono16k(media["beckett"]))
    assert beckett.text == ("Ever tried. Ever failed. No matter. Try again. Fail again. "
                            "Fail better.")
    assert beckett.language == "en" and 0.0 < beckett.confidence <= 1.0
    words = [w for seg in beckett.segments for w in seg.words]
    assert len(words) == 12 and all(0.0 <= w.start_s < w.end_s <= 10.0 for w in words)
    assert [w.start_s for w in words] == sorted(w.start_s for w in words)
    fox = tiny.transcribe(to_mono16k(media["fox"]))
    assert "fox" in fox.text.lower() and "lazy" in fox.text.lower()  # espeak: "round fox"
    base = WhisperASR.load(catalog=catalog, model_id="asr-whisper-base", language="auto",
                           vad=vad)
    heard = base.transcribe(to_mono16k(media["beckett"]))
    assert heard.language == "en" and "try again" in heard.text.lower()


def test_bad_and_odd_audio_never_crashes(catalog: Catalog, media: dict[str, Path],
                                         tmp_path: Path) -> None:
    from edgesdk.local.whisper import WhisperASR

    tiny = WhisperASR.load(catalog=catalog, model_id="asr-whisper-tiny-en",
                           vad=SileroVAD.load(catalog=catalog))
    ten_minutes = np.zeros(600 * 16_000, np.float32)
    quiet = tiny.transcribe(ten_minutes)
    assert quiet.text == "" and quiet.confidence == 0.0  # the VAD found nothing to decode
    clipped = np.clip(to_mono16k(media["fox"]) * 30.0, -1.0, 1.0)
    loud = tiny.transcribe(clipped)
    assert 0.0 <= loud.confidence <= 1.0  # distorted, but heard without an error
    import av

    flac = tmp_path / "fox.flac"  # not WAV: decoded by PyAV (FFmpeg) at its own rate
    with av.open(str(flac), "w") as out:
        stream = out.add_stream("flac", rate=22_050)
        stream.layout = "mono"
        pcm = (to_mono16k(media["fox"]) * 32767).astype("<i2")
        resampled = np.interp(np.linspace(0, pcm.size - 1, int(pcm.size * 22_050 / 16_000)),
                              np.arange(pcm.size), pcm).astype("<i2")
        frame = av.AudioFrame.from_ndarray(resampled[None, :], format="s16", layout="mono")
        frame.sample_rate = 22_050
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    assert "fox" in tiny.transcribe(to_mono16k(flac)).text.lower()
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    for bad in (empty, b"not audio at all" * 10, tmp_path / "missing.flac"):
        with pytest.raises(InvalidAudio):
            to_mono16k(bad)


def test_suite_gates_on_speech_and_transcribes(
    suite: PerceptionSuite, media: dict[str, Path]
) -> None:
    result = suite.perceive(audio=media["alexa"])
    kinds = [p.kind for p in result.percepts]
    assert kinds[0] == "speech" and "wake_word" in kinds and "transcript" in kinds
    assert [p.name for p in result.percepts if isinstance(p, WakeWord)] == ["Alexa"]
    assert "weather today" in (result.transcript or "").lower()  # after the wake word
    assert result.observed_bytes == media["alexa"].stat().st_size
    assert "denoise" not in result.timings  # clean synthetic speech is not denoised
    silence = suite.perceive(audio=np.zeros(32_000, np.float32))
    assert silence.percepts == [] and silence.transcript is None
    assert "asr" not in silence.timings


def test_noisy_speech_reaches_whisper_undenoised(
    suite: PerceptionSuite, media: dict[str, Path]
) -> None:
    clean = to_mono16k(media["beckett"])
    noisy = mix_at_snr(clean, np.random.default_rng(2).normal(0, 1, len(clean)), 10.0)
    result = suite.perceive(audio=noisy)
    assert "denoise" not in result.timings  # a front end makes Whisper worse (measured)
    assert any(isinstance(p, Speech) for p in result.percepts)
    assert any(isinstance(p, Transcript) for p in result.percepts)


def test_wav_conversions_and_bad_audio(suite: PerceptionSuite, media: dict[str, Path]) -> None:
    mono = to_mono16k(media["fox"])
    stereo48 = np.repeat(np.repeat(mono, 3)[:, None], 2, axis=1)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(48_000)
        wav.writeframes((stereo48 * 32767).astype("<i2").tobytes())
    converted = to_mono16k(buf.getvalue())
    assert abs(len(converted) - len(mono)) <= 2
    assert suite.perceive(audio=buf.getvalue()).transcript
    for bad in (b"", b"RIFF....WAVEjunk", np.zeros((100, 2), np.float32),
                np.array([np.nan] * 100, np.float32), np.zeros(10, np.int32),
                media["fox"].with_suffix(".missing.wav")):
        with pytest.raises(InvalidAudio):
            suite.perceive(audio=bad)
    assert to_mono16k(to_wav_bytes(mono)).shape == mono.shape


def test_cli_perceive_wav(
    catalog: Catalog, media: dict[str, Path], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from edgesdk.cli import main

    monkeypatch.setenv("EDGESDK_HOME", str(catalog.store.parent))
    assert main(["perceive", str(media["alexa"]), "--json", "--only", "vad,wakeword"]) == 0
    out = json.loads(capsys.readouterr().out)
    kinds = [p["kind"] for p in out["percepts"]]
    assert kinds == ["speech", "wake_word"]
    assert out["percepts"][1]["label"] == "Alexa"


def test_transcribe_cli_prints_text_language_confidence_and_segments(
        catalog: Catalog, media: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from edgesdk.cli import main

    assert main(["transcribe", str(media["beckett"]), "--profile", "glasses", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"text", "language", "confidence", "segments"} <= set(out)
    assert out["text"].startswith("Ever tried.") and out["language"] == "en"
    assert out["model"] == "asr-whisper-tiny-en" and 0 < out["confidence"] <= 1
    assert out["segments"][0]["words"][0]["text"] == "Ever"
    assert main(["transcribe", str(media["beckett"]), "--profile", "watch"]) == 1
    assert "no speech recogniser" in capsys.readouterr().err
