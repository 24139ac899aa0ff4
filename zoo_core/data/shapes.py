"""Procedural text-to-image data: coloured shapes on a background, with captions.

CUB and COCO cannot be reached here, so the text-to-image families train on scenes generated
from a seed: 64x64 RGB images of one or two shapes (6 shapes, 8 colours, 2 sizes) on a black,
grey or white background. One shape sits at a position (centre, top, bottom, left, right);
two shapes stand in a relation (one above / below / left of / right of the other). Every image
has ``CAPTIONS_PER_IMAGE`` captions of varied wording ("a small red circle above a blue
square", "there is a blue square under a little red circle on a black background") and its
attribute labels.

Labels are canonical, so the image alone determines them: for two shapes, object 0 is the
upper one (``layout == "vertical"``) or the left one (``"horizontal"``), whichever way a
caption words the relation. ``parse_caption`` maps a caption back to these labels (only the
attributes it mentions), which is what the caption-accuracy evaluator compares with the
attribute classifier's predictions.

Determinism: image i of a split is drawn from its own numpy generator seeded with
(SHAPES_VERSION, split, seed, i), so ``generate(split, n=100)`` is the first 100 images of the
full split, the same bytes on every run, and the train and test streams never share a seed.
Rendering uses numpy only (4x4 supersampled coverage for anti-aliasing). Arrays are cached in
memory, never on disk.
"""
from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

SHAPES_VERSION = "1.0"
SPLIT_SIZES = {"train": 8000, "test": 1000}
IMAGE_SIZE = 64
CAPTIONS_PER_IMAGE = 5
MAX_CAPTION_WORDS = 18  # AttnGAN's TEXT.WORDS_NUM; no caption of the grammar is longer

SHAPES = ("circle", "square", "triangle", "diamond", "star", "cross")
COLOURS = {  # name -> RGB, well apart in hue or lightness
    "red": (220, 30, 30), "orange": (245, 140, 0), "yellow": (240, 220, 20), "green": (30, 170, 40),
    "cyan": (0, 200, 220), "blue": (30, 60, 220), "purple": (140, 40, 190), "pink": (255, 120, 190),
}
BACKGROUNDS = {"black": (15, 15, 15), "gray": (128, 128, 128), "white": (240, 240, 240)}
SIZES = ("small", "large")
RADIUS = {"small": (6.5, 8.0), "large": (11.5, 13.5)}  # circumradius range in pixels
POSITIONS = ("center", "top", "bottom", "left", "right")
LAYOUTS = POSITIONS + ("vertical", "horizontal")  # one shape at a position / two in a relation
NONE = "none"

# Canonical attributes, in the column order of the label tensor.
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "layout": LAYOUTS,
    "shape0": SHAPES, "colour0": tuple(COLOURS), "size0": SIZES,
    "shape1": SHAPES + (NONE,), "colour1": tuple(COLOURS) + (NONE,), "size1": SIZES + (NONE,),
    "background": tuple(BACKGROUNDS),
}

# The caption grammar's words (each list: the synonyms of one value).
SHAPE_WORDS = {"circle": ["circle", "disc"], "square": ["square"], "triangle": ["triangle"],
               "diamond": ["diamond", "rhombus"], "star": ["star"], "cross": ["cross"]}
COLOUR_WORDS = {c: [c] for c in COLOURS} | {"purple": ["purple", "violet"]}
BACKGROUND_WORDS = {"black": ["black"], "gray": ["gray", "grey"], "white": ["white"]}
SIZE_WORDS = {"small": ["small", "little", "tiny"], "large": ["large", "big"]}
POSITION_PHRASES = {"center": ["in the center", "in the middle"], "top": ["at the top", "near the top"],
                    "bottom": ["at the bottom", "near the bottom"], "left": ["on the left", "at the left"],
                    "right": ["on the right", "at the right"]}
RELATION_PHRASES = {  # "A <phrase> B"
    "above": ["above", "over", "on top of"], "below": ["below", "under", "beneath", "underneath"],
    "left": ["to the left of", "left of", "on the left of"], "right": ["to the right of", "right of"],
}
BACKGROUND_PHRASES = ["on a {} background", "against a {} background", "with a {} background"]
SINGLE_TEMPLATES = ["{np} {pos}", "there is {np} {pos}", "{np} {pos} {bg}", "{pos} there is {np}",
                    "this image shows {np} {pos} {bg}", "a {bgc} background with {np} {pos}"]
