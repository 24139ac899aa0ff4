"""Model cards: the README.md of a zoo model repo (YAML front matter + a markdown body).

No torch here. Publishing scripts fill a `ModelCard` from the model folder (config.json,
training report) and the catalog entry, and write ``card.render()`` to README.md::

    card = ModelCard(name="dcgan.digits", family="dcgan", task="unconditional-image",
                     dataset="digits", license="MIT", config={...}, num_parameters=1_066_880,
                     training={"wall_time_s": 312.0, "final": {...}, "recipe": {...}})
    Path(folder, "README.md").write_text(card.render())

The front matter follows the Hugging Face card metadata (library_name, tags, license,
datasets, pipeline_tag); `parse_front_matter` reads it back.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

# zoo task -> Hugging Face pipeline tag
PIPELINE_TAGS = {
    "unconditional-image": "unconditional-image-generation",
    "class-conditional-image": "unconditional-image-generation",
    "text-to-image": "text-to-image",
    "text-generation": "text-generation",
    "unconditional-audio": "text-to-audio",
}


USAGE_PROMPTS = {"shapes": "a small red circle above a blue square"}
LABEL_TASKS = {"class-conditional-image"}


@dataclass
class ModelCard:
    """What a zoo model card says. Only ``name`` and ``family`` are required."""

    name: str  # catalog name, "arch.tag"
    family: str
    task: str = ""
    repo_id: str = ""
    dataset: str = ""
    license: str = ""
    paper: str = ""
    description: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)
    num_parameters: int | None = None
    weights_bytes: int | None = None
    samplers: tuple[str, ...] = ()
    value_range: tuple[float, float] | None = None
    training: Mapping[str, Any] = field(default_factory=dict)  # recipe, wall_time_s, final, ...
    metrics: Mapping[str, Any] = field(default_factory=dict)
    notes: str = ""  # free markdown, e.g. what log_prob means for this family
    tags: tuple[str, ...] = ()

    def front_matter(self) -> dict[str, Any]:
        tags = ["zoo", self.family]
        for extra in (self.task, self.dataset, *self.tags):
            if extra and extra not in tags:
                tags.append(extra)
        meta: dict[str, Any] = {"library_name": "zoo", "tags": tags}
        if self.license:
            meta["license"] = self.license.lower()  # the Hub's identifiers are lower case
        if self.dataset:
            meta["datasets"] = [self.dataset]
        if self.task in PIPELINE_TAGS:
            meta["pipeline_tag"] = PIPELINE_TAGS[self.task]
        return meta

    def render(self) -> str:
        """The README.md text."""
        import yaml

        out = ["---", yaml.safe_dump(self.front_matter(), sort_keys=False).rstrip(), "---", ""]
        out += [f"# {self.name}", ""]
        if self.description:
            out += [self.description, ""]

        out += ["## Model", ""]
        rows = [("Family", f"`{self.family}`")]
        if self.task:
            rows.append(("Task", self.task))
        if self.paper:
            rows.append(("Paper", self.paper))
        if self.dataset:
            rows.append(("Trained on", self.dataset))
        if self.num_parameters is not None:
            rows.append(("Parameters", f"{self.num_parameters:,}"))
        if self.weights_bytes is not None:
            rows.append(("Weights", f"model.safetensors, {_size(self.weights_bytes)}"))
        if self.value_range is not None:
            rows.append(("Output range", f"[{self.value_range[0]:g}, {self.value_range[1]:g}]"))
        if self.samplers:
            rows.append(("Samplers", ", ".join(f"`{s}`" + (" (default)" if i == 0 else "")
                                               for i, s in enumerate(self.samplers))))
        if self.license:
            rows.append(("License", self.license))
        out += _table(("", ""), rows) + [""]

        cli, call = "", ""
        if self.task == "text-to-image":
            prompt = USAGE_PROMPTS.get(self.dataset or "", "a red circle")
            cli, call = f' --prompt "{prompt}"', f', prompt=["{prompt}"]'
        elif self.task in LABEL_TASKS:
            cli, call = " --label 3", ", label=3"
        out += ["## Usage", "", "```bash", f"zoo sample {self.name} -n 16 --seed 0{cli}", "```", "",
                "```python", "import zoo", "", f'model = zoo.load("{self.name}")',
                f"samples = model.sample(16, generator=0{call})", "```", ""]

        if self.config:
            out += ["## Config", "", "```json", json.dumps(dict(self.config), indent=2), "```", ""]

        if self.training:
            out += ["## Training", ""]
            recipe = self.training.get("recipe") or {}
            for key, value in recipe.items():
                out.append(f"- **{key.replace('_', ' ')}**: {_num(value)}")
            wall = self.training.get("wall_time_s")
            if wall is not None:
                out.append(f"- **wall time**: {_duration(float(wall))}")
            final = {k: v for k, v in (self.training.get("final") or {}).items() if v is not None}
            if final:
                out.append("- **final losses** (last epoch means): "
                           + ", ".join(f"{k} {_num(v)}" for k, v in final.items()))
            out.append("")

        if self.metrics:
            out += ["## Metrics", ""]
            out += _table(("metric", "value"), [(k, _num(v)) for k, v in self.metrics.items()]) + [""]

        if self.notes:
            out += ["## Notes", "", self.notes.strip(), ""]
        return "\n".join(out).rstrip() + "\n"


def render_card(**fields: Any) -> str:
    """Shorthand for ``ModelCard(**fields).render()``."""
    return ModelCard(**fields).render()


def parse_front_matter(text: str) -> dict[str, Any]:
    """The YAML front matter of a card ({} if it has none)."""
    import yaml

    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end < 0:
        return {}
    data = yaml.safe_load(text[3:end]) or {}
    return data if isinstance(data, dict) else {}


def _table(header: tuple[str, str], rows: list[tuple[str, str]]) -> list[str]:
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    return lines + [f"| {a} | {b} |" for a, b in rows]


def _num(v: Any) -> str:
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}" if abs(v) >= 10_000 else str(v)
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 10 else f"{v:,.2f}"
    return str(v)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000
    return f"{n} B"


def _duration(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min ({s:.0f} s)"
