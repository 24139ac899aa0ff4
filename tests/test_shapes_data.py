"""The procedural shapes text-to-image data set: deterministic, versioned, disjoint splits,
captions that state what is rendered."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from zoo_core.data import shapes as S

N = 60  # scenes per check: seconds, not the full split


def _fresh(split: str, n: int, seed: int = 0) -> S.ShapesData:
    S.generate.cache_clear()
    return S.generate(split, n, seed)


def test_same_seed_same_bytes_and_prefix_property():
    a = _fresh("test", N)
    b = _fresh("test", N)
    assert torch.equal(a.images, b.images) and a.captions == b.captions and torch.equal(a.labels, b.labels)
    head = _fresh("test", 10)  # image i depends only on (version, split, seed, i)
    assert torch.equal(head.images, a.images[:10]) and head.captions == a.captions[:10]
    other = _fresh("test", 10, seed=1)
    assert not torch.equal(other.images, head.images)


def test_version_is_part_of_the_seed(monkeypatch):
    before = _fresh("test", 5)
    monkeypatch.setattr(S, "SHAPES_VERSION", S.SHAPES_VERSION + "-next")
    after = _fresh("test", 5)
    S.generate.cache_clear()
    assert not torch.equal(before.images, after.images)


def test_splits_are_disjoint():
    train, test = _fresh("train", N), _fresh("test", N)
    digest = lambda x: hashlib.sha256(x.numpy().tobytes()).hexdigest()  # noqa: E731
    assert not {digest(x) for x in train.images} & {digest(x) for x in test.images}
    assert len({digest(x) for x in test.images}) == N


def test_sizes_and_bad_requests():
    assert S.SPLIT_SIZES["train"] > S.SPLIT_SIZES["test"] > 0
    with pytest.raises(ValueError):
        S.generate("test", S.SPLIT_SIZES["test"] + 1)
    with pytest.raises(ValueError):
        S.generate("validation", 3)


def test_captions_parse_back_to_the_labels():
    data = _fresh("test", N)
    words = set(S.caption_words())
    for attrs, caps in zip(data.attributes, data.captions):
        assert len(set(caps)) == len(caps) >= 5
        for c in caps:
            assert len(c.split()) <= S.MAX_CAPTION_WORDS and set(c.split()) <= words
            stated = S.parse_caption(c)
            assert stated == {k: attrs[k] for k in stated}, (c, attrs)
            objects = 1 if attrs["layout"] in S.POSITIONS else 2
            # every caption names each object's shape and colour, and the layout
            assert {"layout"} | {f"{a}{k}" for a in ("shape", "colour") for k in range(objects)} <= set(stated)
    assert {a["layout"] for a in data.attributes} >= {"vertical", "horizontal"}


@pytest.mark.parametrize("text, expected", [
    ("there is a blue square under a little red circle",
     {"layout": "vertical", "shape0": "circle", "colour0": "red", "size0": "small", "shape1": "square", "colour1": "blue"}),
    ("a big violet star to the right of a green cross against a grey background",
     {"layout": "horizontal", "shape0": "cross", "colour0": "green", "shape1": "star", "colour1": "purple",
      "size1": "large", "background": "gray"}),
    ("in the middle there is an orange rhombus", {"layout": "center", "shape0": "diamond", "colour0": "orange"}),
])
def test_parse_caption_canonical_order(text, expected):
    assert S.parse_caption(text) == expected


def test_pixels_show_the_attributes():
    """The background colour fills the corners; each object's colour sits at its centre;
    the first object is the upper (vertical) or left (horizontal) one."""
    for i in range(N):
        rng = np.random.default_rng([7, i])
        attrs, geo = S.sample_scene(rng)
        img = S.render(attrs, geo, rng).astype(int)
        assert np.abs(img[:, 0, 0] - S.BACKGROUNDS[attrs["background"]]).max() <= 8
        for k, (cx, cy, _r) in enumerate(geo):
            centre = img[:, int(cy), int(cx)]
            assert np.abs(centre - S.COLOURS[attrs[f"colour{k}"]]).max() <= 14, (attrs, k)
        if attrs["layout"] == "vertical":
            assert geo[0][1] < geo[1][1]
        if attrs["layout"] == "horizontal":
            assert geo[0][0] < geo[1][0]
        if len(geo) == 2:  # the two shapes never overlap
            assert np.hypot(geo[0][0] - geo[1][0], geo[0][1] - geo[1][1]) > geo[0][2] + geo[1][2]


def test_size_attribute_is_visible():
    """Every shape drawn "large" covers more pixels than the same shape drawn "small"."""
    covered: dict[tuple[str, str], list[float]] = {}
    for i in range(N):
        rng = np.random.default_rng([11, i])
        attrs, geo = S.sample_scene(rng)
        for k, g in enumerate(geo):
            covered.setdefault((attrs[f"shape{k}"], attrs[f"size{k}"]), []).append(float(S._coverage(attrs[f"shape{k}"], *g).sum()))
    both = [s for s in S.SHAPES if (s, "small") in covered and (s, "large") in covered]
    assert len(both) >= 3
    for s in both:
        assert max(covered[(s, "small")]) < 0.8 * min(covered[(s, "large")]), s


def test_loader_and_registration():
    from zoo_core.datasets import load_dataset

    x, caps, labels = load_dataset("shapes", "test", n=8, with_captions=True, with_attributes=True)
    assert x.shape == (8, 3, 64, 64) and x.dtype == torch.float32 and 0 <= float(x.min()) and float(x.max()) <= 1
    assert len(caps) == 8 and labels.shape == (8, len(S.ATTRIBUTES)) and labels.dtype == torch.long
    assert [S.decode_attributes(r) for r in labels] == S.generate("test", 8).attributes
    small = S.load_shapes("test", size=32, n=8)
    assert small.shape == (8, 3, 32, 32)
    x2, y = S.load_shapes("test", n=8, with_labels=True)
    cols = list(S.ATTRIBUTES)
    assert torch.equal(y, labels[:, cols.index("shape0")] * len(S.COLOURS) + labels[:, cols.index("colour0")])


def test_shape_twins_change_one_shape_and_nothing_else():
    base, twins = S.generate("train", N), S.shape_twins("train", N)
    changed = base.labels != twins.labels
    assert (changed.sum(1) == 1).all()  # exactly one attribute differs ...
    cols = list(S.ATTRIBUTES)
    assert {cols[j] for j in changed.nonzero()[:, 1].tolist()} <= {"shape0", "shape1"}  # ... a shape
    for caps, attrs in zip(twins.captions, twins.attributes):
        assert all(S.is_true_of(c, attrs) for c in caps)
    # same colours where both images are the background or the object: only shape pixels move
    same = (base.images.int() - twins.images.int()).abs().amax(1) <= 20
    assert same.float().mean() > 0.85 and not same.all()
    assert torch.equal(S.shape_twins("train", N).images, twins.images)  # deterministic


def test_colour_twins_change_one_colour_and_nothing_else():
    base, twins = S.generate("train", N), S.shape_twins("train", N, change="colour")
    changed = base.labels != twins.labels
    assert (changed.sum(1) == 1).all()
    cols = list(S.ATTRIBUTES)
    assert {cols[j] for j in changed.nonzero()[:, 1].tolist()} <= {"colour0", "colour1"}
    for caps, attrs in zip(twins.captions, twins.attributes):
        assert all(S.is_true_of(c, attrs) for c in caps)
    assert not torch.equal(twins.images, S.shape_twins("train", N).images)
    with pytest.raises(ValueError, match="change must be 'shape', 'colour' or 'swap'"):
        S.shape_twins("train", 2, change="size")


def test_swap_twins_exchange_the_two_objects_of_a_pair():
    base, twins = S.generate("train", N), S.shape_twins("train", N, change="swap")
    pairs = [i for i, a in enumerate(base.attributes) if a["shape1"] != S.NONE]
    assert 10 < len(pairs) < N
    for i, (a, t) in enumerate(zip(base.attributes, twins.attributes)):
        if i in pairs:
            assert all(t[f"{x}0"] == a[f"{x}1"] and t[f"{x}1"] == a[f"{x}0"] for x in ("shape", "colour", "size"))
            assert t["layout"] == a["layout"] and t["background"] == a["background"]
        else:  # a single object: its colour changes
            assert [k for k in a if a[k] != t[k]] == ["colour0"]
        assert all(S.is_true_of(c, t) for c in twins.captions[i])
        assert not any(S.is_true_of(c, t) for c in base.captions[i])  # each scene's captions are wrong for its twin


def test_reversing_the_relation_word_exchanges_the_pair():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from probe_relations import reverse_relation

    from zoo_core.data.shapes import RELATION_PHRASES, generate, parse_caption

    assert reverse_relation("a red circle in the center") is None
    assert reverse_relation("a red circle to the left of a blue square") == "a red circle to the right of a blue square"
    reversed_phrases = set()
    for caps in generate("test", 300).captions:
        for c in caps:
            stated, r = parse_caption(c), reverse_relation(c)
            if "shape1" not in stated:
                continue
            back = parse_caption(r)
            assert back["layout"] == stated["layout"]
            for a in ("shape", "colour"):
                assert (back[f"{a}0"], back[f"{a}1"]) == (stated[f"{a}1"], stated[f"{a}0"]), (c, r)
            reversed_phrases |= {p for ps in RELATION_PHRASES.values() for p in ps if f" {p} " in c}
    assert reversed_phrases == {p for ps in RELATION_PHRASES.values() for p in ps}  # every phrase was tried