PAIR_TEMPLATES = ["{np0} {rel} {np1}", "there is {np0} {rel} {np1}", "{np0} {rel} {np1} {bg}",
                  "{np0} is {rel} {np1}", "this image shows {np0} {rel} {np1}",
                  "a {bgc} background with {np0} {rel} {np1}"]


@dataclass
class ShapesData:
    """One split: uint8 images (N, 3, 64, 64), captions (N lists of CAPTIONS_PER_IMAGE), and
    attributes as dicts and as a LongTensor-ready int array (N, len(ATTRIBUTES))."""

    images: Any
    captions: list[list[str]]
    attributes: list[dict[str, str]]
    labels: Any


# -- scenes ------------------------------------------------------------------------------------
def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def sample_scene(rng: np.random.Generator) -> tuple[dict[str, str], list[tuple[float, float, float]]]:
    """Attributes (canonical labels) and one (cx, cy, radius) per object."""
    two = rng.random() < 0.6
    objs = []
    while len(objs) < (2 if two else 1):
        obj = (_pick(rng, SHAPES), _pick(rng, tuple(COLOURS)), _pick(rng, SIZES))
        if objs and obj[:2] == objs[0][:2]:
            continue  # two objects always differ in shape or colour, so captions are unambiguous
        objs.append(obj)
    layout = _pick(rng, LAYOUTS[5:]) if two else _pick(rng, POSITIONS)
    attrs = {"layout": layout, "background": _pick(rng, tuple(BACKGROUNDS))}
    for k in range(2):
        shape, colour, size = objs[k] if k < len(objs) else (NONE, NONE, NONE)
        attrs |= {f"shape{k}": shape, f"colour{k}": colour, f"size{k}": size}
    radii = [float(rng.uniform(*RADIUS[o[2]])) for o in objs]
    anchors = {"center": [(32, 32)], "top": [(32, 17)], "bottom": [(32, 47)], "left": [(17, 32)],
               "right": [(47, 32)], "vertical": [(32, 17), (32, 47)], "horizontal": [(17, 32), (47, 32)]}
    for _ in range(100):  # jitter the anchors; keep shapes inside and apart
        geo = []
        for (ax, ay), r in zip(anchors[layout], radii):
            cx = float(np.clip(ax + rng.uniform(-4, 4), r + 1, IMAGE_SIZE - r - 1))
            cy = float(np.clip(ay + rng.uniform(-4, 4), r + 1, IMAGE_SIZE - r - 1))
            geo.append((cx, cy, r))
        if len(geo) == 1 or np.hypot(geo[0][0] - geo[1][0], geo[0][1] - geo[1][1]) > geo[0][2] + geo[1][2] + 2:
            break
    return attrs, geo


def _polygon(shape: str, r: float) -> np.ndarray | None:
    """Vertices (k, 2) of a shape of circumradius r centred at 0 (y grows downwards)."""
    if shape == "square":
        s = 0.8 * r
        return np.array([(-s, -s), (s, -s), (s, s), (-s, s)])
    if shape == "diamond":
        return np.array([(0, -r), (r, 0), (0, r), (-r, 0)])
    if shape == "triangle":
        return np.array([(0, -r), (0.95 * r, 0.75 * r), (-0.95 * r, 0.75 * r)])
    if shape == "star":
        ang = -np.pi / 2 + np.arange(10) * np.pi / 5
        rad = np.where(np.arange(10) % 2 == 0, r, 0.45 * r)
        return np.stack([rad * np.cos(ang), rad * np.sin(ang)], 1)
    if shape == "cross":
        w = 0.32 * r
        return np.array([(-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r), (-w, r),
                         (-w, w), (-r, w), (-r, -w), (-w, -w)])
    return None  # circle


