"""recnb.tuning: adapters tied to their base model and data, and the AUC the tuning table reports.

An adapter must never be handed to a different base model or to data whose held-out items it
learned from (cache keys, LoraModel.load, the llm-lora ranker's fit); AUC must count failures at
the worst rank and ties against the model, as the harness's ranks do. Training runs on a tiny
random-weight Llama with SmolLM2's tokenizer (seconds, not minutes).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from recnb.tuning import LoraModel, LoraSettings, build_examples

TINY_SETTINGS = LoraSettings(top_layers=1, epochs=1, batch_size=2, learning_rate=5e-2, dropout=0.0)


def _tiny(llm, seed: int = 0, name: str = "tiny-random"):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from recnb.models.llm import LocalLLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=len(llm.tokenizer), max_position_embeddings=2048,
                      tie_word_embeddings=True, pad_token_id=llm.tokenizer.pad_token_id, initializer_range=0.1)
    return LocalLLM(LlamaForCausalLM(cfg).eval(), llm.tokenizer, name=name)


@pytest.fixture(scope="module")
def tiny_llm(llm):
    return _tiny(llm)


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RECNB_CACHE", str(tmp_path / "cache"))  # adapters and candidate files go to a scratch cache
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def halves(dataset):
    """Two data sets with the same name (as every Amazon category, or a loader's nrows=): other users each."""
    from recnb.data.dataset import Dataset

    users = np.sort(dataset.ratings.user_id.unique())
    pick = lambda us: dataset.ratings[dataset.ratings.user_id.isin(us)].reset_index(drop=True)  # noqa: E731
    return (Dataset(dataset.name, dataset.items, pick(users[: len(users) // 2])),
            Dataset(dataset.name, dataset.items, pick(users[len(users) // 2:])))


@pytest.fixture(scope="module")
def trained_tiny(tiny_llm, dataset):
    """A tiny adapter trained on 4 questions from split seed 0's training part."""
    split = dataset.split(seed=0)
    ex = build_examples(split, dataset.items, tiny_llm, n=4, seed=0)
    tuned = LoraModel(tiny_llm, TINY_SETTINGS)
    tuned.train(ex, progress=False)
    return tuned, ex, split


# ---- 1: the cache key holds the data, not only its name --------------------------------------------
def test_same_named_other_data_gets_its_own_adapter(tiny_llm, halves, cache):
    from recnb.evaluation.protocols import data_fingerprint
    from recnb.tuning.store import cached_adapter

    a, b = halves
    ta = cached_adapter(tiny_llm, TINY_SETTINGS, {"n_examples": 4}, dataset=a)
    tb = cached_adapter(tiny_llm, TINY_SETTINGS, {"n_examples": 4}, dataset=b)
    assert tb.report is not None, "B got A's cached adapter (and A's training report)"
    assert tb.meta["folder"] != ta.meta["folder"]
    assert tb.meta["recipe"]["data_fingerprint"] == data_fingerprint(b) != data_fingerprint(a)
    again = cached_adapter(tiny_llm, TINY_SETTINGS, {"n_examples": 4}, dataset=b)
    assert again.report is None and again.meta["folder"] == tb.meta["folder"]  # B's own adapter, from the cache


def test_a_cached_adapter_whose_recipe_differs_is_not_reused(tiny_llm, halves, cache):
    from pathlib import Path

    from recnb.tuning.lora import META_FILE
    from recnb.tuning.store import cached_adapter

    a = halves[0]
    first = cached_adapter(tiny_llm, TINY_SETTINGS, {"n_examples": 4}, dataset=a)
    meta_path = Path(first.meta["folder"]) / META_FILE
    meta = json.loads(meta_path.read_text())
    meta["recipe"]["data_fingerprint"] = "0" * 64  # the folder now claims other data
    meta_path.write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="recipe"):
        second = cached_adapter(tiny_llm, TINY_SETTINGS, {"n_examples": 4}, dataset=a)
    assert second.report is not None  # trained again, not loaded
    assert json.loads(meta_path.read_text())["recipe"] == second.meta["recipe"] == first.meta["recipe"]


# ---- 3: adapters follow the protocol's split; llm-lora refuses data whose held-out items it learned ----
def test_cached_adapter_trains_on_the_split_it_is_given(tiny_llm, dataset, cache):
    from recnb.tuning.store import cached_adapter, frame_fingerprint, row_hashes

    split1 = dataset.split(seed=1)
    tuned = cached_adapter(tiny_llm, TINY_SETTINGS, {"n_examples": 4}, dataset=dataset, split=split1)
    recipe = tuned.meta["recipe"]
    assert recipe["split_seed"] == 1 and recipe["split_fingerprint"] == frame_fingerprint(split1.train)
    rows = tuned.trained_on["rows"]
    assert len(rows) and np.isin(rows, row_hashes(split1.train)).all()  # every row it learned from is split 1's train
    with pytest.raises(ValueError, match="split_seed"):
        cached_adapter(tiny_llm, TINY_SETTINGS, {"n_examples": 4, "split_seed": 0}, dataset=dataset, split=split1)


def test_compare_tuning_trains_adapters_on_the_protocols_split(tiny_llm, dataset, cache, monkeypatch):
    import recnb.tuning.store as store
    from recnb.evaluation.protocols import SampledProtocol
    from recnb.tuning.measure import compare_tuning

    seen = []
    real = store.cached_adapter

    def spy(*args, **kw):
        seen.append(kw)
        return real(*args, **kw)

    monkeypatch.setattr(store, "cached_adapter", spy)
    proto = SampledProtocol(dataset, part="test", n_users=2, seed=0, split_seed=1, store=False)
    res = compare_tuning(dataset, tiny_llm, sizes=(2,), protocol=proto, shots=0, baselines=(), progress=False, log=None)
    assert seen and seen[0].get("split") is proto.split and seen[0].get("dataset") is proto.dataset
    assert res.leaderboard.run("lora-2").status == "ok" and res.leaderboard.protocol["split_seed"] == 1


def test_llm_lora_refuses_a_frame_missing_rows_its_adapter_learned(trained_tiny, dataset):
    from recnb.scores.llm_lora import LoraPointwiseRanker
    from recnb.tuning.store import row_hashes

    tuned, ex, split = trained_tiny
    assert tuned.trained_on is not None and len(tuned.trained_on["rows"]) > 0
    # its own split's training data (a valid protocol) and train+valid (a test protocol) are fine
    for frame in (split.train, split.train_valid, dataset.ratings):
        assert LoraPointwiseRanker(tuned).fit(frame, dataset.items).data_check == "checked"
    # a frame that holds out one rating the adapter learned from (another split, a custom split)
    user = ex[0].user_id
    learned = np.isin(row_hashes(split.train_valid), tuned.trained_on["rows"]) & (split.train_valid.user_id == user).to_numpy()
    holdout = split.train_valid.drop(index=split.train_valid.index[np.flatnonzero(learned)[-1]])
    with pytest.raises(ValueError, match="holds out"):
        LoraPointwiseRanker(tuned).fit(holdout, dataset.items)


def test_llm_lora_on_other_data_is_allowed_and_reported(trained_tiny):
    from recnb.evaluation.synthetic import make_catalog
    from recnb.scores.llm_lora import LoraPointwiseRanker

    cat = make_catalog()
    ranker = LoraPointwiseRanker(trained_tiny[0]).fit(cat.train, cat.items)
    assert ranker.data_check == "other data" and ranker.describe()["adapter"]["data_check"] == "other data"


def test_llm_lora_reports_an_adapter_without_a_data_record(tiny_llm, trained_tiny, dataset):
    from recnb.scores.llm_lora import LoraPointwiseRanker
    from recnb.tuning import TuningExample

    ex = trained_tiny[1]
    bare = [TuningExample(e.user_id, e.item_id, e.label, e.prefix, e.continuation, e.answer) for e in ex]
    tuned = LoraModel(tiny_llm, TINY_SETTINGS)
    tuned.train(bare, progress=False)
    assert tuned.trained_on is None
    with pytest.warns(UserWarning, match="no record"):
        ranker = LoraPointwiseRanker(tuned).fit(trained_tiny[2].train, dataset.items)
    assert ranker.data_check == "unchecked"


def test_the_training_record_survives_save_and_load(trained_tiny, tiny_llm, tmp_path):
    tuned = trained_tiny[0]
    back = LoraModel.load(tiny_llm, tuned.save(tmp_path / "a"))
    np.testing.assert_array_equal(back.trained_on["rows"], tuned.trained_on["rows"])
    assert back.trained_on["users"] == tuned.trained_on["users"]


def test_a_second_training_run_adds_to_the_record_and_the_report(tiny_llm, dataset):
    # train() again continues training the same weights: what the first run learned must stay on record
    # (it was overwritten, so check_data passed a frame holding out a rating the first run learned)
    from recnb.tuning import TuningExample
    from recnb.tuning.store import row_hashes

    split = dataset.split(seed=0)
    ex_a = build_examples(split, dataset.items, tiny_llm, n=4, seed=0)
    ex_b = build_examples(split.train[~split.train.user_id.isin({e.user_id for e in ex_a})], dataset.items, tiny_llm,
                          n=4, seed=1)
    tuned = LoraModel(tiny_llm, TINY_SETTINGS)
    first = tuned.train(ex_a, progress=False)
    first_users, first_rows = list(tuned.trained_on["users"]), tuned.trained_on["rows"].copy()
    second = tuned.train(ex_b, progress=False)
    assert set(tuned.trained_on["users"]) == set(first_users) | {e.user_id for e in ex_b}
    assert np.isin(first_rows, tuned.trained_on["rows"]).all() and sum(tuned.trained_on["counts"]) == len(tuned.trained_on["rows"])
    assert second is tuned.report and second.runs == 2 and second.n_examples == 8
    assert second.steps == 2 * first.steps and second.losses[: first.steps] == first.losses
    assert second.epochs == 2 and second.seconds >= first.seconds
    learned = np.isin(row_hashes(split.train), first_rows) & (split.train.user_id == ex_a[0].user_id).to_numpy()
    holdout = split.train.drop(index=split.train.index[np.flatnonzero(learned)[-1]])
    with pytest.raises(ValueError, match="holds out"):
        tuned.check_data(holdout)
    # a run without a record makes the whole record unknown (not a partial one that would pass)
    bare = [TuningExample(e.user_id, e.item_id, e.label, e.prefix, e.continuation, e.answer) for e in ex_b]
    tuned.train(bare, progress=False)
    assert tuned.trained_on is None and tuned.check_data(holdout) == "unchecked" and tuned.report.runs == 3


def test_resaving_a_loaded_adapter_keeps_its_meta(trained_tiny, tiny_llm, tmp_path):
    # a loaded adapter saved again lost its report, recipe, n_examples and key (meta was rebuilt from scratch)
    from recnb.tuning.lora import META_FILE

    extra = {"key": "tiny-4ex-abc", "recipe": {"n_examples": 4, "seed": 0}, "n_examples": 4}
    first = json.loads((trained_tiny[0].save(tmp_path / "a", extra=extra) / META_FILE).read_text())
    again = LoraModel.load(tiny_llm, tmp_path / "a").save(tmp_path / "b")
    second = json.loads((again / META_FILE).read_text())
    assert second == first  # the same adapter, described the same way
    assert second["report"]["steps"] == trained_tiny[0].report.steps and "folder" not in second  # no local path
    # extra on a re-save still adds to (or replaces) what was recorded
    third = json.loads((LoraModel.load(tiny_llm, again).save(tmp_path / "c", extra={"note": "x"}) / META_FILE).read_text())
    assert third == {**first, "note": "x"}
    # ... but once trained further, the recipe it was saved with no longer describes it
    tuned = LoraModel(tiny_llm, TINY_SETTINGS)
    tuned.train(trained_tiny[1][:2], progress=False)
    tuned.save(tmp_path / "d", extra=extra)
    tuned.train(trained_tiny[1][2:], progress=False)
    fourth = json.loads((tuned.save(tmp_path / "e") / META_FILE).read_text())
    assert not {"key", "recipe", "n_examples"} & set(fourth) and fourth["report"]["runs"] == 2


def test_registered_llm_lora_loads_the_bundle_without_training(llm, cache, monkeypatch):
    from recnb.scores.llm_lora import _factory
    from recnb.scores.registry import Resources
    from recnb.tuning.store import BUNDLED

    def no_training(*a, **k):
        raise AssertionError("the registered ranker trained an adapter instead of loading the shipped one")

    monkeypatch.setattr(LoraModel, "train", no_training)
    ranker = _factory(Resources(llm=llm))
    assert ranker.tuned.report is None and str(BUNDLED) in ranker.tuned.meta["folder"]


# ---- 4: an adapter loads only onto the base (and format, quantization) it was saved for ---------------
def test_load_refuses_another_base_format_or_quantization(trained_tiny, llm, tiny_llm, tmp_path):
    from recnb.tuning.lora import META_FILE, AdapterMismatchError

    folder = trained_tiny[0].save(tmp_path / "adapter")
    other = _tiny(llm, seed=123, name="some-other-model")
    with pytest.raises(AdapterMismatchError, match="some-other-model"):
        LoraModel.load(other, folder)
    forced = LoraModel.load(other, folder, check=False)  # the explicit override
    assert forced.meta["base"] == "tiny-random"

    for key, value, match in (("format", "recnb.lora-adapter/999", "format"), ("quantization", "4bit", "quantiz")):
        bad = tmp_path / f"bad-{key}"
        bad.mkdir()
        for f in folder.iterdir():
            bad.joinpath(f.name).write_bytes(f.read_bytes())
        meta = json.loads((bad / META_FILE).read_text())
        meta[key] = value
        (bad / META_FILE).write_text(json.dumps(meta))
        with pytest.raises(AdapterMismatchError, match=match):
            LoraModel.load(tiny_llm, bad)


# ---- 2: AUC is pessimistic: failures at the worst rank, ties against the model -------------------------
class _Fixed:
    """A ranker with scripted scores: per user either an exception or a function of the candidates."""

    name = "fixed"

    def __init__(self, how):
        self.how, self.stats = how, {}

    def fit(self, train, items):
        return self

    def score(self, query, candidates):
        return np.asarray(self.how(query.user_id, np.asarray(candidates)), dtype=float)


@pytest.fixture(scope="module")
def proto(dataset):
    from recnb.evaluation.protocols import SampledProtocol

    return SampledProtocol(dataset, n_users=6, store=False)


def _measure(proto, how):
    from recnb.evaluation.leaderboard import evaluate
    from recnb.tuning.measure import _Recorder, auc_per_user, pooled_auc

    rec = _Recorder(_Fixed(how))
    run = evaluate(rec, proto, name="fixed")
    return auc_per_user(rec, run), pooled_auc(rec, run), run, rec


def test_failed_users_count_as_auc_zero_and_at_worst_in_the_pooled_auc(proto):
    users = proto.users.tolist()
    target = {u: proto.target(u) for u in users}
    perfect = lambda u, c: (c == target[u]).astype(float)  # noqa: E731

    def half_fail(u, c):
        if u in users[:3]:
            raise ValueError("model failed")
        return perfect(u, c)

    auc, pooled, run, _ = _measure(proto, half_fail)
    assert run.failed_users == 3
    assert auc.loc[users[:3]].tolist() == [0.0] * 3 and auc.loc[users[3:]].tolist() == [1.0] * 3
    # pooled: 3 perfect users' positives beat their own and the failed users' negatives... but the failed users'
    # positives lose to every negative and their negatives beat every positive
    n_neg = 19
    expected = (3 * 3 * n_neg) / (6 * 6 * n_neg)
    assert pooled == pytest.approx(expected)

    auc, pooled, _, _ = _measure(proto, lambda u, c: (_ for _ in ()).throw(ValueError("always")))
    assert (auc == 0).all() and pooled == 0.0


def test_ties_count_against_the_model(proto):
    users = proto.users.tolist()
    target = {u: proto.target(u) for u in users}
    auc, pooled, run, rec = _measure(proto, lambda u, c: np.zeros(len(c)))  # every candidate tied
    assert (auc == 0).all() and pooled == 0.0

    from recnb.tuning.measure import tied_users

    assert tied_users(rec, run) == 6
    _, _, run, rec = _measure(proto, lambda u, c: (c == target[u]).astype(float))
    assert tied_users(rec, run) == 0
    # the target tied with 4 of 19 negatives, above the other 15: 15/19, not 17/19
    def some_ties(u, c):
        s = np.zeros(len(c))
        negs = np.flatnonzero(c != target[u])
        s[c == target[u]] = 1.0
        s[negs[:4]] = 1.0
        return s

    auc, pooled, run, rec = _measure(proto, some_ties)
    np.testing.assert_allclose(auc.to_numpy(), 15 / 19)
    assert tied_users(rec, run) == 6
    pu = run.per_user.set_index("user_id")
    np.testing.assert_allclose(auc.to_numpy(), ((pu["n_candidates"] - pu["rank"]) / (pu["n_candidates"] - 1)).loc[auc.index])


def test_a_run_that_fails_part_way_keeps_what_it_trained_on_record(tiny_llm, dataset, monkeypatch):
    """A train() that raised after some optimiser steps (a non-finite loss, a Ctrl-C) left the changed
    weights with no record of the ratings they had seen: check_data then passed a frame holding one out."""
    import torch.nn.functional as F

    from recnb.tuning.store import row_hashes

    split = dataset.split(seed=0)
    ex = build_examples(split, dataset.items, tiny_llm, n=8, seed=0)
    tuned = LoraModel(tiny_llm, TINY_SETTINGS)
    calls = {"n": 0}
    real = F.cross_entropy

    def nan_on_second(*a, **k):
        calls["n"] += 1
        loss = real(*a, **k)
        return loss * float("nan") if calls["n"] == 2 else loss

    monkeypatch.setattr(F, "cross_entropy", nan_on_second)  # train() calls it through torch.nn.functional
    with pytest.raises(FloatingPointError):
        tuned.train(ex, progress=False)
    assert calls["n"] == 2  # two optimiser steps were taken before the raise
    assert tuned.trained_on is not None and set(tuned.trained_on["users"]) == {e.user_id for e in ex}
    learned = np.isin(row_hashes(split.train), tuned.trained_on["rows"]) & (split.train.user_id == ex[0].user_id).to_numpy()
    holdout = split.train.drop(index=split.train.index[np.flatnonzero(learned)[-1]])
    with pytest.raises(ValueError, match="holds out"):
        tuned.check_data(holdout)
