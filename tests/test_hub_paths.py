"""`create_model(name, weights=...)` tells a local checkpoint path from a preset tag."""

import json

import pytest

import kerasaudio
from kerasaudio.errors import InvalidOptionError


@pytest.mark.parametrize("weights", ["ckpt", "ckpt/", "./ckpt"])
@pytest.mark.parametrize("name", ["wav2vec2_base", "ast"])
def test_a_checkpoint_directory_is_a_path_with_or_without_a_trailing_slash(
        name, weights, tmp_path, monkeypatch):
    """A Hugging Face checkpoint directory named relative to the working directory is
    read as one (here its config.json names another model type), never taken for a
    preset tag."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps({"model_type": "hubert"}))
    with pytest.raises(InvalidOptionError, match=r"is a 'hubert' checkpoint"):
        kerasaudio.create_model(name, weights=weights)
