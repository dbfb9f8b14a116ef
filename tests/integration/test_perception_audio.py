"""Real audio models on real speech: espeak-ng synthesis and a recorded clip from PyPI."""

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
from edgesdk.local.asr import PocketSphinxASR
from edgesdk.local.audio import SileroVAD, WakeWordDetector, to_mono16k, to_wav_bytes
from edgesdk.local.deepfilter import DeepFilterNet3
from edgesdk.local.denoise import RNNoiseDenoiser, snr_db
from edgesdk.local.perceive import PerceptionSuite, build_perceivers
from edgesdk.types import Speech, Transcript, WakeWord

pytestmark = pytest.mark.integration

REAL_HOME = Path(os.environ.get("EDGESDK_HOME", Path.home() / ".cache" / "edgesdk"))
AUDIO_MODELS = ("vad-silero", "wakeword-alexa", "wakeword-okay-nabu", "wakeword-hey-jarvis",
                "wakeword-hey-mycroft", "denoise-rnnoise", "denoise-deepfilternet3",
                "asr-pocketsphinx-en-us")


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


def test_asr_transcribes_real_and_synthetic_speech(
    catalog: Catalog, media: dict[str, Path]
) -> None:
    asr = PocketSphinxASR.load(catalog=catalog)
    beckett = asr.transcribe(to_mono16k(media["beckett"]))
    assert "try again" in beckett.text and "ever" in beckett.text
    assert 0.0 < beckett.confidence <= 1.0
    # PocketSphinx is poor on synthetic voices (see docs/perception.md): only ask for words
    synthetic = asr.transcribe(to_mono16k(media["alexa"]))
    assert synthetic.text and 0.0 < synthetic.confidence <= 1.0


def test_suite_gates_on_speech_and_transcribes(
    suite: PerceptionSuite, media: dict[str, Path]
) -> None:
    result = suite.perceive(audio=media["alexa"])
    kinds = [p.kind for p in result.percepts]
    assert kinds[0] == "speech" and "wake_word" in kinds and "transcript" in kinds
    assert [p.name for p in result.percepts if isinstance(p, WakeWord)] == ["Alexa"]
    assert result.transcript  # words, but PocketSphinx is poor on synthetic voices
    assert result.observed_bytes == media["alexa"].stat().st_size
    assert "denoise" not in result.timings  # clean synthetic speech is not denoised
    silence = suite.perceive(audio=np.zeros(32_000, np.float32))
    assert silence.percepts == [] and silence.transcript is None
    assert "asr" not in silence.timings


def test_noisy_speech_is_denoised_before_asr(
    suite: PerceptionSuite, media: dict[str, Path]
) -> None:
    clean = to_mono16k(media["beckett"])
    noisy = mix_at_snr(clean, np.random.default_rng(2).normal(0, 1, len(clean)), 10.0)
    result = suite.perceive(audio=noisy)
    assert "denoise" in result.timings
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
