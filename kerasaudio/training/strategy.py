"""`tf.distribute` strategies of a recipe run, by name, and which process writes outputs.

TensorFlow is imported when a strategy is made, not with this module (the command's
parser names the choices before TensorFlow loads).
"""

from __future__ import annotations

from kerasaudio.errors import InvalidOptionError

__all__ = ["STRATEGIES", "is_chief", "make_strategy"]

#: Strategy names (`make_strategy`, `--strategy`).
STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name: str = "default"):
    """`"default"` (one device), `"mirrored"` (all local devices) or `"multiworker"`.

    `"multiworker"` reads the cluster from the `TF_CONFIG` environment variable and must
    be created before any other TensorFlow call.

    Raises:
        InvalidOptionError: another name.

    Example:
    ```python
    from kerasaudio.training import make_strategy

    strategy = make_strategy("mirrored")
    strategy.num_replicas_in_sync  # the local devices
    ```
    """
    if name not in STRATEGIES:
        raise InvalidOptionError(f"strategy={name!r}: use one of {STRATEGIES}.")
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy) -> bool:
    """Whether this process writes the outputs: always, but under a multi-worker strategy
    only the chief (or worker 0 of a cluster without a chief)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())
