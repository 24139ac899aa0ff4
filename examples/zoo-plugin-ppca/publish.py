"""Fit PPCA on zoo's digits, and publish it: the weights repo and the catalog entry.

    python publish.py [--latent-dim 16]

1. fits in closed form on the digits train split (a second or two on a CPU);
2. `save_pretrained` into a temporary folder (config.json, model.safetensors), then README.md,
   the model card, rendered by `zoo_core.card.ModelCard`;
3. copies that folder into this example's mirror, hub/zoo-examples/ppca-digits, with
   `zoo_core.hub.publish.write_to_mirror`, which returns the repo's content revision and each
   file's sha256 and size;
4. writes zoo_plugin_ppca/models.json, the entry the `zoo_models` hook returns.

The revision is derived from the files' content, so rerunning gives the same revision as long
as the weights come out bit-identical, and any HF-protocol server holding these files under
that revision (the Hub, `zoo hub serve hub/`) is as good as another.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # run from a checkout, installed or not

REPO_ID = "zoo-examples/ppca-digits"
MODEL_NAME = "ppca.digits"

PAPER = "Tipping & Bishop (1999), Probabilistic Principal Component Analysis, https://doi.org/10.1111/1467-9868.00196"
DESCRIPTION = ("Probabilistic PCA, x = W z + mu + sigma * eps with z ~ N(0, I_q), fitted in closed form to "
               "the train split of zoo's digits (32x32, values in [0, 1]). Its log-likelihood is exact; "
               "it is the density of continuous pixels, not comparable with bits/dim of discrete models. "
               "Install the plugin first: `pip install zoo-plugin-ppca`.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--mirror", type=Path, default=HERE / "hub", help="mirror root (default: hub/)")
    parser.add_argument("--entry-file", type=Path, default=HERE / "zoo_plugin_ppca" / "models.json")
    args = parser.parse_args(argv)

    import torch

    from zoo_core.card import ModelCard
    from zoo_core.hub.publish import write_to_mirror
    from zoo_plugin_ppca.fit import train

    torch.set_num_threads(1)  # bit-identical weights from run to run
    model, report = train({"latent_dim": args.latent_dim})

    metrics = {k: report[k] for k in ("test_log_prob_nats", "train_log_prob_nats", "explained_variance")}
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)  # config.json (with zoo_family) + model.safetensors + a stock card
        card = ModelCard(  # replace the stock card with the zoo's; no wall times: keep it reproducible
            name=MODEL_NAME, family="ppca", task="unconditional-image", repo_id=REPO_ID, dataset="digits",
            license="MIT", paper=PAPER, description=DESCRIPTION, config=model.config,
            num_parameters=model.num_parameters(), weights_bytes=Path(tmp, "model.safetensors").stat().st_size,
            samplers=tuple(model.samplers), value_range=model.value_range,
            training={"recipe": {"method": report["recipe"], "latent dimensions": args.latent_dim,
                                 "train images": report["n_train"], "sigma^2": f"{report['sigma2']:.4g}"}},
            metrics=metrics, tags=("ppca",))
        Path(tmp, "README.md").write_text(card.render(), encoding="utf-8")
        entry = write_to_mirror(tmp, args.mirror, REPO_ID)

    models = {
        MODEL_NAME: {
            "family": "ppca",
            "task": "unconditional-image",
            "repo_id": REPO_ID,
            "revision": entry["revision"],
            "files": entry["files"],
            "dataset": "digits",
            "paper": PAPER,
            "license": "MIT",
            "description": f"Probabilistic PCA, q={args.latent_dim}, closed-form fit on 32x32 digits",
            "default": True,
            "metrics": metrics,
        }
    }
    args.entry_file.write_text(json.dumps(models, indent=2) + "\n", encoding="utf-8")
    size = sum(f["size"] for f in entry["files"].values())
    print(f"published {REPO_ID}@{entry['revision']} ({size / 1024:.0f} KiB) to {args.mirror / REPO_ID}")
    print(f"wrote the catalog entry {MODEL_NAME} to {args.entry_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
