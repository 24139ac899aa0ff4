#!/usr/bin/env python
"""What the DAMSM-shapes encoders can tell apart: a linear probe per scene attribute.

    python scripts/probe_damsm.py [--damsm damsm.shapes] [--train 3000] [--test 1000] [--json]

R-precision (zoo eval --metrics r_precision) ranks captions by DAMSM similarity, so it can only
reward what the DAMSM codes carry. This fits a logistic regression per attribute (layout,
shape, colour and size of each object, background) on (a) the DAMSM image code of train images,
(b) the DAMSM sentence code of their first caption, and reports accuracy on test images next to
the chance rate (the most common value). An attribute the image code cannot predict is one
R-precision is blind to; caption accuracy (the attribute classifier) still scores it.
Also reported, on test scenes and their twins (the same scene with one shape changed, one
colour changed, or the two objects of a pair exchanged): how often an image's code is closer
to its own caption than to its twin's, and a caption's code closer to its own image than to the
twin image (chance 0.5). And whether the sentence code says which object of a pair comes first:
on every caption of a two-object scene with two colours, the upper (or left) object's colour
predicted from the sentence code by a linear probe and by a one-hidden-layer MLP (chance about
0.5: the caption names both colours). A generator's first stage reads only this code.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402


@torch.no_grad()
def codes(damsm, data, batch: int = 250) -> tuple[np.ndarray, np.ndarray]:
    """(image codes, first-caption sentence codes) of a ShapesData split."""
    x = data.images.float() / 127.5 - 1
    image = torch.cat([damsm.encode_images(x[i:i + batch])[1] for i in range(0, len(x), batch)])
    first = [caps[0] for caps in data.captions]
    sentence = torch.cat([damsm.encode_text(first[i:i + batch])[1] for i in range(0, len(first), batch)])
    return image.numpy(), sentence.numpy()


@torch.no_grad()
def twin_accuracy(damsm, scenes, twins) -> dict[str, float]:
    """Pairwise shape discrimination of the global codes on scenes vs their shape twins."""
    import torch.nn.functional as F

    img, sen = (F.normalize(torch.as_tensor(c), dim=1) for c in codes(damsm, scenes))
    twin_img, twin_sen = (F.normalize(torch.as_tensor(c), dim=1) for c in codes(damsm, twins))
    own = (img * sen).sum(1)
    return {"image_prefers_own_caption": round(float((own > (img * twin_sen).sum(1)).float().mean()), 3),
            "caption_prefers_own_image": round(float((own > (twin_img * sen).sum(1)).float().mean()), 3)}


def probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    """Test accuracy of a logistic regression fitted on standardised codes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    return float(model.fit(train_x, train_y).score(test_x, test_y))


@torch.no_grad()
def order_probe(damsm, train, test) -> dict[str, float]:
    """Test accuracy of the upper/left object's colour read from the sentence code of every
    caption naming two objects of different colours (linear and MLP probes)."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from zoo_core.data.shapes import parse_caption

    def data(split):
        stated = [(c, parse_caption(c)) for caps in split.captions for c in caps]
        kept = [(c, p["colour0"]) for c, p in stated if p.get("colour1", p.get("colour0")) != p.get("colour0")]
        text = [c for c, _ in kept]
        codes = torch.cat([damsm.encode_text(text[i:i + 500])[1] for i in range(0, len(text), 500)])
        return codes.numpy(), np.array([y for _, y in kept])

    (x_tr, y_tr), (x_te, y_te) = data(train), data(test)
    mlp = make_pipeline(StandardScaler(), MLPClassifier((256,), max_iter=500, random_state=0))
    return {"linear": round(probe(x_tr, y_tr, x_te, y_te), 3),
            "mlp": round(float(mlp.fit(x_tr, y_tr).score(x_te, y_te)), 3), "captions": len(y_te)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--damsm", default="damsm.shapes", help="catalog name or folder of the encoders")
    parser.add_argument("--train", type=int, default=3000, help="train images to fit the probes on")
    parser.add_argument("--test", type=int, default=1000, help="test images to score them on")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    from zoo_core.blocks.t2i_training import load_damsm
    from zoo_core.data.shapes import ATTRIBUTES, generate, shape_twins

    damsm = load_damsm(args.damsm)
    train, test = generate("train", n=args.train), generate("test", n=args.test)
    (img_tr, sen_tr), (img_te, sen_te) = codes(damsm, train), codes(damsm, test)
    y_tr, y_te = np.asarray(train.labels), np.asarray(test.labels)
    rows = []
    for j, name in enumerate(ATTRIBUTES):
        chance = float(np.bincount(y_te[:, j]).max() / len(y_te))
        rows.append({"attribute": name, "chance": round(chance, 3),
                     "image_code": round(probe(img_tr, y_tr[:, j], img_te, y_te[:, j]), 3),
                     "sentence_code": round(probe(sen_tr, y_tr[:, j], sen_te, y_te[:, j]), 3)})
    twins = {kind: twin_accuracy(damsm, test, shape_twins("test", n=args.test, change=kind))
             for kind in ("shape", "colour", "swap")}
    order = order_probe(damsm, train, test)
    if args.json:
        print(json.dumps({"damsm": args.damsm, "train": args.train, "test": args.test, "probes": rows,
                          "twins": twins, "pair_order_from_sentence": order}, indent=2))
        return 0
    print(f"linear probes on {args.damsm} codes ({args.train} train / {args.test} test images)")
    print(f"{'attribute':<12}{'chance':>8}{'image':>8}{'sentence':>10}")
    for r in rows:
        print(f"{r['attribute']:<12}{r['chance']:>8.3f}{r['image_code']:>8.3f}{r['sentence_code']:>10.3f}")
    for kind, acc in twins.items():
        print(f"{kind} twins (chance 0.5): " + ", ".join(f"{k} {v:.3f}" for k, v in acc.items()))
    print(f"which object of a pair comes first, from the sentence code ({order['captions']} test captions, "
          f"chance about 0.5): linear {order['linear']:.3f}, MLP {order['mlp']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
