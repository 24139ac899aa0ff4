#!/usr/bin/env python
"""Publish a trained zoo model folder into the hub mirror and the first-party catalog.

    python scripts/publish.py DIR --name dcgan.digits --repo-id zoo-models/dcgan-digits \
        --dataset digits [--default] [--license MIT] [--paper URL] [--description TEXT]

1. writes DIR/README.md, the model card (zoo_core.card), from config.json, the weights and
   DIR/training.json (the trainer's report: recipe, wall time, final losses, metrics);
2. copies config.json, model.safetensors and README.md to MIRROR/<org>/<name>/
   (zoo_core.hub.publish.write_to_mirror), which gives the content revision and file hashes;
3. adds or replaces the entry in registry.yaml, keeping the other entries and the header
   comment (with --default, other tags of the same arch stop being the default).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "scripts"):  # zoo_core and plugins; train.py beside this file
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from train import find_family  # noqa: E402  (after the path above: scripts/train.py serves both scripts)

REPO_FILES = ("config.json", "model.safetensors", "README.md")


def build_card(model_dir: Path, *, name: str, repo_id: str, dataset: str, license: str,
               paper: str | None, description: str | None, task: str | None):
    """(ModelCard, family record) for a saved model folder."""
    from zoo_core.card import ModelCard
    from zoo_core.model import read_family

    family_name = read_family(model_dir)
    fam = find_family(family_name)
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    config.pop("zoo_family", None)
    cls = fam.load_class()
    model = cls.from_pretrained(str(model_dir))  # proves the folder loads before publishing
    report_path = model_dir / "training.json"
    report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else {}
    training = {k: report[k] for k in ("recipe", "wall_time_s", "final") if k in report}
    card = ModelCard(
        name=name,
        family=family_name,
        task=task or (fam.tasks[0] if fam.tasks else ""),
        repo_id=repo_id,
        dataset=dataset,
        license=license,
        paper=paper if paper is not None else fam.paper,
        description=description if description is not None else fam.description,
        config=config,
        num_parameters=model.num_parameters(),
        weights_bytes=(model_dir / "model.safetensors").stat().st_size,
        samplers=tuple(cls.samplers),
        value_range=tuple(cls.value_range),
        training=training,
        metrics=report.get("metrics") or {},
        notes=getattr(cls, "card_notes", "") or "",
    )
    return card, fam


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock beside `path`, so concurrent publishes do not lose each other's entry."""
    import fcntl
    import hashlib

    key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"zoo-registry-{key}.lock", "a") as f:  # not in the repo
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def update_registry(path: Path, name: str, entry: dict[str, Any], *, default: bool) -> None:
    """Add or replace `name` in registry.yaml, keeping the rest and the leading comment."""
    import yaml

    from zoo_core.spec import ModelSpec

    ModelSpec.from_dict(name, entry, source=path.name)  # refuse to write an invalid entry
    with locked(path):
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        header = []
        for line in text.splitlines():
            if not line.startswith("#"):
                break
            header.append(line)
        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise SystemExit(f"{path} is not a mapping; fix it by hand first")
        data.setdefault("version", 1)
        models = data.get("models") or {}
        if default:
            arch = name.split(".", 1)[0]
            for other, raw in models.items():
                if other != name and str(other).split(".", 1)[0] == arch and isinstance(raw, dict):
                    raw["default"] = False
        models[name] = entry
        data["models"] = models
        body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(("\n".join(header) + "\n" if header else "") + body, encoding="utf-8")
        tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path, help="model folder written by save_pretrained")
    parser.add_argument("--name", required=True, help="catalog name, arch.tag")
    parser.add_argument("--repo-id", required=True, help="org/name in the mirror")
    parser.add_argument("--dataset", default="")
    parser.add_argument("--task", default=None, help="default: the family's first task")
    parser.add_argument("--default", action="store_true", help="make this the arch's default tag")
    parser.add_argument("--license", default="MIT")
    parser.add_argument("--paper", default=None, help="default: the family's paper")
    parser.add_argument("--description", default=None, help="default: the family's description")
    parser.add_argument("--mirror", type=Path, default=ROOT / "hub", help="mirror root (default: hub/)")
    parser.add_argument("--registry", type=Path, default=ROOT / "registry.yaml")
    args = parser.parse_args(argv)

    from zoo_core.hub.publish import write_to_mirror

    model_dir: Path = args.dir
    for fname in ("config.json", "model.safetensors"):
        if not (model_dir / fname).exists():
            print(f"{model_dir} has no {fname}; save the model with save_pretrained first", file=sys.stderr)
            return 2
    description = args.description
    card, fam = build_card(model_dir, name=args.name, repo_id=args.repo_id, dataset=args.dataset,
                           license=args.license, paper=args.paper, description=description,
                           task=args.task)
    (model_dir / "README.md").write_text(card.render(), encoding="utf-8")

    with tempfile.TemporaryDirectory(prefix="zoo-publish-") as stage:
        for fname in REPO_FILES:  # only the repo's files: not training.json or anything else
            shutil.copyfile(model_dir / fname, Path(stage) / fname)
            (Path(stage) / fname).chmod(0o644)  # safetensors writes 0600; the mirror is read by all
        published = write_to_mirror(stage, args.mirror, args.repo_id)

    entry = {
        "family": card.family,
        "task": card.task,
        "repo_id": args.repo_id,
        "revision": published["revision"],
        "files": published["files"],
        "dataset": args.dataset,
        "paper": card.paper,
        "license": args.license,
        "description": card.description,
        "default": bool(args.default),
        "metrics": dict(card.metrics),
    }
    update_registry(args.registry, args.name, entry, default=args.default)
    size = sum(f["size"] for f in published["files"].values())
    print(f"published {args.name} -> {args.mirror / args.repo_id} @ {published['revision'][:12]} "
          f"({len(published['files'])} files, {size / 1e6:.2f} MB); registry: {args.registry}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
