"""The recipes' input pipelines: FSDD tables in, batches of waveforms and one-hot labels out.

Clips are read through `kerasaudio.data.audio_dataset` (decoded once per run and cached
in memory), fitted to the recipe's window (`augment.length_mode` in training, centred at
test time), labelled one-hot, mixed up in training when the recipe says so, and sharded
by data under a multi-worker strategy.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import tensorflow as tf

from kerasaudio.data import audio_dataset
from kerasaudio.datasets import fsdd
from kerasaudio.errors import InvalidOptionError
from kerasaudio.training.recipe import Recipe

__all__ = ["dataset", "finish", "load_index", "with_extra"]


def load_index(data: str | None = None, *, sample: bool = False) -> pd.DataFrame:
    """The FSDD table (`fsdd.load`): the full dataset, or the bundled 120-clip sample.

    Example:
    ```python
    from kerasaudio.training.pipeline import load_index

    load_index(sample=True).shape[0]  # 120
    ```
    """
    return fsdd.load(sample=True) if sample else fsdd.load(data)


def with_extra(train_df: pd.DataFrame, extra: pd.DataFrame | None) -> pd.DataFrame:
    """`train_df` followed by the extra training clips, if any (unchanged if none)."""
    return train_df if extra is None else pd.concat([train_df, extra], ignore_index=True)


def dataset(recipe: Recipe, frame: pd.DataFrame, *, train: bool,
            class_names: Sequence[str] | None = None,
            speakers: Sequence[str] = ()) -> tf.data.Dataset:
    """`(waveform, one-hot label)` batches of `frame` (a table in `fsdd.load`'s form).

    Training batches are full (the remainder is dropped: every replica of every worker
    then runs the same number of steps) and shuffled with the recipe's seed; test
    batches keep every clip in order.

    Args:
        recipe: the recipe (task, window, batch size, length mode, mixup).
        frame: the clips.
        train: training batches (shuffled, augmented length mode, mixup) or test batches.
        class_names: the label's classes (default: the task's); the label column is
            `digit` for the digits task and `speaker` for the speakers task.
        speakers: digits task with speaker-adversarial training: the label is the one-hot
            digit followed by the one-hot speaker (index in `speakers`), so that mixup
            mixes both alike.

    Returns:
        A prefetched `tf.data.Dataset`.

    Example:
    ```python
    from kerasaudio.training import load_recipe
    from kerasaudio.training.pipeline import dataset, load_index

    recipe = load_recipe("m5_fsdd_digits", ["training.batch_size=8"])
    x, y = next(iter(dataset(recipe, load_index(sample=True), train=True)))
    x.shape, y.shape  # (8, 8000), (8, 10)
    ```
    """
    names = list(recipe.class_names if class_names is None else class_names)
    column = "speaker" if recipe.task == "speakers" else "digit"
    classes = len(names)
    if speakers:
        if recipe.task != "digits":
            raise InvalidOptionError("speaker-adversarial labels are for the digits task.")
        # One joint class per (speaker, digit), split into the two one-hots below.
        column = "_speaker_digit"
        frame = frame.assign(**{column: [speakers.index(s) * classes + int(d) for s, d in
                                         zip(frame["speaker"], frame["digit"], strict=True)]})
        names = [str(i) for i in range(classes * len(speakers))]
    ds = audio_dataset(
        frame, classes=names, label_column=column, sample_rate=recipe.sample_rate,
        duration=recipe.duration, batch_size=recipe.training.batch_size, shuffle=train,
        seed=recipe.seed, cache=True, deterministic=True, drop_remainder=train,
        length_mode=recipe.augment.length_mode if train else "center")
    if speakers:
        ds = ds.map(lambda x, y: (x, tf.concat(
            [tf.one_hot(y % classes, classes), tf.one_hot(y // classes, len(speakers))], -1)))
    else:
        ds = ds.map(lambda x, y: (x, tf.one_hot(y, classes)))
    return finish(ds, recipe, train=train)


def finish(ds: tf.data.Dataset, recipe: Recipe, *, train: bool) -> tf.data.Dataset:
    """The end of every recipe pipeline, on `(waveform, float label rows)` batches:
    mixup in training when the recipe says so, sharding by data under a multi-worker
    strategy, prefetch."""
    from kerasaudio.layers import augment as augment_layers

    if train and recipe.augment.mixup_alpha:
        mixup = augment_layers.MixUp(alpha=recipe.augment.mixup_alpha, seed=recipe.seed)
        # Sequential map: the draws come in batch order, the same in every run.
        ds = ds.map(lambda x, y: mixup((x, y), training=True))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
