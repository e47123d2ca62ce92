"""M5 training throughput: Keras against the torchaudio tutorial's PyTorch loop, in one run.

The model is the torchaudio tutorial's M5 (docs/references.md, [S1];
`kerasaudio.create_model("m5", input_shape=(8000, 1), classes=10, n_channel=32)`, 25,290
trainable parameters) on FSDD: every clip of the
official training split (2,700, takes 5-49) loaded once with `kerasaudio.data.load_audio`
and centred in 8,000 samples with `kerasaudio.data.fix_length`. The PyTorch side is the
tutorial's M5 (Conv1d(1, 32, 80, stride 16) + BatchNorm + ReLU + MaxPool(4), then three
kernel-3 blocks of 32, 64 and 64 channels, average pool, Linear, log_softmax) and its loop
(Adam, lr 0.01, weight decay 1e-4, NLL loss), written here, fed the same float32 arrays.

Both sides do the same work per epoch: a fresh shuffle of the 2,700 clips, 11 steps of
batch 256 (the last one 140 clips), each a forward pass with BatchNorm in training mode, a
backward pass and an Adam update. A timed pass is `--epochs` epochs (one `model.fit` call
on the Keras side, so a per-call cost such as Keras' NumPy adapter counts) after one
warm-up epoch (tracing, XLA compilation, caches); samples/s = clips trained / wall-clock
seconds. PyTorch is fed tensors indexed from the arrays (no DataLoader, no per-batch
padding: faster than the tutorial's own loader).

Every ratio is measured inside one process: PyTorch (1 and 2 threads) and the Keras
configurations of that process run in turn, `--repeats` times, and each row reports its
best and median pass. Settings that must be fixed before TensorFlow starts (thread pools,
oneDNN, grappler's bfloat16 rewrite, the JAX backend) get a process each (`PLAN`), with
PyTorch measured again beside them. Each table divides by the better PyTorch thread
setting of its process. PyTorch's two threads slow down sharply whenever another thread
wants a core (another process, or TensorFlow's default thread pools in the same process),
so PyTorch is also measured alone (TensorFlow never imported), and the summary's
strict line divides by PyTorch's fastest median pass of the whole run: that is the ratio
to quote. The script prints `uptime`'s load averages with every process:
on a shared machine both sides slow down, and the ratio is what to compare.

kerasaudio's M5 normalises with `kerasaudio.layers.BatchNormalization` (Keras'
BatchNormalization whose training pass is TensorFlow's fused kernel). Rows marked
"Keras BatchNormalization" swap those layers (by `keras.models.clone_model`, same weights
and parameter count) for Keras' own `BatchNormalization`, to measure what the fused
kernel gives.

`--accuracy-epochs N` (default 20; 0 skips) then trains PyTorch and selected Keras
configurations for N epochs with the learning rate cosine-decayed from 0.01 to 0 (the
same schedule on both sides) and reports test accuracy on the official test split (300
clips, takes 0-4), for `--seeds` seeds: a faster configuration only counts if it learns
as well. `--repeats 0` runs the accuracy check alone.

    pip install -e '.[bench]'   # torch==2.13.0 (CPU); or `make bench-training`
    python benchmarks/training.py [--epochs 2] [--repeats 5] [--accuracy-epochs 20]
        [--only default intra1 ...]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

SAMPLE_RATE = 8000
LENGTH = 8000
CLASSES = 10
N_CHANNEL = 32
BATCH = 256
LEARNING_RATE = 0.01
WEIGHT_DECAY = 1e-4
BN_MOMENTUM = 0.9  # Keras' convention; PyTorch's momentum 0.1
BN_EPSILON = 1e-5
TRAINABLE = 25_290
RESULT = "RESULT "


# ------------------------------------------------------------------------ configurations


@dataclass(frozen=True)
class KerasConfig:
    """One way to train the Keras M5 inside a process."""

    label: str
    pipeline: str = "gather"  # "numpy", "gather" or "audio_dataset"
    jit_compile: bool = False
    steps_per_execution: int = 1
    policy: str = "float32"
    batch_norm: str = "fused"  # "fused" (kerasaudio's M5) or "keras" (Keras' own layer)

    @property
    def keras_batch_norm(self) -> bool:
        return self.batch_norm == "keras"


CONFIGS = {
    "numpy": KerasConfig("model.fit on NumPy arrays (Keras shuffles)", pipeline="numpy"),
    "gather": KerasConfig("tf.data from in-memory tensors (shuffle indices, batch, gather)"),
    "audio_dataset": KerasConfig("kerasaudio.data.audio_dataset(cache=True, shuffle=True)",
                                 pipeline="audio_dataset"),
    "jit": KerasConfig("tf.data + jit_compile=True (XLA)", jit_compile=True),
    "spe": KerasConfig("tf.data + steps_per_execution=11", steps_per_execution=11),
    "bf16": KerasConfig('tf.data + mixed precision "mixed_bfloat16"', policy="mixed_bfloat16"),
    "keras_bn": KerasConfig("Keras BatchNormalization: tf.data", batch_norm="keras"),
    "keras_bn_spe": KerasConfig("Keras BatchNormalization: tf.data + steps_per_execution=11",
                                steps_per_execution=11, batch_norm="keras"),
}

@dataclass(frozen=True)
class Environment:
    """Settings fixed when the process starts."""

    label: str
    env: dict = field(default_factory=dict)
    intra_op: int = 0  # 0: TensorFlow's default (one per core)
    inter_op: int = 0
    onednn_bf16_rewrite: bool = False
    tensorflow: bool = True  # False: PyTorch alone, TensorFlow never imported


ENVIRONMENTS = {
    # PyTorch with two threads slows down 4-10x whenever another thread wants a core
    # (another process, or TensorFlow's default pools in the same process), so it is also
    # measured alone; the summary's strict ratio uses PyTorch's best median of the run.
    "torch_alone": Environment("PyTorch alone (TensorFlow not imported)", tensorflow=False),
    "default": Environment("TensorFlow defaults (oneDNN on, intra/inter-op threads 2/2)"),
    "intra1": Environment("TF intra-op 1, inter-op 1 threads", intra_op=1, inter_op=1),
    "onednn_off": Environment("TF_ENABLE_ONEDNN_OPTS=0 (Eigen kernels)",
                              env={"TF_ENABLE_ONEDNN_OPTS": "0"}),
    "onednn_bf16_rewrite": Environment(
        "grappler auto_mixed_precision_onednn_bfloat16 (float32 model, bf16 kernels)",
        onednn_bf16_rewrite=True),
    "jax": Environment("Keras on the JAX backend", env={"KERAS_BACKEND": "jax"}),
}

# (environment, throughput configurations, accuracy configurations). "torch" in an accuracy
# list trains the PyTorch M5 in that process. Threads and oneDNN do not change the model's
# arithmetic (beyond rounding), so only the default process checks accuracy, plus the bf16
# rewrite, which does.
PLAN = [
    ("torch_alone", [], []),
    ("default", ["numpy", "gather", "audio_dataset", "jit", "spe", "bf16", "keras_bn",
                 "keras_bn_spe"],
     ["torch", "gather", "bf16", "keras_bn"]),
    ("intra1", ["gather", "spe", "keras_bn", "keras_bn_spe"], []),
    ("onednn_off", ["gather"], []),
    ("onednn_bf16_rewrite", ["gather"], ["gather"]),
    ("jax", ["jit"], []),
]


# ---------------------------------------------------------------------------------- data


def load_arrays(root=None) -> dict:
    """The official FSDD split as float32 `(clips, 8000)` arrays and int64 digits."""
    from kerasaudio.data import fix_length, load_audio
    from kerasaudio.datasets import fsdd

    train, test = fsdd.official_split(fsdd.load(root))

    def arrays(df):
        clips = [fix_length(load_audio(p, sample_rate=SAMPLE_RATE)[0], LENGTH)
                 for p in df.path]
        return np.stack(clips).astype(np.float32), df.digit.to_numpy(np.int64)

    (x_train, y_train), (x_test, y_test) = arrays(train), arrays(test)
    return dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                train_paths=np.array(train.path.tolist()))


def steps_per_epoch(n: int) -> int:
    return math.ceil(n / BATCH)


def cosine(step: int, total: int) -> float:
    """Keras' CosineDecay with alpha 0: the rate multiplier at `step` of `total`."""
    return 0.5 * (1 + math.cos(math.pi * min(step, total) / total))


