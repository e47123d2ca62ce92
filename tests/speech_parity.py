"""Parity checks of the wav2vec 2.0 / HuBERT / WavLM sequence classifiers with transformers.

Shared by tests/test_wav2vec2.py and tests/test_hubert_wavlm.py: a small random
`*ForSequenceClassification` (norms, biases and gates perturbed away from their
initial values, so a swapped or dropped tensor shows), saved with `save_pretrained` and
converted with the family's `convert.from_huggingface`; the converted classifier's logits
and the converted encoder's every hidden state are compared with the reference's, within
`TOLERANCE` of the reference's scale (its largest magnitude).
"""

from __future__ import annotations

import keras
import numpy as np
from scipy.signal import resample_poly

#: Largest accepted |Keras - transformers| relative to the reference's largest magnitude.
TOLERANCE = 1e-4
SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=48,
             conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
VARIANTS = {
    "group_postnorm": dict(feat_extract_norm="group", do_stable_layer_norm=False,
                           conv_bias=False),
    "layer_prenorm": dict(feat_extract_norm="layer", do_stable_layer_norm=True,
                          conv_bias=True),
}
LABELS = {0: "zero", 1: "one", 2: "two"}


def speech_16k(clips, samples: int | None = None) -> list[np.ndarray]:
    """Real FSDD recordings (8 kHz) resampled to 16 kHz, optionally cut to `samples`."""
    out = [resample_poly(c, 2, 1).astype("float32") for c in clips]
    return [c[:samples] for c in out] if samples else out


def reference_classifier(torch, config_class, model_class, variant: str, **options):
    """A random `model_class` (a transformers `*ForSequenceClassification`), eval mode."""
    config = config_class(**SMALL, **VARIANTS[variant], num_labels=len(LABELS),
                          id2label=LABELS, label2id={v: k for k, v in LABELS.items()},
                          classifier_proj_size=8, **options)
    torch.manual_seed(0)
    model = model_class(config).eval()
    with torch.no_grad():
        for key, parameter in model.named_parameters():
            if ("norm" in key or key.endswith("bias") or "layer_weights" in key
                    or "gru_rel_pos_const" in key):
                parameter.add_(0.2 * torch.randn_like(parameter))
    return model


def reference_outputs(torch, model, audio, mask=None):
    """(logits, hidden states) of the reference; the states end with last_hidden_state."""
    base = getattr(model, model.config.model_type)
    inputs = torch.from_numpy(np.asarray(audio, "float32"))
    attention = None if mask is None else torch.from_numpy(np.asarray(mask)).long()
    with torch.no_grad():
        logits = model(inputs, attention_mask=attention).logits.numpy()
        out = base(inputs, attention_mask=attention, output_hidden_states=True)
    return logits, [*[h.numpy() for h in out.hidden_states[:-1]],
                    out.last_hidden_state.numpy()]


def keras_outputs(convert, directory, audio, mask=None, **options):
    """(logits, hidden states) of the converted classifier and encoder."""
    padded = mask is not None
    inputs = audio if not padded else {"audio": audio, "padding_mask": mask}
    classifier = convert.from_huggingface(directory, padding_mask=padded, **options)
    encoder = convert.from_huggingface(directory, include_top=False, padding_mask=padded,
                                       output_hidden_states=True)
    logits = keras.ops.convert_to_numpy(classifier.predict_on_batch(inputs))
    states = [keras.ops.convert_to_numpy(h) for h in encoder.predict_on_batch(inputs)]
    return classifier, logits, states


def relative_errors(ours, reference, frames: int | None = None) -> list[float]:
    """|ours - reference| / max|reference| for each pair (over the first `frames`)."""
    errors = []
    for a, b in zip(ours, reference, strict=True):
        if frames is not None and a.ndim == 3:
            a, b = a[:, :frames], b[:, :frames]
        errors.append(float(np.abs(a - b).max() / np.abs(b).max()))
    return errors


