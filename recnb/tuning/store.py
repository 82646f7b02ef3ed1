"""Adapters in the kit's cache: train once, reload after (the "llm-lora" ranker's factory uses this).

The registered ranker's default adapter (16 examples, about 240 KB) also ships inside the package
(``recnb/tuning/adapters/<key>/``, written by ``python -m recnb.tuning.store --bundle`` with this
module's own training code), so building "llm-lora" costs a load, not a training run. Its
``recnb_tuning.json`` holds the recipe, settings and training report it was made with.

The folder name is a hash of everything that shapes the adapter: the base model, the LoRA settings,
the example recipe (data set name *and fingerprint*, split seed and the fingerprint of the split's
training part, number, seed, negatives, prompt cut) and this module's format version, so a changed
setting, other data under the same name (Amazon categories, a loader's ``nrows=``) or another split
trains a new adapter instead of reusing a stale one. A cached adapter is used only if the recipe
recorded inside it is the one asked for.
"""
from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

from recnb.tuning.examples import frame_fingerprint, row_hashes
from recnb.tuning.lora import FORMAT, AdapterMismatchError, LoraModel, LoraSettings, base_identity, settings_key

#: The small adapter the registered "llm-lora" ranker uses: its report (``recnb_tuning.json``) records the
#: training time (77 s on 2 CPU cores for the shipped one).
DEFAULT_RECIPE = dict(dataset="movielens-small", split_seed=0, n_examples=16, seed=0, negatives="unseen",
                      max_history=5, max_likes=3, max_dislikes=1)
#: epochs=4 is what recnb.tuning.measure gives 16 examples, so the shipped adapter is also its "lora-16" row.
DEFAULT_SETTINGS = LoraSettings(top_layers=4, epochs=4, batch_size=4, learning_rate=1e-2)


_base_identity = base_identity  # the name this module used before it moved to recnb.tuning.lora


def resolve_recipe(recipe: dict | None = None, dataset=None, split=None) -> tuple[dict, object, object]:
    """(full recipe, dataset, split): ``recipe`` over the defaults, with the data's and the split's fingerprints.

    dataset: the loaded Dataset (default: ``recnb.load_dataset(recipe["dataset"])``); its name and
    :func:`~recnb.evaluation.protocols.data_fingerprint` go into the recipe. split: the Split to take
    examples from, e.g. a protocol's ``protocol.split`` (default: ``dataset.split(seed=recipe["split_seed"])``);
    its seed and the fingerprint of its training part go into the recipe, so a custom split with the
    same seed still gets its own adapter.
    """
    import recnb
    from recnb.evaluation.protocols import data_fingerprint

    asked = dict(recipe or {})
    recipe = {**DEFAULT_RECIPE, **asked}
    if split is not None and "split_seed" in asked and int(asked["split_seed"]) != int(split.seed):
        raise ValueError(f"recipe split_seed={asked['split_seed']} but the split given has seed {split.seed}: "
                         "pass one of them")
    ds = dataset if dataset is not None else recnb.load_dataset(recipe["dataset"])
    if split is None:
        split = ds.split(seed=int(recipe["split_seed"]))
    else:  # a split of other data would train on ratings this data set does not have
        import numpy as np

        known = row_hashes(ds.ratings)
        for part in ("train", "valid", "test"):
            if not np.isin(row_hashes(getattr(split, part)), known).all():
                raise ValueError(f"the split's {part} part holds ratings that are not in data set {ds.name!r}: "
                                 "pass the data set the split was made from")
    recipe.update(dataset=ds.name, split_seed=int(split.seed), data_fingerprint=data_fingerprint(ds),
                  split_fingerprint=frame_fingerprint(split.train))
    return recipe, ds, split


def _folder(llm, settings: LoraSettings, full_recipe: dict) -> Path:
    from recnb.models._paths import cache_dir

    key = settings_key(FORMAT, base_identity(llm), settings.to_dict(), full_recipe)
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in str(getattr(llm, "name", "llm")))
    return cache_dir("adapters") / f"{safe}-{full_recipe['n_examples']}ex-{key}"


