"""Register kerasaudio's layers and models with Keras without importing Keras early.

`import kerasaudio` calls `register_with_keras()`. When Keras is already imported, the
layers and model families are imported (and so registered with Keras' serialization)
at once. Otherwise a one-shot import hook does it right after the first `import keras`,
so `.keras` files that use kerasaudio layers load whichever of the two is imported first,
while a process that never imports Keras (e.g. one that only runs `.tflite` files with
`kerasaudio.runtime`) never loads Keras or TensorFlow because of kerasaudio. When the
first `import keras` comes from `kerasaudio.layers` itself (`from kerasaudio import
layers` before any Keras import), the layers register as that import completes and the
model families on first use of `kerasaudio.models` (or a registry function).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings

#: What `_register` imports: every layer, every model family (their blocks) and the
#: metrics (`"lwlrap"` as a `compile` metric string).
_MODULES = ("kerasaudio.layers", "kerasaudio.models", "kerasaudio.metrics")


def _register() -> None:
    import kerasaudio.layers
    import kerasaudio.metrics
    import kerasaudio.models  # noqa: F401


def _initializing(name: str) -> bool:
    """Whether module `name` is being imported right now (its body has not finished)."""
    spec = getattr(sys.modules.get(name), "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


class _AfterKerasLoader:
    """Wraps Keras' loader: runs it, then registers kerasaudio with the loaded Keras."""

    def __init__(self, loader, finder):
        self._loader = loader
        self._finder = finder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        # Keras keeps its own loader on its spec (resource readers, reloads).
        module.__spec__.loader = module.__loader__ = self._loader
        self._loader.exec_module(module)
        if any(_initializing(name) for name in _MODULES):
            # Keras was imported by kerasaudio's layers or models themselves: that import
            # registers them when it finishes; importing them here would see them half done.
            return
        try:
            _register()
        except ImportError as exc:  # e.g. a Keras backend kerasaudio cannot load
            warnings.warn(f"kerasaudio: layers not registered with Keras ({exc}); "
                          "`.keras` files that use them will not load.", RuntimeWarning,
                          stacklevel=2)


class _AfterKerasFinder:
    """A `sys.meta_path` finder that wraps Keras' loader until Keras is loaded.

    It stays in place until the wrapped loader runs: `importlib.util.find_spec("keras")`
    (availability checks, e.g. TensorFlow's) also asks it, without loading Keras.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _AfterKerasLoader(spec.loader, self)
                return spec
        return None


def register_with_keras() -> None:
    """Register the layers and models now if Keras is loaded, else right after it loads."""
    if sys.modules.get("keras") is not None:
        _register()
    elif importlib.util.find_spec("keras") is not None and not any(
            isinstance(finder, _AfterKerasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterKerasFinder())
