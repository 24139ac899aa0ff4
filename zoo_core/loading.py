"""zoo.load: a catalog name or a model folder -> a ready model with its weights."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .catalog import get_catalog
from .errors import BadInputError, IntegrityError, NotPulledError

if TYPE_CHECKING:
    import torch

    from .model import GenerativeModel


def parse_device(device: "str | torch.device | None") -> "torch.device":
    """A torch.device that exists here; a clear error otherwise."""
    import torch

    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise BadInputError(f"unknown device {device!r}; use cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BadInputError(f"device {device!r} asked for, but CUDA is not available here; use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise BadInputError(f"device {device!r} does not exist; this machine has {torch.cuda.device_count()} GPU(s)")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise BadInputError("device 'mps' asked for, but MPS is not available here; use --device cpu")
    if dev.type not in {"cpu", "cuda", "mps"}:
        raise BadInputError(f"unsupported device {device!r}; use cpu, cuda, cuda:N or mps")
    return dev


def is_model_dir(name: str | Path) -> bool:
    """True when `name` points at a folder (a saved or converted model repo)."""
    return Path(name).is_dir() and (Path(name) / "config.json").exists()


def resolve_files(name: str, *, pull: bool = True, progress: bool = True) -> tuple[Path, Any]:
    """The folder holding a model's files, and its spec (None for a local folder)."""
    from . import hub

    if is_model_dir(name):
        return Path(name), None
    spec = get_catalog().resolve(str(name))
    path = hub.snapshot_path(spec)
    if path is None:
        if not pull:
            raise NotPulledError(f"{spec.name} is not pulled; run `zoo pull {spec.name}`")
        path = hub.pull(spec, progress=progress)
    problems = hub.verify(spec)
    if problems:
        raise IntegrityError(
            f"{spec.name}: {problems[0]}; run `zoo pull --force {spec.name}` to fetch it again")
    return path, spec


def load(name: str | Path, *, device: "str | torch.device | None" = None, pull: bool = True,
         progress: bool = True) -> "GenerativeModel":
    """Load a model by catalog name ("dcgan", "dcgan.digits") or from a model folder.

    Pulls the files first when needed (``pull=False`` refuses), checks every file's sha256,
    and returns the model in eval mode on ``device`` with ``model.spec`` set.
    """
    from .model import read_family

    dev = parse_device(device)
    path, spec = resolve_files(str(name), pull=pull, progress=progress)
    family_name = spec.family if spec is not None else read_family(path)
    family = get_catalog().family(family_name)
    cls = family.load_class()
    model = cls.from_pretrained(str(path), map_location=str(dev))
    model.spec = spec
    model.dataset = spec.dataset if spec is not None else card_dataset(path)
    return model.to(dev).eval()


def card_dataset(model_dir: str | Path) -> str | None:
    """The first data set a model folder's card names in its metadata (``datasets:``), if any."""
    from huggingface_hub import ModelCard

    card_path = Path(model_dir) / "README.md"
    try:
        datasets = ModelCard.load(card_path).data.datasets if card_path.exists() else None
    except Exception:  # a card without YAML metadata names nothing
        return None
    if isinstance(datasets, str):
        return datasets
    return str(datasets[0]) if datasets else None