def _coverage(shape: str, cx: float, cy: float, r: float, ss: int = 4) -> np.ndarray:
    """Fraction of each pixel of the canvas the shape covers (ss x ss supersampling)."""
    out = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    x0, x1 = max(int(cx - r) - 1, 0), min(int(cx + r) + 2, IMAGE_SIZE)
    y0, y1 = max(int(cy - r) - 1, 0), min(int(cy + r) + 2, IMAGE_SIZE)
    off = (np.arange(ss) + 0.5) / ss
    px = (np.arange(x0, x1)[:, None] + off).reshape(-1) - cx
    py = (np.arange(y0, y1)[:, None] + off).reshape(-1) - cy
    X, Y = np.meshgrid(px, py)
    poly = _polygon(shape, r)
    if poly is None:
        inside = X * X + Y * Y <= r * r
    else:  # even-odd crossing test
        inside = np.zeros(X.shape, bool)
        for (ax, ay), (bx, by) in zip(poly, np.roll(poly, -1, 0)):
            if ay == by:
                continue
            crosses = ((ay > Y) != (by > Y)) & (X < (bx - ax) * (Y - ay) / (by - ay) + ax)
            inside ^= crosses
    cov = inside.reshape(y1 - y0, ss, x1 - x0, ss).mean((1, 3))
    out[y0:y1, x0:x1] = cov
    return out


def render(attrs: dict[str, str], geometry: list[tuple[float, float, float]],
           rng: np.random.Generator) -> np.ndarray:
    """uint8 (3, 64, 64): the background then each shape, colours jittered by up to +-10."""
    bg = np.array(BACKGROUNDS[attrs["background"]], np.float32) + rng.uniform(-8, 8, 3)
    img = np.broadcast_to(bg[:, None, None], (3, IMAGE_SIZE, IMAGE_SIZE)).copy()
    for k, (cx, cy, r) in enumerate(geometry):
        col = np.array(COLOURS[attrs[f"colour{k}"]], np.float32) + rng.uniform(-10, 10, 3)
        a = _coverage(attrs[f"shape{k}"], cx, cy, r)[None]
        img = img * (1 - a) + col[:, None, None] * a
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


# -- captions ----------------------------------------------------------------------------------
def _noun_phrase(rng: np.random.Generator, attrs: dict[str, str], k: int) -> str:
    words = ["a"]
    if rng.random() < 0.8:
        words.append(_pick(rng, SIZE_WORDS[attrs[f"size{k}"]]))
    words += [_pick(rng, COLOUR_WORDS[attrs[f"colour{k}"]]), _pick(rng, SHAPE_WORDS[attrs[f"shape{k}"]])]
    if words[1][0] in "aeiou":
        words[0] = "an"
    return " ".join(words)


def caption(attrs: dict[str, str], rng: np.random.Generator) -> str:
    """One caption of the scene, wording drawn from rng."""
    bgw = _pick(rng, BACKGROUND_WORDS[attrs["background"]])
    fill = {"bg": _pick(rng, BACKGROUND_PHRASES).format(bgw), "bgc": bgw}
    if attrs["layout"] in POSITIONS:
        template = _pick(rng, SINGLE_TEMPLATES)
        fill |= {"np": _noun_phrase(rng, attrs, 0), "pos": _pick(rng, POSITION_PHRASES[attrs["layout"]])}
    else:
        template = _pick(rng, PAIR_TEMPLATES)
        flip = rng.random() < 0.5  # name the lower/right object first
        first, second = (1, 0) if flip else (0, 1)
        rel = {"vertical": ("above", "below"), "horizontal": ("left", "right")}[attrs["layout"]][int(flip)]
        fill |= {"np0": _noun_phrase(rng, attrs, first), "np1": _noun_phrase(rng, attrs, second),
                 "rel": _pick(rng, RELATION_PHRASES[rel])}
    return template.format(**fill)


def captions_for(attrs: dict[str, str], rng: np.random.Generator, k: int = CAPTIONS_PER_IMAGE) -> list[str]:
    """k distinct captions of one scene."""
    out: list[str] = []
    for _ in range(50 * k):
        c = caption(attrs, rng)
        if c not in out:
            out.append(c)
        if len(out) == k:
            break
    return out


def caption_words() -> list[str]:
    """Every word the caption grammar can produce, sorted (the vocabulary's source)."""
    text = " ".join([*SINGLE_TEMPLATES, *PAIR_TEMPLATES, *BACKGROUND_PHRASES, "a an"])
    for table in (SHAPE_WORDS, COLOUR_WORDS, BACKGROUND_WORDS, SIZE_WORDS, POSITION_PHRASES, RELATION_PHRASES):
        text += " " + " ".join(w for ws in table.values() for w in ws)
    return sorted(set(re.findall(r"[a-z]+", re.sub(r"\{\w*\}", " ", text))))


