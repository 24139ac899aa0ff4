"""Catalog entries: validation, name resolution, filters, conflicts."""
from __future__ import annotations

import pytest

from zoo_core.catalog import build_catalog, read_registry
from zoo_core.errors import CatalogError, UnknownModelError
from zoo_core.plugins import PluginManager
from zoo_core.spec import ModelSpec

from .toy import ToyPlugin

SHA = "a" * 64
REV = "b" * 40


def entry(**over):
    base = {"family": "toy", "task": "unconditional-image", "repo_id": "org/toy",
            "revision": REV, "files": {"model.safetensors": {"sha256": SHA, "size": 3}}}
    base.update(over)
    return base


@pytest.mark.parametrize("bad, fragment", [
    ({"revision": "main"}, "40-hex"),
    ({"repo_id": "no-slash"}, "org/name"),
    ({"files": {}}, "files"),
    ({"files": {"x": {"sha256": "zz", "size": 1}}}, "64 hex"),
    ({"files": {"x": {"sha256": SHA, "size": "big"}}}, "integer"),
    ({"files": {"x": {"sha256": SHA}}}, "sha256 and size"),
])
def test_malformed_entry_is_one_line_error(bad, fragment):
    with pytest.raises(CatalogError) as err:
        ModelSpec.from_dict("toy.tiny", entry(**bad), source="registry.yaml")
    assert fragment in str(err.value) and "\n" not in str(err.value)
    assert "toy.tiny" in str(err.value)


def test_missing_field_and_bad_name():
    raw = entry()
    del raw["family"]
    with pytest.raises(CatalogError, match="family"):
        ModelSpec.from_dict("toy.tiny", raw, source="r")
    with pytest.raises(CatalogError, match="arch.tag"):
        ModelSpec.from_dict("ToyTiny", entry(), source="r")


def test_registry_file_errors(tmp_path):
    bad_yaml = tmp_path / "r.yaml"
    bad_yaml.write_text("models: [unclosed\n")
    with pytest.raises(CatalogError, match="not valid YAML"):
        read_registry(bad_yaml)
    wrong_shape = tmp_path / "w.yaml"
    wrong_shape.write_text("models: [1, 2]\n")
    with pytest.raises(CatalogError, match="models"):
        read_registry(wrong_shape)
    assert read_registry(tmp_path / "missing.yaml") == {}


def catalog_with(*plugins, registry=None, tmp_path=None):
    pm = PluginManager(entry_points=False)
    for i, p in enumerate(plugins):
        pm.register(p, f"plugin{i}")
    path = registry or (tmp_path / "none.yaml")
    return build_catalog(pm, registry=path)


def test_resolution_defaults_and_suggestions(tmp_path):
    cat = catalog_with(ToyPlugin({"toy.tiny": entry(), "toy.big": entry(default=True),
                                  "other.one": entry()}), tmp_path=tmp_path)
    assert cat.resolve("toy").name == "toy.big"  # the default tag
    assert cat.resolve("other").name == "other.one"  # sole tag
    assert cat.resolve("toy.tiny").name == "toy.tiny"
    with pytest.raises(UnknownModelError) as err:
        cat.resolve("tyo")
    assert "did you mean 'toy'" in str(err.value)
    with pytest.raises(UnknownModelError) as err:
        cat.resolve("zzzzzz")
    assert "did you mean" not in str(err.value) and "zoo list" in str(err.value)


def test_list_filters(tmp_path):
    cat = catalog_with(ToyPlugin({"toy.tiny": entry(), "toy.big": entry(task="text-to-image"),
                                  "gan.x": entry(family="gan")}), tmp_path=tmp_path)
    assert [s.name for s in cat.list("toy*")] == ["toy.big", "toy.tiny"]
    assert [s.name for s in cat.list("*.x")] == ["gan.x"]
    assert [s.name for s in cat.list(task="text-to-image")] == ["toy.big"]
    assert [s.name for s in cat.list(family="gan")] == ["gan.x"]
    assert cat.list("nothing*") == []


def test_duplicate_model_names_keep_first_and_name_both(tmp_path):
    cat = catalog_with(ToyPlugin({"toy.tiny": entry()}),
                       ToyPlugin({"toy.tiny": entry(task="other"), "toy.more": entry()},
                                 families=False),
                       tmp_path=tmp_path)
    assert cat.specs["toy.tiny"].task == "unconditional-image"
    assert "toy.more" in cat.specs  # the rest of the second plugin still loads
    errors = {r.name: r.errors for r in cat.plugins}
    assert any("plugin0" in e and "plugin1" in e and "toy.tiny" in e for e in errors["plugin1"])


def test_registry_entry_shadows_plugin_entry(tmp_path):
    import yaml

    reg = tmp_path / "registry.yaml"
    reg.write_text(yaml.safe_dump({"models": {"toy.tiny": entry(task="from-registry")}}))
    cat = catalog_with(ToyPlugin({"toy.tiny": entry()}), registry=reg)
    assert cat.specs["toy.tiny"].task == "from-registry"
    errors = [r for r in cat.plugins if r.name == "plugin0"][0].errors
    assert errors and "registry.yaml" in errors[0]


def test_raising_hook_is_recorded_not_fatal(tmp_path):
    from zoo_core.hookspecs import hookimpl

    class Broken:
        @hookimpl
        def zoo_models(self):
            raise RuntimeError("boom")

    cat = catalog_with(Broken(), ToyPlugin({"toy.tiny": entry()}), tmp_path=tmp_path)
    assert "toy.tiny" in cat.specs
    broken = [r for r in cat.plugins if r.name == "plugin0"][0]
    assert broken.errors == ["hook zoo_models raised: RuntimeError: boom"]


def test_plugin_that_fails_to_import_is_reported(monkeypatch, tmp_path):
    import importlib.metadata as md

    eps = [md.EntryPoint(name="ghost", value="no_such_module_zoo", group="zoo.plugins")]
    monkeypatch.setattr(md, "entry_points", lambda group=None: eps if group == "zoo.plugins" else [])
    pm = PluginManager()
    cat = build_catalog(pm, registry=tmp_path / "none.yaml")
    ghost = [r for r in cat.plugins if r.name == "ghost"][0]
    assert ghost.errors and ghost.errors[0].startswith("import failed: ModuleNotFoundError")
    assert "digits" in cat.datasets  # the built-in plugin still works


def test_missing_family_is_clear(tmp_path):
    cat = catalog_with(ToyPlugin({"x.y": entry(family="nope")}, families=False), tmp_path=tmp_path)
    with pytest.raises(CatalogError, match="no installed plugin provides the family 'nope'"):
        cat.family("nope")
