"""The release: `python -m build` makes an sdist and a wheel that `twine check` accepts, and
the wheel, installed into a fresh virtual environment with no source checkout on its path,
works: its console script lists models, classifies a bundled clip, exports a preset to
TFLite, every public module imports and every piece of package data is present.

`make test-wheel` runs this tier. The fresh environment borrows the test environment's
installed dependencies through a path file (TensorFlow is not downloaded a second time) and
installs the wheel itself with `--no-deps`; the declared requirements are then checked
against what that environment resolves, as `pip check` would. The `slow` test installs the
wheel with its dependencies from the package registry instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.release

ROOT = Path(__file__).resolve().parents[1]

# Files the installed package must carry (globs relative to the package directory).
PACKAGE_DATA = {
    "py.typed": 1,
    "pretrained/manifest.json": 1,
    "pretrained/weights/*.weights.h5": 1,
    "datasets/fsdd_sample/*.wav": 100,
    "datasets/fsdd_sample/*.md": 1,
    "datasets/audioset/*.csv": 1,
    "recipes/*.json": 1,
}


def _run(command, *, cwd, env=None, timeout=900) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, check=False)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited {result.returncode}\n"
        f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """sdist and wheel built by `python -m build` (the wheel is built from the sdist, so a
    file missing from the sdist is missing from the wheel too)."""
    out = tmp_path_factory.mktemp("dist")
    # Built from a copy: the build writes kerasaudio.egg-info and build/ into its source
    # directory, which must not race with another build or touch the checkout.
    source = tmp_path_factory.mktemp("source") / "kerasaudio"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
        ".hypothesis", "gallery", "runs", "out"))
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
         cwd=source)
    return out


def _wheel(dist: Path) -> Path:
    (wheel,) = dist.glob("kerasaudio-*.whl")
    return wheel


def _clean_env(venv: Path) -> dict:
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["KERASAUDIO_HOME"] = str(venv / "kerasaudio-home")
    return env


def _fresh_venv(path: Path, *, borrow_dependencies: bool) -> Path:
    _run([sys.executable, "-m", "venv", "--without-pip", str(path)], cwd=path.parent)
    if borrow_dependencies:
        # A plain path line (not a site directory): the packages installed beside pytest
        # become importable, while that environment's own `.pth` files, among them an
        # editable install of kerasaudio pointing at the checkout, are not processed.
        site = Path(_run([str(path / "bin" / "python"), "-c",
                          "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         cwd=path).stdout.strip())
        (site / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return path / "bin" / "python"


def _pip(python: Path, *args: str, cwd: Path) -> None:
    # Without PYTHONPATH: pip would take a checkout on it for an installed kerasaudio.
    _run([sys.executable, "-m", "pip", "--python", str(python), "install",
          "--disable-pip-version-check", "-q", *args], cwd=cwd,
         env=_clean_env(python.parents[1]))


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory):
    """(python, env, work directory) of a fresh environment with the wheel installed."""
    root = tmp_path_factory.mktemp("wheel-venv")
    python = _fresh_venv(root / "venv", borrow_dependencies=True)
    _pip(python, "--no-deps", str(_wheel(dist)), cwd=root)
    work = root / "work"  # the commands run here: no checkout, no package source around
    work.mkdir()
    return python, _clean_env(root / "venv"), work


def test_twine_check_accepts_both_files(dist):
    files = sorted(dist.iterdir())
    assert {path.suffix for path in files} == {".whl", ".gz"}, files
    result = _run([sys.executable, "-m", "twine", "check", "--strict", *map(str, files)],
                  cwd=dist)
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_sdist_carries_the_licences_changelog_and_data_notices(dist):
    (sdist,) = dist.glob("kerasaudio-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("README.md", "CHANGELOG.md", "setup.cfg", "pyproject.toml",
                   "kerasaudio/py.typed", "kerasaudio/datasets/fsdd_sample/README.md",
                   "kerasaudio/datasets/audioset/README.md", "LICENSE"):
        assert needed in names, needed


def test_wheel_holds_package_data_and_no_tests(dist):
    with zipfile.ZipFile(_wheel(dist)) as archive:
        names = archive.namelist()
    assert not [name for name in names if name.startswith(("tests/", "zoo/", "benchmarks/"))]
    assert "kerasaudio/py.typed" in names
    manifest = json.loads(archive_read(dist, "kerasaudio/pretrained/manifest.json"))
    for preset in manifest["presets"].values():
        if preset.get("file") and not preset.get("url"):
            assert f"kerasaudio/pretrained/weights/{preset['file']}" in names, preset["file"]


def archive_read(dist: Path, name: str) -> bytes:
    with zipfile.ZipFile(_wheel(dist)) as archive:
        return archive.read(name)


def test_installed_from_the_wheel_not_the_checkout(installed):
    python, env, work = installed
    where = _run([str(python), "-c", "import kerasaudio; print(kerasaudio.__file__)"],
                 cwd=work, env=env).stdout.strip()
    assert str(python.parents[1]) in where, where
    assert str(ROOT) not in where, where


def test_package_data_present(installed):
    python, env, work = installed
    script = (
        "import json, pathlib, kerasaudio\n"
        "root = pathlib.Path(kerasaudio.__file__).parent\n"
        f"globs = {PACKAGE_DATA!r}\n"
        "print(json.dumps({g: len(list(root.glob(g))) for g in globs}))\n")
    counts = json.loads(_run([str(python), "-c", script], cwd=work, env=env).stdout)
    for pattern, minimum in PACKAGE_DATA.items():
        assert counts[pattern] >= minimum, (pattern, counts[pattern])


def test_declared_requirements_are_satisfied(installed):
    """What `pip check` checks, for the wheel's Requires-Dist (extras excluded)."""
    python, env, work = installed
    script = (
        "import importlib.metadata as md\n"
        "from packaging.requirements import Requirement\n"
        "bad = []\n"
        "for text in md.requires('kerasaudio'):\n"
        "    req = Requirement(text)\n"
        "    if req.marker is not None and not req.marker.evaluate({'extra': ''}):\n"
        "        continue\n"
        "    try:\n"
        "        version = md.version(req.name)\n"
        "    except md.PackageNotFoundError:\n"
        "        bad.append(f'{req} missing'); continue\n"
        "    if not req.specifier.contains(version, prereleases=True):\n"
        "        bad.append(f'{req} has {version}')\n"
        "print('\\n'.join(bad))\n")
    assert _run([str(python), "-c", script], cwd=work, env=env).stdout.strip() == ""


