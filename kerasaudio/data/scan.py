"""The up-front check of every file `audio_dataset` reads (`probe`, no decoding beyond
the NaN/Inf and peak check of float files)."""

from __future__ import annotations

import warnings

from kerasaudio.audio_io import MAX_PEAK, probe
from kerasaudio.errors import AudioFileError, InvalidAudioError


def scan_files(paths: list[str], on_error: str, max_duration: float | None):
    """Probe every file. Returns (kept indices, infos, skipped (path, reason) pairs).

    Float files are read block by block for NaN/Inf and samples beyond `MAX_PEAK`; a
    header declaring more than `max_duration` is refused here, so iterating never meets
    a file too long to load."""
    kept, infos, skipped, truncated = [], [], [], []
    for i, path in enumerate(paths):
        try:
            info = probe(path, check_finite=True, max_duration=max_duration,
                         max_peak=MAX_PEAK)
        except AudioFileError as e:
            if on_error == "raise":
                raise
            skipped.append((path, e.reason))
            continue
        kept.append(i)
        infos.append(info)
        if info.warning:
            truncated.append(f"{path}: {info.warning}")
    if truncated:
        shown = "; ".join(truncated[:5]) + ("; ..." if len(truncated) > 5 else "")
        warnings.warn(
            f"{len(truncated)} of {len(paths)} files have a truncated data chunk and "
            f"are loaded as far as they go (through soundfile): {shown}",
            UserWarning,
            stacklevel=3,
        )
    if skipped:
        shown = "; ".join(f"{p}: {r}" for p, r in skipped[:5])
        shown += "; ..." if len(skipped) > 5 else ""
        warnings.warn(
            f"audio_dataset skipped {len(skipped)} of {len(paths)} files "
            f"(see the dataset's .skipped list): {shown}",
            UserWarning,
            stacklevel=3,
        )
    if not kept:
        raise InvalidAudioError(
            f"audio_dataset: all {len(paths)} files were skipped as unreadable; first: "
            f"{skipped[0][0]}: {skipped[0][1]}"
        )
    return kept, infos, skipped