def _lookup(table: dict[str, list[str]]) -> dict[str, str]:
    return {w: value for value, words in table.items() for w in words}


_SHAPE_OF, _COLOUR_OF = _lookup(SHAPE_WORDS), _lookup(COLOUR_WORDS)
_SIZE_OF, _BG_OF = _lookup(SIZE_WORDS), _lookup(BACKGROUND_WORDS)


def parse_caption(text: str) -> dict[str, str]:
    """The canonical attributes a caption states (keys of ATTRIBUTES it mentions).

    Inverse of the grammar: "a blue square under a small red circle" gives layout "vertical",
    object 0 the red circle (upper), object 1 the blue square. Unknown wording is ignored.
    """
    toks = re.findall(r"[a-z]+", text.lower())
    out: dict[str, str] = {}
    for i, t in enumerate(toks):
        if t == "background" and i > 0 and toks[i - 1] in _BG_OF:
            out["background"] = _BG_OF[toks[i - 1]]
    nouns = [i for i, t in enumerate(toks) if t in _SHAPE_OF]
    objs = []
    for j, i in enumerate(nouns[:2]):
        lo = nouns[j - 1] + 1 if j else 0
        obj = {"shape": _SHAPE_OF[toks[i]]}
        for t in toks[lo:i]:
            if t in _COLOUR_OF:
                obj["colour"] = _COLOUR_OF[t]
            if t in _SIZE_OF:
                obj["size"] = _SIZE_OF[t]
        objs.append(obj)
    if len(objs) == 1:
        for pos in ("center", "middle", "top", "bottom", "left", "right"):
            if pos in toks:
                out["layout"] = "center" if pos == "middle" else pos
    elif len(objs) == 2:
        between = set(toks[nouns[0] + 1:nouns[1]])
        rel = next((r for r, words in (("above", {"above", "over", "top"}), ("below", {"below", "under", "beneath", "underneath"}),
                                       ("left", {"left"}), ("right", {"right"})) if between & words), None)
        if rel:
            out["layout"] = "vertical" if rel in ("above", "below") else "horizontal"
            if rel in ("below", "right"):
                objs.reverse()
    for k, obj in enumerate(objs):
        out |= {f"{key}{k}": v for key, v in obj.items()}
    return out


def is_true_of(text: str, attrs: dict[str, str]) -> bool:
    """Whether every attribute the caption states holds for the scene (``attrs``)."""
    return all(attrs.get(k) == v for k, v in parse_caption(text).items())


# -- the data set ------------------------------------------------------------------------------
def _rng(split: str, seed: int, index: int) -> np.random.Generator:
    version = int.from_bytes(hashlib.sha256(SHAPES_VERSION.encode()).digest()[:4], "little")
    return np.random.default_rng([version, ("train", "test").index(split), seed, index])


def encode_attributes(attrs: dict[str, str]) -> list[int]:
    """Attribute dict -> one index per column of ATTRIBUTES."""
    return [ATTRIBUTES[k].index(attrs[k]) for k in ATTRIBUTES]


def decode_attributes(row) -> dict[str, str]:
    return {k: ATTRIBUTES[k][int(v)] for k, v in zip(ATTRIBUTES, row)}


