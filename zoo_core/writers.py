"""Write Samples to disk: PNG grids, one file per sample, WAV, text or .npz.

Every file is written to a temporary name in the target folder and renamed into place, so
an interrupted run never leaves a half-written output.
"""
from __future__ import annotations

import io
import os
import tempfile
import wave
from pathlib import Path

from .atomic import write_bytes_atomic
from .errors import BadInputError
from .samples import Samples

GRID_SUFFIXES = {".png", ".jpg", ".jpeg"}
FILE_SUFFIXES = {".png": "image", ".jpg": "image", ".jpeg": "image", ".wav": "audio",
                 ".txt": "text", ".npz": "any"}
PER_SAMPLE_SUFFIX = {"image": ".png", "audio": ".wav", "text": ".txt", "sequence": ".txt"}


def output_mode(path: Path, kind: str) -> str:
    """'file' for a single output file, 'dir' for one file per sample; checks writability."""
    path = Path(path)
    suffix = path.suffix.lower()
    is_dir = path.is_dir() or str(path).endswith(os.sep) or not suffix
    if is_dir:
        target = path if path.exists() else _existing_parent(path)
        mode = "dir"
    else:
        allowed = FILE_SUFFIXES.get(suffix)
        if allowed is None:
            raise BadInputError(f"cannot write {suffix!r} files; use .png, .wav, .txt, .npz or a folder")
        if allowed not in ("any", kind) and not (kind == "sequence" and allowed == "text"):
            raise BadInputError(f"{kind} samples cannot be written as {suffix}; use "
                                f"{PER_SAMPLE_SUFFIX[kind]}, .npz or a folder")
        if not path.parent.exists():
            raise BadInputError(f"folder {str(path.parent)!r} does not exist; create it first")
        target = path.parent
        mode = "file"
    _check_writable(target)
    return mode


def _check_writable(folder: Path) -> None:
    """Create and remove a probe file: os.access says yes to root even on read-only mounts."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".zoo-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BadInputError(f"cannot write to {str(folder)!r}: {exc.strerror or exc}") from None


def _existing_parent(path: Path) -> Path:
    for parent in [path, *path.parents]:
        if parent.exists():
            return parent
    return Path(".")


def _png_bytes(images01, nrow: int | None = None) -> bytes:
    import torch
    from PIL import Image
    from torchvision.utils import make_grid

    n = images01.shape[0]
    if n > 1:
        ncol = nrow or max(1, int(round(n ** 0.5)))
        grid = make_grid(images01, nrow=ncol, padding=2, pad_value=1.0)
    else:
        grid = images01[0]
    arr = (grid * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    if arr.shape[2] == 1:
        arr = arr[:, :, 0]
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _wav_bytes(audio, sample_rate: int) -> bytes:
    import torch

    pcm = (audio.float().clamp(-1, 1) * 32767).round().to(torch.int16).numpy().tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm)
    return buf.getvalue()


def _text(samples: Samples, i: int) -> str:
    if samples.texts is not None:
        return samples.texts[i]
    return " ".join(str(int(t)) for t in samples.data[i].tolist())


def write_samples(samples: Samples, path: Path, *, nrow: int | None = None) -> list[Path]:
    """Write samples to `path` (a file or a folder); returns the files written."""
    path = Path(path)
    mode = output_mode(path, samples.kind)
    if mode == "dir":
        path.mkdir(parents=True, exist_ok=True)
        suffix = PER_SAMPLE_SUFFIX[samples.kind]
        written = []
        for i in range(len(samples)):
            target = path / f"{i:06d}{suffix}"
            write_bytes_atomic(target, _one(samples, i))
            written.append(target)
        return written
    suffix = path.suffix.lower()
    if suffix == ".npz":
        import numpy as np

        buf = io.BytesIO()
        np.savez(buf, samples=samples.data.numpy())
        data = buf.getvalue()
    elif suffix in GRID_SUFFIXES:
        data = _png_bytes(samples.images01(), nrow)
    elif suffix == ".wav":
        import torch

        data = _wav_bytes(torch.cat(list(samples.data)), samples.sample_rate or 16000)
    else:
        data = (format_texts(samples) + "\n").encode()
    write_bytes_atomic(path, data)
    return [path]


def write_extras(samples: Samples, output: Path) -> list[Path]:
    """Image-like extras (n, k, C, H, W), e.g. attention maps, as one grid each: a row per
    sample, next to the samples' file (``out.attention.png``) or inside their folder."""
    written = []
    for key, value in samples.extras.items():
        if not (hasattr(value, "dim") and value.dim() == 5):
            continue
        used = value.flatten(2).abs().amax(dim=(0, 2)) > 0  # e.g. padding words: black for every sample
        k = int(used.nonzero().max()) + 1 if used.any() else 1
        value = value[:, :k]
        n = value.shape[0]
        target = output / f"{key}.png" if output.is_dir() else output.with_name(f"{output.stem}.{key}.png")
        write_bytes_atomic(target, _png_bytes(value.reshape(n * k, *value.shape[2:]).float().clamp(0, 1), k))
        written.append(target)
    return written


SEPARATOR = "\n" + "-" * 40 + "\n"


def format_texts(samples: Samples) -> str:
    """Text samples separated by a rule line, since one sample may span many lines."""
    return SEPARATOR.join(_text(samples, i) for i in range(len(samples)))


def _one(samples: Samples, i: int) -> bytes:
    if samples.kind == "image":
        return _png_bytes(samples[i:i + 1].images01())
    if samples.kind == "audio":
        return _wav_bytes(samples.data[i], samples.sample_rate or 16000)
    return (_text(samples, i) + "\n").encode()
