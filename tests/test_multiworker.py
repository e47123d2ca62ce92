"""Two worker processes on 127.0.0.1 under `MultiWorkerMirroredStrategy` (TF_CONFIG):
a recipe and `train_table` (training on a CSV of clips) train a few steps in both, the
workers end with the same weights, and only the chief writes a run directory.

The same script runs on a cluster with each machine's address in TF_CONFIG (README,
"Train on several machines").
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FSDD = Path("/work/shared/data/fsdd/recordings")

WORKER = r'''
import json, os, sys
import numpy as np
from kerasaudio.training.strategy import is_chief, make_strategy

strategy = make_strategy("multiworker")  # before any other TensorFlow call
task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
out, table, audio = sys.argv[1:4]

from kerasaudio.training import load_recipe, run
from kerasaudio.training.fit import train
from kerasaudio.training.pipeline import load_index
from kerasaudio.training.user_data import train_table

tiny = ["training.epochs=1", "training.batch_size=8", "model.options.n_channel=4"]
recipe = load_recipe("m5_fsdd_digits", tiny)
model, info = train(recipe, load_index(sample=True), strategy=strategy, max_steps=3)
np.savez(f"{out}/recipe_{task}.npz", *model.get_weights())
run(recipe, out=f"{out}/recipe_run_{task}", protocols=["official"], strategy=strategy,
    sample=True, max_steps=3, log=lambda line: None)
model, metrics = train_table(
    "m5", table, out=f"{out}/table_run_{task}", audio_dir=audio, epochs=1, batch_size=8,
    max_steps=3, overrides=["model.options.n_channel=4"], strategy=strategy, verbose=0,
    log=None)
np.savez(f"{out}/table_{task}.npz", *model.get_weights())
with open(f"{out}/worker_{task}.json", "w") as f:
    json.dump({"chief": is_chief(strategy), "replicas": strategy.num_replicas_in_sync,
               "recipe_steps": info["steps"], "table_replicas": metrics["replicas"]}, f)
'''


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.mark.slow
@pytest.mark.skipif(not FSDD.is_dir(), reason=f"needs FSDD at {FSDD}")
def test_two_workers_agree_and_only_the_chief_writes(tmp_path):
    rows = [(f"{d}_{s}_1.wav", f"{d},{s}") for s in ("george", "lucas") for d in range(10)]
    with open(tmp_path / "tags.csv", "w", newline="") as f:
        csv.writer(f).writerows([("fname", "labels"), *rows])
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    workers = []
    for index in range(2):
        env = {**os.environ, "PYTHONPATH": os.fspath(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
               "TF_CONFIG": json.dumps({"cluster": cluster,
                                        "task": {"type": "worker", "index": index}})}
        workers.append(subprocess.Popen(
            [sys.executable, os.fspath(script), os.fspath(tmp_path),
             os.fspath(tmp_path / "tags.csv"), os.fspath(FSDD)],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True))
    try:
        results = [w.communicate(timeout=600) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    for w, (_, err) in zip(workers, results, strict=True):
        assert w.returncode == 0, err[-3000:]
    info = [json.loads((tmp_path / f"worker_{i}.json").read_text()) for i in range(2)]
    assert [i["chief"] for i in info] == [True, False]
    assert all(i["replicas"] == 2 and i["table_replicas"] == 2 for i in info)
    for name in ("recipe", "table"):
        with np.load(tmp_path / f"{name}_0.npz") as a, np.load(tmp_path / f"{name}_1.npz") as b:
            assert len(a.files) == len(b.files) > 0
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name} {key}")
    # The chief wrote its run directories; worker 1 wrote nothing of its own.
    assert (tmp_path / "recipe_run_0" / "m5_fsdd_digits.weights.h5").is_file()
    assert (tmp_path / "table_run_0" / "model.keras").is_file()
    assert not (tmp_path / "recipe_run_1").exists()
    assert not (tmp_path / "table_run_1").exists()