# ------------------------------------------------------------------------------- PyTorch


def torch_model():
    """The torchaudio tutorial's M5 (n_channel 32, stride 16)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class M5(nn.Module):
        def __init__(self, n_input=1, n_output=CLASSES, stride=16, n_channel=N_CHANNEL):
            super().__init__()
            widths = [n_input, n_channel, n_channel, 2 * n_channel, 2 * n_channel]
            kernels, strides = [80, 3, 3, 3], [stride, 1, 1, 1]
            self.blocks = nn.ModuleList(
                nn.Sequential(nn.Conv1d(widths[i], widths[i + 1], kernels[i], stride=strides[i]),
                              nn.BatchNorm1d(widths[i + 1]), nn.ReLU(), nn.MaxPool1d(4))
                for i in range(4)
            )
            self.fc1 = nn.Linear(2 * n_channel, n_output)

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            x = F.avg_pool1d(x, x.shape[-1]).permute(0, 2, 1)
            return F.log_softmax(self.fc1(x), dim=2)

    model = M5()
    assert sum(p.numel() for p in model.parameters()) == TRAINABLE
    return model, torch


class TorchTrainer:
    """The tutorial's training loop on tensors indexed from the shared arrays."""

    def __init__(self, x, y, *, threads: int, seed: int, total_steps: int | None = None):
        import torch

        torch.manual_seed(seed)
        self.torch, self.threads = torch, threads
        self.model, _ = torch_model()
        self.x = torch.from_numpy(x).unsqueeze(1)  # (clips, 1, samples), no copy
        self.y = torch.from_numpy(y)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LEARNING_RATE,
                                          weight_decay=WEIGHT_DECAY)
        self.scheduler = None
        if total_steps:
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(
                self.optimizer, lambda step: cosine(step, total_steps))
        self.generator = torch.Generator().manual_seed(seed)

    def run(self, epochs: int) -> int:
        torch = self.torch
        from torch.nn import functional as F

        torch.set_num_threads(self.threads)
        self.model.train()
        n = len(self.x)
        for _ in range(epochs):
            order = torch.randperm(n, generator=self.generator)
            for start in range(0, n, BATCH):
                index = order[start:start + BATCH]
                loss = F.nll_loss(self.model(self.x[index]).squeeze(1), self.y[index])
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                if self.scheduler is not None:
                    self.scheduler.step()
        return epochs * n

    def accuracy(self, x, y) -> float:
        torch = self.torch
        self.model.eval()
        with torch.no_grad():
            out = self.model(torch.from_numpy(x).unsqueeze(1)).squeeze(1)
        return float((out.argmax(1).numpy() == y).mean())


