"""Adapters in the kit's cache: train once, reload after (the "llm-lora" ranker's factory uses this).

The registered ranker's default adapter (16 examples, about 240 KB) also ships inside the package
(``recnb/tuning/adapters/<key>/``, written by ``python -m recnb.tuning.store --bundle`` with this
module's own training code), so building "llm-lora" costs a load, not a training run. Its
``recnb_tuning.json`` holds the recipe, settings and training report it was made with.

The folder name is a hash of everything that shapes the adapter: the base model, the LoRA settings,
the example recipe (data set, split seed, number, seed, negatives, prompt cut) and this module's
format version, so a changed setting trains a new adapter instead of reusing a stale one.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from recnb.tuning.lora import FORMAT, LoraModel, LoraSettings, settings_key

#: The small adapter the registered "llm-lora" ranker uses: a few seconds of CPU to train.
DEFAULT_RECIPE = dict(dataset="movielens-small", split_seed=0, n_examples=16, seed=0, negatives="unseen",
                      max_history=5, max_likes=3, max_dislikes=1)
#: epochs=4 is what recnb.tuning.measure gives 16 examples, so the shipped adapter is also its "lora-16" row.
DEFAULT_SETTINGS = LoraSettings(top_layers=4, epochs=4, batch_size=4, learning_rate=1e-2)


def _base_identity(llm) -> dict:
    cfg = getattr(getattr(llm, "model", None), "config", None)
    shape = {k: getattr(cfg, k, None) for k in ("model_type", "hidden_size", "num_hidden_layers", "vocab_size")}
    return {"name": getattr(llm, "name", ""), **shape}


def adapter_folder(llm, settings: LoraSettings = DEFAULT_SETTINGS, recipe: dict | None = None) -> Path:
    from recnb.models._paths import cache_dir

    recipe = {**DEFAULT_RECIPE, **(recipe or {})}
    key = settings_key(FORMAT, _base_identity(llm), settings.to_dict(), recipe)
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in str(getattr(llm, "name", "llm")))
    return cache_dir("adapters") / f"{safe}-{recipe['n_examples']}ex-{key}"


BUNDLED = Path(__file__).with_name("adapters")


def bundled_folder(llm, settings: LoraSettings = DEFAULT_SETTINGS, recipe: dict | None = None) -> Path | None:
    """The adapter shipped in the package for exactly this base, settings and recipe, or None."""
    folder = BUNDLED / adapter_folder(llm, settings, recipe).name
    return folder if (folder / "adapter_config.json").exists() else None


def cached_adapter(llm, settings: LoraSettings = DEFAULT_SETTINGS, recipe: dict | None = None, dataset=None,
                   progress: bool = False, retrain: bool = False, use_cache: bool = True) -> LoraModel:
    """The adapter for ``llm`` trained with ``settings`` on ``recipe``'s examples: loaded if cached, else trained and saved.

    dataset: the loaded Dataset to take examples from (default: ``recnb.load_dataset(recipe["dataset"])``);
    its name goes into the recipe. use_cache=False (or retrain=True) always trains; use_cache=False
    also leaves the cache alone.
    """
    import recnb
    from recnb.tuning.examples import build_examples

    recipe = {**DEFAULT_RECIPE, **(recipe or {})}
    if dataset is not None:
        recipe["dataset"] = dataset.name
    folder = adapter_folder(llm, settings, recipe)
    if use_cache and not retrain:
        if (folder / "adapter_config.json").exists():
            return LoraModel.load(llm, folder)
        shipped = bundled_folder(llm, settings, recipe)
        if shipped is not None:
            return LoraModel.load(llm, shipped)
    ds = dataset if dataset is not None else recnb.load_dataset(recipe["dataset"])
    split = ds.split(seed=recipe["split_seed"])
    examples = build_examples(split, ds.items, llm, n=recipe["n_examples"], seed=recipe["seed"],
                              negatives=recipe["negatives"], max_history=recipe["max_history"],
                              max_likes=recipe["max_likes"], max_dislikes=recipe["max_dislikes"])
    tuned = LoraModel(llm, settings)
    tuned.train(examples, progress=progress, desc=f"LoRA ({len(examples)} examples)")
    if not use_cache:
        return tuned
    # Write to a temporary folder and rename: a run killed mid-save never leaves a half adapter behind.
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tuned.save(tmp, extra={"key": folder.name, "recipe": recipe, "n_examples": len(examples),
                           "negatives": recipe["negatives"], "folder": str(folder)})
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    tuned.meta["folder"] = str(folder)
    return tuned


def bundle(llm=None, retrain: bool = False) -> Path:
    """Train (or take from the cache) the default adapter and copy it into the package (maintainers only)."""
    import recnb

    llm = llm or recnb.load_llm("smollm2-135m", device="cpu")
    tuned = cached_adapter(llm, progress=True, retrain=retrain)
    source = Path(tuned.meta["folder"])
    target = BUNDLED / source.name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in ("adapter_config.json", "adapter_model.safetensors", "recnb_tuning.json"):
        shutil.copy2(source / name, target / name)
    return target


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Adapter cache tools")
    ap.add_argument("--bundle", action="store_true", help="copy the default adapter into recnb/tuning/adapters/")
    ap.add_argument("--retrain", action="store_true", help="train it again even if cached")
    args = ap.parse_args()
    if args.bundle:
        print(bundle(retrain=args.retrain))
