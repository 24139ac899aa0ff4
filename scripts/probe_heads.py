#!/usr/bin/env python
"""What do the discriminators' attribute heads read? Their shape accuracy on real and on
generated test scenes, stage by stage, from a training run's saved discriminators.

    python scripts/probe_heads.py MODEL DISC_STATE [--scenes 400] [--seed 0] [--json]

DISC_STATE is the ``-K disc_state=...`` file of a run trained with ``-K d_aux`` (it holds each
stage's discriminator ``netD{i}`` and head ``auxD{i}``); MODEL the generator of that run. The
real scenes are resized to each stage's size as in training (``attn_shapes.stage_reals``); the
generated ones are drawn for one caption of each scene. Stages of 64x64 or more are also read
softened (``blocks.soften``), as ``-K soften=true`` trains them. A head that reads real shapes
poorly cannot teach the generator shapes through ``-K g_aux``, however large its weight.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe_common import positive_int, probe_parser, test_prompts  # noqa: E402


def load_heads(path: str, model: Any) -> tuple[list[Any], list[Any]]:
    """(discriminators, attribute heads), one per stage of ``model``, with the weights in ``path``;
    a one-line ``BadInputError`` when the file is missing or holds no heads for these stages."""
    from safetensors.torch import load_file

    from zoo_core.blocks.attn_discriminators import make_discriminator
    from zoo_core.blocks.aux_attributes import AttributeHead
    from zoo_core.errors import BadInputError

    if not Path(path).is_file():
        raise BadInputError(f"no discriminator state at {path}: give the -K disc_state file of a training run")
    tensors = load_file(path)
    netsD, heads = [], []
    for i, size in enumerate(model.sizes):
        netD = make_discriminator(size, model.ndf, model.text_dim)
        head = AttributeHead(netD.df_dim * 8 * 4 * 4)
        for name, module in ((f"netD{i}", netD), (f"auxD{i}", head)):
            state = {k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(f"{name}/")}
            if not state:
                raise BadInputError(f"{path} has no {name}: it was not written by a run of this model "
                                    f"trained with -K d_aux")
            try:
                module.load_state_dict(state)
            except RuntimeError:
                raise BadInputError(f"{path}: {name} does not fit this model's stage {i} "
                                    f"({size}x{size}, ndf {model.ndf}); was it written for another config?") from None
        netsD.append(netD.train())  # training reads them in train mode (batch statistics)
        heads.append(head.eval())
    return netsD, heads


def head_accuracy(netD: Any, head: Any, images: Any, labels: Any) -> dict[str, float]:
    """The head's accuracy on ``images`` (in [-1, 1]) against ``labels`` (N, attributes): each
    shape column, their mean, and the mean over every attribute."""
    import torch

    from zoo_core.blocks.aux_attributes import SHAPE_COLUMNS

    with torch.no_grad():
        logits = head(netD(images))
    hits = [float((lg.argmax(1) == labels[:, j]).float().mean()) for j, lg in enumerate(logits)]
    shapes = {f"shape{k}": round(hits[j], 3) for k, j in enumerate(SHAPE_COLUMNS)}
    return {**shapes, "shapes": round(sum(shapes.values()) / len(shapes), 3),
            "all": round(sum(hits) / len(hits), 3)}


def main(argv: list[str] | None = None) -> int:
    parser = probe_parser(__doc__)
    parser.add_argument("disc_state", help="the run's -K disc_state .safetensors file")
    parser.add_argument("--scenes", type=positive_int, default=400, help="test scenes to read")
    args = parser.parse_args(argv)
    import torch

    import zoo
    from zoo_core.blocks.attn_shapes import stage_reals
    from zoo_core.blocks.soften import soften, softens
    from zoo_core.data.shapes import load_shapes
    from zoo_core.errors import BadInputError

    torch.set_num_threads(1)
    try:
        model = zoo.load(args.model, progress=False)
        netsD, heads = load_heads(args.disc_state, model)
    except BadInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    x01, labels = load_shapes("test", with_attributes=True, n=args.scenes)
    labels = torch.as_tensor(labels, dtype=torch.long)
    prompts = test_prompts(args.scenes)  # one caption of each of those scenes
    reals = stage_reals(torch.as_tensor(x01).float(), model.sizes)
    rows = []
    for k, (size, netD, head) in enumerate(zip(model.sizes, netsD, heads)):
        fakes = model.sample(len(prompts), prompt=prompts, generator=args.seed, stage=k,
                             progress=False).images01() * 2 - 1
        row: dict[str, Any] = {"stage": k, "size": size, "real": head_accuracy(netD, head, reals[size], labels),
                               "generated": head_accuracy(netD, head, fakes, labels)}
        if softens(size):
            row["real softened"] = head_accuracy(netD, head, soften(reals[size]), labels)
            row["generated softened"] = head_accuracy(netD, head, soften(fakes), labels)
        rows.append(row)
    if args.json:
        print(json.dumps({"model": args.model, "disc_state": args.disc_state, "scenes": args.scenes,
                          "stages": rows}, indent=2))
        return 0
    print(f"{'stage':>5} {'size':>4}  {'images':<20} {'shape0':>6} {'shape1':>6} {'shapes':>6} {'all':>6}")
    for row in rows:
        for name in ("real", "real softened", "generated", "generated softened"):
            if name in row:
                r = row[name]
                print(f"{row['stage']:>5} {row['size']:>4}  {name:<20} {r['shape0']:>6.3f} {r['shape1']:>6.3f} "
                      f"{r['shapes']:>6.3f} {r['all']:>6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