# --------------------------------------------------------------------------------- Keras


def keras_model(config: KerasConfig):
    import keras

    import kerasaudio

    keras.mixed_precision.set_global_policy(config.policy)
    try:
        model = kerasaudio.create_model("m5", input_shape=(LENGTH, 1), classes=CLASSES,
                                        n_channel=N_CHANNEL)
        if config.keras_batch_norm:
            def swap(layer):
                if isinstance(layer, kerasaudio.layers.BatchNormalization):
                    return keras.layers.BatchNormalization.from_config(layer.get_config())
                return layer.__class__.from_config(layer.get_config())

            model = keras.models.clone_model(model, clone_function=swap)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == TRAINABLE, trainable
    return model


class KerasTrainer:
    """`model.fit` of one configuration; `run(epochs)` is one fit call."""

    def __init__(self, config: KerasConfig, data: dict, *, seed: int,
                 total_steps: int | None = None):
        import keras

        keras.utils.set_random_seed(seed)
        self.config, self.seed = config, seed
        self.model = keras_model(config)
        rate = LEARNING_RATE
        if total_steps:
            rate = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, total_steps)
        # epsilon 1e-8: PyTorch's (Keras' default is 1e-7). Keras' weight decay is
        # decoupled (AdamW style) where PyTorch's Adam adds it to the gradient: a slightly
        # different regulariser, the same cost per step.
        self.model.compile(
            optimizer=keras.optimizers.Adam(rate, weight_decay=WEIGHT_DECAY, epsilon=1e-8),
            loss="sparse_categorical_crossentropy", jit_compile=config.jit_compile,
            steps_per_execution=config.steps_per_execution)
        self.x, self.y = self._shaped(data["x_train"]), data["y_train"]
        self.n = len(self.y)
        self.dataset = self._dataset(data)

    @staticmethod
    def _shaped(x):
        return x[:, :, None]

    def _dataset(self, data: dict):
        import tensorflow as tf

        pipeline, n, seed = self.config.pipeline, self.n, self.seed
        if pipeline == "numpy":
            return None
        if pipeline == "gather":
            x, y = tf.constant(self.x), tf.constant(self.y)
            ds = tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True)
            ds = ds.batch(BATCH).map(lambda i: (tf.gather(x, i), tf.gather(y, i)))
        elif pipeline == "audio_dataset":
            from kerasaudio.data import audio_dataset

            ds = audio_dataset([str(p) for p in data["train_paths"]],
                               list(data["y_train"]), classes=list(range(CLASSES)),
                               sample_rate=SAMPLE_RATE, duration=LENGTH / SAMPLE_RATE,
                               batch_size=BATCH, shuffle=True, cache=True, seed=seed)
            ds = ds.map(lambda audio, digit: (tf.expand_dims(audio, -1), digit))
        else:
            raise ValueError(pipeline)
        return ds.prefetch(tf.data.AUTOTUNE)

    def run(self, epochs: int) -> int:
        if self.dataset is None:
            self.model.fit(self.x, self.y, batch_size=BATCH, epochs=epochs, shuffle=True,
                           verbose=0)
        else:
            self.model.fit(self.dataset, epochs=epochs, verbose=0)
        return epochs * self.n

    def accuracy(self, x, y) -> float:
        probs = self.model.predict(self._shaped(x), batch_size=BATCH, verbose=0)
        return float((np.argmax(probs, axis=1) == y).mean())


