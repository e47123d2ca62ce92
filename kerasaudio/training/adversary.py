"""Speaker-adversarial training of the recipes: a gradient-reversal layer and a speaker head.

Training only: the speaker head is attached to the training twin
(`kerasaudio.training.fit.train`, the recipe's `adversary` section) and dropped
afterwards; the saved model is the plain digit model.
"""

from __future__ import annotations

import keras

from kerasaudio.errors import InvalidOptionError

__all__ = ["GradientReversal", "speaker_adversary_model"]


@keras.saving.register_keras_serializable(package="kerasaudio.training")
class GradientReversal(keras.layers.Layer):
    """The identity forward, the gradient times `-factor` backward.

    Placed between a feature extractor and a domain classifier (here: which of the
    training speakers said the clip), the classifier learns to tell the domains apart
    while the extractor receives the reversed gradient and learns features that make
    them indistinguishable (domain-adversarial training). Written with `keras.ops` only
    (`x0 + (-factor) * (x - x0)` with `x0 = stop_gradient(x)`: the value is exactly `x`,
    the derivative `-factor`), so it works on every backend; no weights.

    Args:
        factor: how strongly the reversed gradient reaches the layers below (lambda of
            Ganin & Lempitsky); 0 blocks it, as `stop_gradient` would.

    Example:
    ```python
    import keras
    from kerasaudio.training.adversary import GradientReversal

    embedding = keras.Input((128,))
    x = GradientReversal(factor=0.3)(embedding)
    speaker = keras.layers.Dense(5, activation="softmax")(x)
    ```

    Reference:
        Ganin & Lempitsky, "Unsupervised Domain Adaptation by Backpropagation", ICML 2015.
    """

    def __init__(self, factor: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = float(factor)
        if self.factor < 0:
            raise InvalidOptionError(f"factor={factor}: must be >= 0 (the sign is reversed here).")

    def call(self, inputs):
        x = keras.ops.convert_to_tensor(inputs)
        frozen = keras.ops.stop_gradient(x)
        return frozen + (-self.factor) * (x - frozen)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def speaker_adversary_model(model: keras.Model, speakers: int, *, factor: float,
                            units: int = 64, layer: str = "avg_pool") -> keras.Model:
    """`model` with a second output: speaker probabilities behind a gradient reversal.

    The head is `GradientReversal(factor)` -> `Dense(units, relu)` -> `Dense(speakers,
    softmax)` on the output of `model`'s layer `layer` (the pooled embedding of the CNNs).
    The returned model shares `model`'s layers and weights (training it trains `model`);
    its outputs are `[model's output, speaker probabilities]`.

    Args:
        model: the (training twin of the) digit model.
        speakers: number of speaker classes (the training speakers).
        factor: the gradient reversal's lambda.
        units: width of the head's hidden layer.
        layer: name of the layer of `model` whose output feeds the head.

    Returns:
        A model with `model`'s input and two outputs.

    Raises:
        InvalidOptionError: `model` has no layer named `layer`.

    Example:
    ```python
    from kerasaudio.training.adversary import speaker_adversary_model
    from kerasaudio.training.build import build_model
    from kerasaudio.training.recipe import load_recipe

    digits = build_model(load_recipe("logmel_cnn_fsdd_digits"), training=True)
    both = speaker_adversary_model(digits, 5, factor=0.1, layer="avg_pool")
    [tuple(t.shape) for t in both.outputs]  # [(None, 10), (None, 5)]
    ```
    """
    try:
        embedding = model.get_layer(layer).output
    except ValueError as error:
        raise InvalidOptionError(
            f"adversary.layer={layer!r}: {model.name} has no such layer.") from error
    x = GradientReversal(factor, name="speaker_reversal")(embedding)
    x = keras.layers.Dense(units, activation="relu", name="speaker_fc")(x)
    x = keras.layers.Dense(speakers, activation="softmax", name="speaker_predictions")(x)
    return keras.Model(model.input, [model.outputs[0], x], name=f"{model.name}_adversary")