def adapter_folder(llm, settings: LoraSettings = DEFAULT_SETTINGS, recipe: dict | None = None, dataset=None,
                   split=None) -> Path:
    """The cache folder of the adapter for this base, settings, recipe and data (see :func:`resolve_recipe`)."""
    return _folder(llm, settings, resolve_recipe(recipe, dataset, split)[0])


BUNDLED = Path(__file__).with_name("adapters")


def bundled_folder(llm, settings: LoraSettings = DEFAULT_SETTINGS, recipe: dict | None = None, dataset=None,
                   split=None) -> Path | None:
    """The adapter shipped in the package for exactly this base, settings, recipe and data, or None."""
    folder = BUNDLED / adapter_folder(llm, settings, recipe, dataset, split).name
    return folder if (folder / "adapter_config.json").exists() else None


def _load_if_matching(llm, folder: Path, recipe: dict) -> LoraModel | None:
    """The adapter in ``folder`` if it exists and records exactly ``recipe`` (and this base); else None, said."""
    if not (folder / "adapter_config.json").exists():
        return None
    try:
        tuned = LoraModel.load(llm, folder)
    except AdapterMismatchError as exc:
        warnings.warn(f"ignoring the cached adapter: {exc}", stacklevel=3)
        return None
    if tuned.meta.get("recipe") == recipe and tuned.trained_on is not None:
        return tuned
    warnings.warn(f"ignoring the cached adapter in {folder}: the recipe recorded in it is not the one asked for "
                  f"(recorded {tuned.meta.get('recipe')}, asked {recipe}); training a new one", stacklevel=3)
    tuned.unload()
    return None


def cached_adapter(llm, settings: LoraSettings = DEFAULT_SETTINGS, recipe: dict | None = None, dataset=None,
                   progress: bool = False, retrain: bool = False, use_cache: bool = True, split=None) -> LoraModel:
    """The adapter for ``llm`` trained with ``settings`` on ``recipe``'s examples: loaded if cached, else trained and saved.

    dataset: the loaded Dataset to take examples from (default: ``recnb.load_dataset(recipe["dataset"])``).
    split: the Split whose training part the examples come from: pass a protocol's ``protocol.split``
    so the adapter never learns what that protocol holds out (default: ``dataset.split(seed=recipe["split_seed"])``).
    Both go into the recipe by fingerprint (:func:`resolve_recipe`). use_cache=False (or retrain=True)
    always trains; use_cache=False also leaves the cache alone.
    """
    from recnb.tuning.examples import build_examples

    recipe, ds, split = resolve_recipe(recipe, dataset, split)
    folder = _folder(llm, settings, recipe)
    if use_cache and not retrain:
        for candidate in (folder, BUNDLED / folder.name):
            tuned = _load_if_matching(llm, candidate, recipe)
            if tuned is not None:
                return tuned
    examples = build_examples(split, ds.items, llm, n=recipe["n_examples"], seed=recipe["seed"],
                              negatives=recipe["negatives"], max_history=recipe["max_history"],
                              max_likes=recipe["max_likes"], max_dislikes=recipe["max_dislikes"])
    tuned = LoraModel(llm, settings)
    tuned.train(examples, progress=progress, desc=f"LoRA ({len(examples)} examples)")
    extra = {"key": folder.name, "recipe": recipe, "n_examples": len(examples), "negatives": recipe["negatives"]}
    if not use_cache:
        tuned.meta.update(extra)
        return tuned
    # Write to a temporary folder and rename: a run killed mid-save never leaves a half adapter behind.
    # (No local path goes into the saved meta: the bundled copy would carry this machine's cache path.)
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tuned.save(tmp, extra=extra)
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
    if source.resolve() == target.resolve():  # already the shipped one: removing it first would lose it
        return target
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