# -------------------------------------------------------------------------------- worker


def loads() -> str:
    """`uptime`'s load averages (1, 5 and 15 minutes)."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def emit(**record) -> None:
    print(RESULT + json.dumps(record), flush=True)


def worker(spec: dict) -> None:
    """Measure one process's PyTorch and Keras rows; print them as RESULT lines."""
    env = ENVIRONMENTS[spec["environment"]]
    backend = "none"
    if env.tensorflow:
        import tensorflow as tf

        if env.intra_op:
            tf.config.threading.set_intra_op_parallelism_threads(env.intra_op)
        if env.inter_op:
            tf.config.threading.set_inter_op_parallelism_threads(env.inter_op)
        if env.onednn_bf16_rewrite:
            tf.config.optimizer.set_experimental_options(
                {"auto_mixed_precision_onednn_bfloat16": True})
        import keras

        backend = keras.backend.backend()

    loaded = np.load(spec["data"])
    data = {k: loaded[k] for k in loaded.files}
    emit(kind="info", environment=spec["environment"], backend=backend, load=loads())

    seed, epochs, repeats = spec["seed"], spec["epochs"], spec["repeats"]
    runners = {f"torch{t}": TorchTrainer(data["x_train"], data["y_train"], threads=t,
                                         seed=seed) for t in (1, 2)} if repeats else {}
    for name in spec["throughput"] if repeats else []:
        try:
            runners[name] = KerasTrainer(CONFIGS[name], data, seed=seed)
        except Exception as error:  # a lever that cannot run here is a result too
            emit(kind="error", environment=spec["environment"], config=name,
                 error=f"{type(error).__name__}: {str(error).splitlines()[0][:200]}")
    for name, runner in list(runners.items()):
        try:
            runner.run(1)  # warm-up: tracing, compilation, caches
        except Exception as error:
            emit(kind="error", environment=spec["environment"], config=name,
                 error=f"{type(error).__name__}: {str(error).splitlines()[0][:200]}")
            del runners[name]
    rates = {name: [] for name in runners}
    for _ in range(repeats):
        for name, runner in runners.items():
            start = time.perf_counter()
            samples = runner.run(epochs)
            rates[name].append(samples / (time.perf_counter() - start))
    for name, values in rates.items():
        emit(kind="rate", environment=spec["environment"], config=name, rates=values)
    del runners

    total = spec["accuracy_epochs"] * steps_per_epoch(len(data["y_train"]))
    for name in spec["accuracy"] if spec["accuracy_epochs"] else []:
        for s in range(spec["seeds"]):
            if name == "torch":
                # One thread: the accuracy check is not timed against anything, and two
                # threads crawl on a busy machine.
                trainer = TorchTrainer(data["x_train"], data["y_train"], threads=1, seed=s,
                                       total_steps=total)
            else:
                trainer = KerasTrainer(CONFIGS[name], data, seed=s, total_steps=total)
            start = time.perf_counter()
            trainer.run(spec["accuracy_epochs"])
            seconds = time.perf_counter() - start
            emit(kind="accuracy", environment=spec["environment"], config=name, seed=s,
                 accuracy=trainer.accuracy(data["x_test"], data["y_test"]), seconds=seconds)
    emit(kind="info", environment=spec["environment"], load_end=loads())


