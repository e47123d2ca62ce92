"""Memory stays bounded on crafted files (issue 20): `load_audio` and `kerasaudio predict`
on files whose headers claim 2^36 frames or a 1 Hz rate run in a child process, whose
peak resident memory a small meter process reads with
`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss` once it has waited for it.

The bounds are a few times what the workloads need (the interpreter, numpy, soundfile,
soxr; LiteRT for predict) and far below what the crafted files ask for: 256 GiB for the
FLAC's declared frames, 1.3 GB of resampled audio for the 40 kB WAV at 16 kHz.
The workloads also run under an address-space limit, so a regression fails with a
MemoryError instead of taking the machine's memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from crafted_audio import flac_claiming, mp3_claiming, tiny_classifier, wav_declaring_rate

#: Peak resident memory allowed to each workload, MB.
LOAD_BOUND_MB = 150
PREDICT_BOUND_MB = 250
#: Address-space limit of the workloads (a safety net), bytes.
ADDRESS_SPACE = 6 * 2**30

METER = textwrap.dedent("""
    import json, resource, subprocess, sys

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1])))

    done = subprocess.run(sys.argv[2:], capture_output=True, text=True, preexec_fn=limit)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    print(json.dumps({"code": done.returncode, "peak_mb": peak_kb / 1024,
                      "stdout": done.stdout, "stderr": done.stderr[-3000:]}))
""")


def metered(*command: str) -> dict:
    done = subprocess.run([sys.executable, "-c", METER, str(ADDRESS_SPACE), *command],
                          capture_output=True, text=True, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def crafted(tmp_path_factory):
    root = tmp_path_factory.mktemp("crafted")
    return [flac_claiming(root / "lie.flac", 2**36 - 1),
            mp3_claiming(root / "lie.mp3", 0xFFFFFFF0),
            wav_declaring_rate(root / "one_hz.wav", 1),  # 40 kB
            flac_claiming(root / "unknown_length.flac", 0)]


LOAD = textwrap.dedent("""
    import sys, warnings
    from kerasaudio.audio_io import load_audio
    from kerasaudio.errors import AudioFileError
    warnings.simplefilter("ignore")
    for path in sys.argv[1:]:
        try:
            audio, _ = load_audio(path, sample_rate=16000)
            print(path, "loaded", audio.shape[0])
        except AudioFileError as e:
            print(path, "refused", e.reason)
""")


def test_load_audio_on_crafted_files_stays_small(crafted):
    result = metered(sys.executable, "-c", LOAD, *crafted)
    assert result["code"] == 0, result["stderr"]
    lines = result["stdout"].splitlines()
    assert [line.split()[1] for line in lines] == ["loaded", "loaded", "refused", "loaded"]
    assert "min_sample_rate" in lines[2]
    assert result["peak_mb"] < LOAD_BOUND_MB, result


@pytest.mark.integration
def test_predict_on_crafted_files_stays_small(crafted, tmp_path):
    model = tiny_classifier(tmp_path / "tiny.tflite")
    result = metered(sys.executable, "-m", "kerasaudio.cli", "predict", *crafted,
                     "--model", model, "--format", "json", "--hop", "0.000125")
    assert result["code"] == 1, result["stderr"]  # the 1 Hz file is refused, others run
    lines = [json.loads(line) for line in result["stdout"].splitlines()]
    assert [("error" in line) for line in lines] == [False, False, True, False]
    assert result["peak_mb"] < PREDICT_BOUND_MB, result