def test_every_public_module_imports(installed):
    python, env, work = installed
    script = (
        "import importlib, pkgutil, kerasaudio\n"
        "names = [m.name for m in pkgutil.walk_packages(kerasaudio.__path__, 'kerasaudio.')\n"
        "         if not m.name.rsplit('.', 1)[-1].startswith('_')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(len(names))\n")
    assert int(_run([str(python), "-c", script], cwd=work, env=env).stdout) >= 30


def test_console_script_lists_models_and_presets(installed):
    python, env, work = installed
    script = python.parent / "kerasaudio"
    models = _run([str(script), "models", "--format", "json"], cwd=work, env=env).stdout
    presets = _run([str(script), "models", "--pretrained", "--format", "json"], cwd=work,
                   env=env).stdout
    assert "m5" in models and "m5_fsdd_digits" in presets


def test_console_script_classifies_a_bundled_clip(installed):
    python, env, work = installed
    clip = Path(_run([str(python), "-c",
                      "import pathlib, kerasaudio; print(pathlib.Path(kerasaudio.__file__)"
                      ".parent / 'datasets' / 'fsdd_sample' / '7_jackson_0.wav')"],
                     cwd=work, env=env).stdout.strip())
    assert clip.is_file()
    out = _run([str(python.parent / "kerasaudio"), "predict", str(clip), "--model",
                "m5_fsdd_digits", "--format", "json"], cwd=work, env=env).stdout
    (line,) = [line for line in out.splitlines() if line.startswith("{")]
    assert json.loads(line)["predictions"][0]["label"] == "7"


def test_console_script_exports_and_the_runtime_runs_the_file(installed):
    python, env, work = installed
    target = work / "m5.tflite"
    _run([str(python.parent / "kerasaudio"), "export", "m5_fsdd_digits", "-o", str(target)],
         cwd=work, env=env)
    assert target.stat().st_size > 10_000
    script = (
        "import sys, numpy as np\n"
        "from kerasaudio.runtime import TFLiteModel\n"
        f"model = TFLiteModel({str(target)!r})\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
        "out = np.asarray(model.predict(np.zeros(model.input_length, 'float32')))\n"
        "print(out.shape[-1])\n")
    assert _run([str(python), "-c", script], cwd=work, env=env).stdout.strip() == "10"


def test_console_script_trains_on_a_users_csv(installed):
    """`kerasaudio train START --csv` from the wheel: the packaged recipe of the preset, the
    user's clips (a multi-label CSV of bundled clips: digit and speaker tags), one epoch."""
    python, env, work = installed
    script = (
        "import csv, pathlib, kerasaudio\n"
        "root = pathlib.Path(kerasaudio.__file__).parent / 'datasets' / 'fsdd_sample'\n"
        "rows = [(p.name, p.stem.split('_')[0] + ',' + p.stem.split('_')[1])\n"
        "        for p in sorted(root.glob('*.wav'))[:24]]\n"
        "with open('clips.csv', 'w', newline='') as f:\n"
        "    csv.writer(f).writerows([('fname', 'labels'), *rows])\n"
        "print(root)\n")
    audio_dir = _run([str(python), "-c", script], cwd=work, env=env).stdout.strip()
    _run([str(python.parent / "kerasaudio"), "train", "m5_fsdd_digits", "--csv", "clips.csv",
          "--audio-dir", audio_dir, "--epochs", "1", "--batch-size", "8", "--out", "run"],
         cwd=work, env=env)
    check = (
        "import json, keras, kerasaudio\n"
        "model = keras.saving.load_model('run/model.keras', safe_mode=True)\n"
        "info = kerasaudio.info.model_info(model)\n"
        "metrics = json.load(open('run/metrics.json'))\n"
        "print(info.task, len(info.class_names), 'lwlrap' in json.dumps(metrics))\n")
    out = _run([str(python), "-c", check], cwd=work, env=env).stdout.split()[-3:]
    assert out[0] == "multi-label" and int(out[1]) > 2 and out[2] == "True", out
    assert (work / "run" / "training_curve.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_wheel_installs_with_its_dependencies_from_the_registry(dist, tmp_path):
    """A user's `pip install kerasaudio-*.whl` into an empty environment (downloads from the
    package registry), then the console script."""
    python = _fresh_venv(tmp_path / "venv", borrow_dependencies=False)
    _pip(python, str(_wheel(dist)), cwd=tmp_path)
    env = _clean_env(tmp_path / "venv")
    out = _run([str(python.parent / "kerasaudio"), "models", "--pretrained"], cwd=tmp_path,
               env=env).stdout
    assert "m5_fsdd_digits" in out
    shutil.rmtree(tmp_path / "venv")