@functools.lru_cache(maxsize=4)
def generate(split: str = "train", n: int | None = None, seed: int = 0) -> ShapesData:
    """The first n scenes (default: all) of a split, rendered and captioned (cached in memory)."""
    import torch

    if split not in SPLIT_SIZES:
        raise ValueError(f"unknown split {split!r}; choose one of: {', '.join(SPLIT_SIZES)}")
    size = SPLIT_SIZES[split]
    n = size if n is None else n
    if not 0 < n <= size:
        raise ValueError(f"the {split} split has {size} scenes; asked for {n}")
    images = np.empty((n, 3, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    captions, attributes = [], []
    for i in range(n):
        rng = _rng(split, seed, i)
        attrs, geometry = sample_scene(rng)
        images[i] = render(attrs, geometry, rng)
        captions.append(captions_for(attrs, rng))
        attributes.append(attrs)
    labels = np.array([encode_attributes(a) for a in attributes], np.int64)
    return ShapesData(torch.from_numpy(images), captions, attributes, torch.from_numpy(labels))


def shape_twins(split: str = "train", n: int | None = None, seed: int = 0, change: str = "shape") -> ShapesData:
    """For each of the first n scenes of a split, its twin: the same scene (positions, sizes,
    colours, background) with one object's shape changed, newly captioned. ``change="colour"``
    changes its colour instead; ``change="swap"`` exchanges the two objects of a pair (each takes
    the other's place, so only the relation word's direction tells the captions apart) and
    changes a single object's colour.

    Hard negatives for contrastive encoders: a batch of scenes and their twins can only be told
    apart by that attribute, which random batches almost never demand. Deterministic (own seed
    stream, never the split's; each kind of twin draws from its own).
    """
    import torch

    kinds = ("shape", "colour", "swap")
    if change not in kinds:
        raise ValueError(f"change must be 'shape', 'colour' or 'swap', not {change!r}")
    base = generate(split, n)
    images = np.empty_like(base.images.numpy())
    captions, attributes = [], []
    for i in range(len(base.captions)):
        _, geometry = sample_scene(_rng(split, seed, i))
        rng = np.random.default_rng([0x7715 + kinds.index(change), ("train", "test").index(split), seed, i])
        attrs = dict(base.attributes[i])
        if change == "swap" and len(geometry) == 2:
            attrs = _swapped(attrs)
            (x0, y0, r0), (x1, y1, r1) = geometry
            geometry = [(_inside(x0, r1), _inside(y0, r1), r1), (_inside(x1, r0), _inside(y1, r0), r0)]
        else:
            what = "shape" if change == "shape" else "colour"
            values = SHAPES if what == "shape" else tuple(COLOURS)
            k = int(rng.integers(len(geometry)))
            other = [(attrs[f"shape{1 - k}"], attrs[f"colour{1 - k}"])] if len(geometry) == 2 else []
            pair = (lambda v: (v, attrs[f"colour{k}"])) if what == "shape" else (lambda v: (attrs[f"shape{k}"], v))
            attrs[f"{what}{k}"] = _pick(rng, [v for v in values if v != attrs[f"{what}{k}"] and pair(v) not in other])
        images[i] = render(attrs, geometry, rng)
        captions.append(captions_for(attrs, rng))
        attributes.append(attrs)
    labels = np.array([encode_attributes(a) for a in attributes], np.int64)
    return ShapesData(torch.from_numpy(images), captions, attributes, torch.from_numpy(labels))


def _swapped(attrs: dict[str, str]) -> dict[str, str]:
    """The attributes with objects 0 and 1 exchanged."""
    out = dict(attrs)
    for a in ("shape", "colour", "size"):
        out[f"{a}0"], out[f"{a}1"] = attrs[f"{a}1"], attrs[f"{a}0"]
    return out


def _inside(c: float, r: float) -> float:
    """A centre coordinate moved just enough for a shape of circumradius r to stay in the image."""
    return float(np.clip(c, r + 1, IMAGE_SIZE - r - 1))


def load_shapes(split: str = "train", size: int = IMAGE_SIZE, with_captions: bool = False,
                with_attributes: bool = False, with_labels: bool = False, n: int | None = None):
    """Images in [0, 1], (N, 3, size, size), for a DatasetInfo.

    ``with_captions`` adds the N caption lists, ``with_attributes`` the (N, 8) LongTensor of
    canonical labels (columns: ATTRIBUTES), in that order after the images. ``with_labels``
    (for the generic classifier trainer) returns (images, class) with class = shape0 * 8 +
    colour0, the 48 (shape, colour) classes of the first object.
    """
    import torch.nn.functional as F

    data = generate(split) if n is None else generate(split, n)
    x = data.images.float() / 255.0
    if size != IMAGE_SIZE:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=size < IMAGE_SIZE).clamp(0, 1)
    if with_labels:
        cols = list(ATTRIBUTES)
        return x, data.labels[:, cols.index("shape0")] * len(COLOURS) + data.labels[:, cols.index("colour0")]
    out: tuple = (x,)
    if with_captions:
        out += (data.captions,)
    if with_attributes:
        out += (data.labels,)
    return out if len(out) > 1 else x