# -------------------------------------------------------------------------------- driver


def run_worker(spec: dict) -> list[dict]:
    """Run one process of the plan; echo its accuracy results as they come."""
    env = dict(os.environ)
    env.update(ENVIRONMENTS[spec["environment"]].env)
    records = []
    with tempfile.TemporaryFile("w+") as stderr:
        with subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(spec)],
                              env=env, stdout=subprocess.PIPE, stderr=stderr,
                              text=True) as process:
            for line in process.stdout:
                if line.startswith(RESULT):
                    records.append(json.loads(line[len(RESULT):]))
                    if records[-1]["kind"] == "accuracy":
                        r = records[-1]
                        print(f"  [{r['environment']}] {r['config']} seed {r['seed']}: test "
                              f"accuracy {r['accuracy']:.3f} ({r['seconds']:.0f} s)",
                              flush=True)
        if process.returncode:
            stderr.seek(0)
            tail = "\n".join(stderr.read().splitlines()[-15:])
            print(f"  worker {spec['environment']} failed (exit {process.returncode}):\n{tail}")
    return records


def row_label(config: str) -> str:
    if config == "torch":
        return "PyTorch 2.13, the tutorial's M5 and loop"
    if config.startswith("torch"):
        return f"PyTorch 2.13, torch.set_num_threads({config[5:]})"
    return CONFIGS[config].label