def check_classifier(torch, convert, reference, directory, audio) -> keras.Model:
    """Logits and every hidden state of an unpadded batch within `TOLERANCE`."""
    classifier, logits, states = keras_outputs(convert, directory, audio)
    ref_logits, ref_states = reference_outputs(torch, reference, audio)
    assert classifier.audio_info.class_names == tuple(LABELS.values())
    assert logits.shape == ref_logits.shape and len(states) == len(ref_states)
    errors = relative_errors([logits, *states], [ref_logits, *ref_states])
    assert max(errors) <= TOLERANCE, errors
    # Not trivially equal: the clips' states and the layers differ.
    assert np.abs(states[-1][0] - states[-1][1]).max() > 0.1
    assert np.abs(states[0] - states[-1]).max() > 0.1
    return classifier


def check_padded(torch, convert, reference, directory, clips, *, masked_reference: bool):
    """A padded batch (garbage in the padding) with its mask, row by row.

    Each row equals the reference on that clip alone; with `masked_reference` (models
    whose feature encoder has no group norm) also the reference on the padded batch
    with its attention mask.
    """
    long, short = clips
    audio = np.full((2, len(long)), 0.5, "float32")  # the padding must not matter
    mask = np.zeros((2, len(long)), "float32")
    audio[0], audio[1, :len(short)] = long, short
    mask[0], mask[1, :len(short)] = 1, 1
    _, logits, states = keras_outputs(convert, directory, audio, mask)
    for row, clip in enumerate(clips):
        alone_logits, alone_states = reference_outputs(torch, reference, clip[None])
        frames = alone_states[-1].shape[1]
        errors = relative_errors([logits[row:row + 1], *[h[row:row + 1] for h in states]],
                                 [alone_logits, *alone_states], frames)
        assert max(errors) <= TOLERANCE, (row, errors)
    if masked_reference:
        ref_logits, ref_states = reference_outputs(torch, reference, audio * mask, mask)
        frames = reference._get_feat_extract_output_lengths(len(short))
        errors = relative_errors([logits[1:], *[h[1:] for h in states]],
                                 [ref_logits[1:], *[h[1:] for h in ref_states]], int(frames))
        assert max(errors) <= TOLERANCE, errors


def check_weighted_layer_sum(torch, convert, reference, directory, audio) -> None:
    """`use_weighted_layer_sum` with both `layer_sum_final_norm` settings.

    Expected logits are computed with the reference's own head modules
    (`layer_weights`, `projector`, `classifier`) from its hidden states, the last one
    taken after the closing layer norm (True) or as the last layer put it out (False,
    captured with a forward hook); the reference's own forward pass must equal one of
    the two (transformers 4 and 5 differ here for pre-norm models).
    """
    base = getattr(reference, reference.config.model_type)
    captured = []
    hook = base.encoder.layers[-1].register_forward_hook(
        lambda module, args, out: captured.append(out[0] if isinstance(out, tuple) else out))
    inputs = torch.from_numpy(np.asarray(audio, "float32"))
    try:
        with torch.no_grad():
            out = base(inputs, output_hidden_states=True)
            logits = reference(inputs).logits.numpy()
            expected = {}
            for final_norm, last in ((True, out.last_hidden_state), (False, captured[0])):
                stacked = torch.stack([*out.hidden_states[:-1], last], dim=1)
                weights = torch.softmax(reference.layer_weights, dim=-1).view(-1, 1, 1)
                pooled = reference.projector((stacked * weights).sum(dim=1)).mean(dim=1)
                expected[final_norm] = reference.classifier(pooled).numpy()
    finally:
        hook.remove()
    assert min(np.abs(logits - e).max() for e in expected.values()) <= (
        TOLERANCE * np.abs(logits).max())
    for final_norm, want in expected.items():
        model = convert.from_huggingface(directory, layer_sum_final_norm=final_norm)
        assert model.get_layer("layer_sum").layer_weights.shape == (SMALL[
            "num_hidden_layers"] + 1,)
        got = keras.ops.convert_to_numpy(model.predict_on_batch(audio))
        errors = relative_errors([got], [want])
        assert max(errors) <= TOLERANCE, (final_norm, errors)