def summarize(environment: str, records: list[dict]) -> list[dict]:
    """Print one process's table; return its Keras rows with their ratios."""
    rates = {r["config"]: r["rates"] for r in records if r["kind"] == "rate"}
    info = {k: v for r in records if r["kind"] == "info" for k, v in r.items()}
    print(f"\n[{environment}] {ENVIRONMENTS[environment].label}; Keras backend "
          f"{info.get('backend', '?')}; load average {info.get('load', '?')} at start, "
          f"{info.get('load_end', '?')} at end")
    for r in records:
        if r["kind"] in ("error", "note"):
            print(f"  {r['config']}: {r.get('error') or r.get('note')}")
    torch_rows = {k: v for k, v in rates.items() if k.startswith("torch")}
    if not torch_rows:
        return []
    reference = max(torch_rows, key=lambda k: np.median(torch_rows[k]))
    best_ref, median_ref = max(rates[reference]), float(np.median(rates[reference]))
    print(f"  {'configuration':62s} {'best':>7s} {'median':>7s}  {'best/torch':>10s} "
          f"{'median/torch':>12s}")
    rows = []
    for name, values in rates.items():
        best, median = max(values), float(np.median(values))
        ratio, median_ratio = best / best_ref, median / median_ref
        mark = " (reference)" if name == reference else ""
        print(f"  {row_label(name) + mark:62s} {best:7.0f} {median:7.0f}  {ratio:9.2f}x "
              f"{median_ratio:11.2f}x")
        if not name.startswith("torch"):
            rows.append(dict(environment=environment, config=name, best=best, median=median,
                             ratio=ratio, median_ratio=median_ratio, torch_best=best_ref,
                             torch_median=median_ref, torch=reference))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2,
                        help="epochs per timed pass (11 steps of batch 256 each)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed passes per row (0: only the accuracy check)")
    parser.add_argument("--accuracy-epochs", type=int, default=20,
                        help="epochs of the accuracy check (0 skips it)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds of the accuracy check")
    parser.add_argument("--only", nargs="*", default=None, choices=sorted(ENVIRONMENTS),
                        help="run only these processes of the plan")
    parser.add_argument("--data", default=None, help="FSDD directory (see fsdd.find_root)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return

    today = datetime.date.today().isoformat()
    print(f"M5 training throughput on FSDD, {today}: {os.cpu_count()} cores "
          f"({platform.machine()}), Python {platform.python_version()}; batch {BATCH}, "
          f"{args.epochs} epochs (of 2,700 clips, 11 steps) per timed pass, best and median "
          f"of {args.repeats}; load average (1, 5, 15 min) {loads()}")
    arrays = load_arrays(args.data)
    all_rows, accuracy, torch_medians = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fsdd.npz")
        np.savez(path, **arrays)
        for environment, throughput, acc in PLAN:
            if args.only is not None and environment not in args.only:
                continue
            spec = dict(environment=environment, throughput=throughput, accuracy=acc,
                        data=path, seed=args.seed, epochs=args.epochs,
                        repeats=args.repeats, accuracy_epochs=args.accuracy_epochs,
                        seeds=args.seeds)
            records = run_worker(spec)
            all_rows += summarize(environment, records)
            accuracy += [r for r in records if r["kind"] == "accuracy"]
            torch_medians += [(float(np.median(r["rates"])), environment, r["config"])
                              for r in records
                              if r["kind"] == "rate" and r["config"].startswith("torch")]

    ours = [r for r in all_rows if not CONFIGS[r["config"]].keras_batch_norm]
    keras_bn = [r for r in all_rows if CONFIGS[r["config"]].keras_batch_norm]
    print(f"\nsummary ({today}), Keras over the better PyTorch thread setting of the same "
          f"process, by median pass:")
    groups = (("fastest kerasaudio M5", ours), ("fastest with Keras BatchNormalization",
                                               keras_bn))
    for title, rows in groups:
        if rows:
            r = max(rows, key=lambda r: r["median_ratio"])
            print(f"  {title}: [{r['environment']}] {CONFIGS[r['config']].label}: "
                  f"{r['median']:.0f} samples/s against {r['torch_median']:.0f} "
                  f"({row_label(r['torch'])}): {r['median_ratio']:.2f}x "
                  f"(best passes {r['ratio']:.2f}x); target 1.2x "
                  f"{'met' if r['median_ratio'] >= 1.2 else 'not met'}")
    if torch_medians:
        # TensorFlow's thread pools can slow PyTorch's threads in the same process: the
        # strict comparison is against PyTorch's fastest median in any process of the run.
        fastest, environment, config = max(torch_medians)
        print(f"  strict: against PyTorch's fastest median pass of the run, {fastest:.0f} "
              f"samples/s ([{environment}] {row_label(config)}):")
        for title, rows in groups:
            if rows:
                r = max(rows, key=lambda r: r["median"])
                print(f"    {title}: [{r['environment']}] {CONFIGS[r['config']].label}: "
                      f"{r['median']:.0f} samples/s, {r['median'] / fastest:.2f}x; target "
                      f"1.2x {'met' if r['median'] >= 1.2 * fastest else 'not met'}")
    if accuracy:
        print(f"\ntest accuracy after {args.accuracy_epochs} epochs (official split, "
              f"cosine-decayed learning rate), per seed:")
        by_config = {}
        for r in accuracy:
            by_config.setdefault((r["environment"], r["config"]), []).append(r)
        for (environment, config), rs in by_config.items():
            values = " ".join(f"{r['accuracy']:.3f}" for r in rs)
            seconds = np.mean([r["seconds"] for r in rs])
            print(f"  {f'[{environment}] ' + row_label(config):78s} {values}  mean "
                  f"{np.mean([r['accuracy'] for r in rs]):.3f}  ({seconds:.0f} s per run)")


if __name__ == "__main__":
    main()
