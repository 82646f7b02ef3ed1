"""recnb.tuning: TALLRec-style examples, LoRA training, adapters saved/reloaded, the llm-lora ranker.

Training mechanics run on a tiny random-weight Llama that uses the bundled model's tokenizer and
chat template (same prompts, a thousand times cheaper); the bundled SmolLM2 is used where the
real weights matter (module names, the shipped adapter, ranker vs direct scoring).
"""
from __future__ import annotations

import numpy as np
import pytest

from recnb.scores.base import Query
from recnb.tuning import LoraModel, LoraSettings, TuningExample, build_examples, examples_frame
from recnb.tuning.examples import shorten_profile


@pytest.fixture(scope="module")
def split(dataset):
    return dataset.split(seed=0)


def _tiny_model(llm):
    """A 2-layer random Llama sized for SmolLM2's tokenizer (seeded: the same weights every time)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, vocab_size=len(llm.tokenizer), max_position_embeddings=2048,
                      tie_word_embeddings=True, pad_token_id=llm.tokenizer.pad_token_id,
                      initializer_range=0.1)  # wider than the default 0.02, so a small adapter can move the logits
    return LlamaForCausalLM(cfg).eval()


@pytest.fixture(scope="module")
def tiny_llm(llm):
    """A 2-layer random Llama with SmolLM2's tokenizer (and so its chat template)."""
    from recnb.models.llm import LocalLLM

    return LocalLLM(_tiny_model(llm), llm.tokenizer, name="tiny-random")


@pytest.fixture(scope="module")
def examples(split, dataset, tiny_llm):
    return build_examples(split, dataset.items, tiny_llm, n=8, seed=0)


# ---- examples -----------------------------------------------------------------------------
def test_examples_balanced_distinct_users_and_from_training_split_only(examples, split):
    assert len(examples) == 8 and all(isinstance(e, TuningExample) for e in examples)
    assert sorted(e.label for e in examples) == [0] * 4 + [1] * 4
    assert len({e.user_id for e in examples}) == 8
    train = split.train.sort_values(["user_id", "timestamp"], kind="mergesort")
    for e in examples:
        hist = train.loc[train.user_id == e.user_id, "item_id"].tolist()
        assert e.n_history == e.cut >= 5
        if e.label == 1:  # "Yes": the item the user watched next, inside the training split
            assert hist[e.cut] == e.item_id and e.answer == "Yes"
        else:  # "No": an item the user never rated in training
            assert e.item_id not in hist and e.answer == "No"
        assert e.prompt.endswith("<|im_start|>assistant\n"), e.prompt[-60:]
        assert "Would I like the movie" in e.prompt and e.continuation.startswith(" ")


def test_examples_are_deterministic_and_seeded(split, dataset, tiny_llm, examples):
    again = build_examples(split, dataset.items, tiny_llm, n=8, seed=0)
    assert [e.to_dict() for e in again] == [e.to_dict() for e in examples]
    other = build_examples(split, dataset.items, tiny_llm, n=8, seed=1)
    assert [(e.user_id, e.item_id) for e in other] != [(e.user_id, e.item_id) for e in examples]


def test_rated_examples_use_talrec_labels(split, dataset, tiny_llm):
    ex = build_examples(split, dataset.items, tiny_llm, n=6, seed=0, negatives="rated")
    assert sorted(e.label for e in ex) == [0, 0, 0, 1, 1, 1]
    train = split.train.sort_values(["user_id", "timestamp"], kind="mergesort")
    for e in ex:
        rows = train[train.user_id == e.user_id]
        assert rows.item_id.iloc[e.cut] == e.item_id
        assert (rows.rating.iloc[e.cut] >= 4.0) == bool(e.label)


@pytest.mark.parametrize("kw, match", [(dict(n=7), "even"), (dict(n=0), "even"), (dict(n=4, negatives="random"), "negatives"),
                                       (dict(n=4, min_history=10_000), "min_history")])
def test_examples_bad_input_is_one_clear_error(split, dataset, tiny_llm, kw, match):
    with pytest.raises(ValueError, match=match):
        build_examples(split, dataset.items, tiny_llm, **kw)


def test_examples_frame(examples, dataset):
    frame = examples_frame(examples, dataset.items)
    assert list(frame.columns[:4]) == ["user_id", "item_id", "label", "answer"] and len(frame) == 8
    assert frame["title"].notna().all()


def test_shorten_profile_keeps_first_likes_and_dislikes(dataset, split):
    from recnb.text.profile import Profile, Statement

    p = Profile([Statement("I like A films", "like"), Statement("I like B films", "like"),
                 Statement("I dislike C films", "dislike"), Statement("I like D films", "like"),
                 Statement("I dislike E films", "dislike")])
    q = shorten_profile(Query(user_id=1, profile=p), max_likes=2, max_dislikes=1)
    assert q.profile_text == "I like A films. I like B films. I dislike C films."
    assert shorten_profile(Query(user_id=1, profile="free text"), 1, 0).profile_text == "free text"


# ---- scoring ------------------------------------------------------------------------------
def test_training_ids_are_what_the_scorer_reads(tiny_llm, examples):
    tuned = LoraModel(tiny_llm)
    e = examples[0]
    ids, n_answer = tuned._encode_example(e)
    enc = tiny_llm._encode
    assert n_answer == 1 and ids == enc(e.prefix) + enc(e.continuation) + enc(e.answer)
    # answer_margin is log P(Yes) - log P(No) after the question, as the two-continuation score gives it
    s = tiny_llm.score(e.prefix, [e.continuation + "Yes", e.continuation + "No"])
    np.testing.assert_allclose(tuned.answer_margin([e]), [s[0] - s[1]], atol=1e-4)


# ---- training, saving, reloading -------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tiny_llm, examples):
    import torch

    before = {k: v.clone() for k, v in tiny_llm.model.state_dict().items()}
    tuned = LoraModel(tiny_llm, LoraSettings(r=8, alpha=16, dropout=0.0, target_modules=("q_proj", "v_proj", "o_proj"),
                                             learning_rate=1e-2, epochs=10, batch_size=4, seed=0))
    untuned = tuned.answer_margin(examples)
    report = tuned.train(examples, progress=False)
    after = tiny_llm.model.state_dict()
    unchanged = all(torch.equal(before[k], after[k]) for k in before)
    return tuned, report, untuned, unchanged


def test_training_lowers_the_loss_and_learns_the_examples(trained, examples):
    from sklearn.metrics import roc_auc_score

    tuned, report, untuned, _ = trained
    assert report.steps == 10 * 2 and len(report.losses) == report.steps
    assert report.final_loss < 0.75 * report.first_loss, report.losses
    labels = [e.label for e in examples]
    margins = tuned.answer_margin(examples)
    assert roc_auc_score(labels, margins) == 1.0, (labels, margins.round(2))
    assert report.examples_per_second > 0 and report.trainable_params == tuned.trainable_params > 0
    assert report.trainable_params < 0.05 * report.total_params


def test_training_never_touches_the_shared_base_model(trained, tiny_llm, examples):
    tuned, _, untuned, unchanged = trained
    assert unchanged
    np.testing.assert_allclose(tuned.answer_margin(examples, adapter=False), untuned, atol=1e-4)
    plain = np.array([np.subtract(*tiny_llm.score_choices(e.prefix, [e.continuation], ["Yes", "No"])[0]) for e in examples])
    np.testing.assert_allclose(plain, untuned, atol=1e-4)


def test_adapter_saves_and_reloads_to_the_same_scores(trained, tiny_llm, examples, tmp_path):
    tuned = trained[0]
    folder = tuned.save(tmp_path / "adapter", extra={"note": "test"})
    assert (folder / "adapter_model.safetensors").exists() and (folder / "recnb_tuning.json").exists()
    back = LoraModel.load(tiny_llm, folder)
    assert back.settings == tuned.settings and back.meta["note"] == "test"
    assert back.meta["report"]["steps"] == tuned.report.steps
    np.testing.assert_allclose(back.answer_margin(examples), tuned.answer_margin(examples), atol=1e-4)
    with pytest.raises(RuntimeError, match="no trainable parameters"):
        back.train(examples[:2], progress=False)


def test_top_layers_puts_adapters_on_the_last_layers_only(tiny_llm):
    tuned = LoraModel(tiny_llm, LoraSettings(top_layers=1))
    names = [n for n, p in tuned.peft.named_parameters() if p.requires_grad]
    assert names and all(".layers.1." in n for n in names), names


def test_bad_settings_and_inputs_are_clear_errors(tiny_llm, tmp_path):
    with pytest.raises(ValueError, match="r >= 1"):
        LoraSettings(r=0)
    with pytest.raises(ValueError, match="dropout"):
        LoraSettings(dropout=1.5)
    with pytest.raises(ValueError, match="top_layers"):
        LoraSettings(top_layers=0)
    with pytest.raises(FileNotFoundError, match="no LoRA adapter"):
        LoraModel.load(tiny_llm, tmp_path)
    with pytest.raises(ValueError, match="no examples"):
        LoraModel(tiny_llm).train([], progress=False)


def test_progress_bar_shows_the_loss(tiny_llm, examples, capsys):
    LoraModel(tiny_llm, LoraSettings(epochs=1, batch_size=8)).train(examples, progress=True, desc="bar-test")
    err = capsys.readouterr().err
    assert "bar-test" in err and "loss=" in err


# ---- the ranker and the shipped adapter (bundled SmolLM2) -------------------------------------------
def test_ranker_asks_exactly_the_training_question(llm, dataset, split):
    from recnb.scores.llm_lora import LoraPointwiseRanker

    ex = build_examples(split, dataset.items, llm, n=2, seed=3)
    ranker = LoraPointwiseRanker(llm).fit(split.train, dataset.items)
    train = split.train.sort_values(["user_id", "timestamp"], kind="mergesort")
    from recnb.text.profile import profile_from_history

    for e in ex:
        rows = train[train.user_id == e.user_id].iloc[: e.cut]
        q = Query(user_id=e.user_id, history=tuple(rows.item_id), ratings=tuple(rows.rating),
                  profile=profile_from_history(dataset.items, rows.item_id, rows.rating, user_id=e.user_id))
        assert ranker.question(q, e.item_id) == (e.prefix, e.continuation)


def test_shipped_adapter_matches_the_default_recipe_and_loads(llm):
    import recnb
    from recnb.tuning.store import DEFAULT_RECIPE, DEFAULT_SETTINGS, adapter_folder, bundled_folder

    from recnb.evaluation.protocols import data_fingerprint
    from recnb.tuning.store import frame_fingerprint

    folder = bundled_folder(llm)
    assert folder is not None, "the default adapter is not shipped: run python -m recnb.tuning.store --bundle"
    tuned = LoraModel.load(llm, folder)
    assert tuned.meta["key"] == adapter_folder(llm).name == folder.name
    recipe = tuned.meta["recipe"]
    assert {k: recipe[k] for k in DEFAULT_RECIPE} == DEFAULT_RECIPE and tuned.settings == DEFAULT_SETTINGS
    # the data it was trained on is in its recipe (and so in its folder name), not only the data set's name
    ds = recnb.load_dataset(DEFAULT_RECIPE["dataset"])
    assert recipe["data_fingerprint"] == data_fingerprint(ds)
    assert recipe["split_fingerprint"] == frame_fingerprint(ds.split(seed=DEFAULT_RECIPE["split_seed"]).train)
    assert tuned.trained_on is not None and len(tuned.trained_on["rows"]) > 0
    assert tuned.meta["report"]["n_examples"] == DEFAULT_RECIPE["n_examples"]
    assert any("lora_A" in n for n, _ in tuned.peft.named_parameters())


def test_ranker_scores_equal_direct_question_scores(llm, dataset, split):
    from recnb.scores.llm_lora import LoraPointwiseRanker
    from recnb.tuning.store import bundled_folder

    tuned = LoraModel.load(llm, bundled_folder(llm))
    ranker = LoraPointwiseRanker(tuned).fit(split.train, dataset.items)
    user = int(split.test.user_id.iloc[0])
    rows = split.train[split.train.user_id == user].sort_values("timestamp")
    q = Query(user_id=user, history=tuple(rows.item_id), ratings=tuple(rows.rating))
    cands = [1, 2, 3]
    got = ranker.score(q, cands)
    direct = []
    for c in cands:
        prefix, cont = ranker.question(q, c)
        direct.append(tuned.answer_margin([TuningExample(user, c, 1, prefix, cont, "Yes")])[0])
    np.testing.assert_allclose(got, direct, atol=1e-3)
    assert ranker.describe()["tuned"] is True


# ---- the measurement (tiny random model, so it runs in seconds) -------------------------------------
def test_compare_tuning_table_auc_and_json(tiny_llm, dataset, monkeypatch, tmp_path):
    import json

    from recnb.tuning.measure import compare_tuning

    monkeypatch.setenv("RECNB_CACHE", str(tmp_path))  # adapters and candidate files go to a scratch cache
    res = compare_tuning(dataset, tiny_llm, sizes=(2,), n_users=3, shots=1, baselines=("popularity", "no-such-ranker"),
                         progress=False, log=None)
    table = res.table()
    assert list(table["model"]) == ["zero-shot", "few-shot", "lora-2", "popularity", "no-such-ranker", "random (analytic)"]
    ran = table[table["model"].isin(["zero-shot", "few-shot", "lora-2", "popularity"])]
    assert (ran["users"] == 3).all() and ran["AUC"].between(0, 1).all()
    # failures and ties are counted next to the AUC (both count against the model)
    assert {"failed users", "tied users"} <= set(table.columns) and (ran["tied users"] >= 0).all()
    assert "is registered" in table.set_index("model").loc["no-such-ranker", "note"]
    assert res.trained_now["lora-2"] and res.reports["lora-2"].n_examples == 2
    # With one positive among n candidates and no ties, per-user AUC = (n - rank) / (n - 1) from the harness's rank.
    per_user = res.auc["zero-shot"]
    z = res.leaderboard.run("zero-shot").per_user.set_index("user_id")
    np.testing.assert_allclose(per_user.loc[z.index], (z["n_candidates"] - z["rank"]) / (z["n_candidates"] - 1), atol=1e-9)
    d = res.to_dict()
    json.dumps(d)  # JSON-ready for benchmarks/results.json
    assert [r["model"] for r in d["auc_vs_zero_shot"]] == ["lora-2", "few-shot"]
    again = compare_tuning(dataset, tiny_llm, sizes=(2,), n_users=3, shots=0, baselines=(), progress=False, log=None)
    assert not again.trained_now["lora-2"]  # the adapter came back from the cache
    np.testing.assert_allclose(again.auc["lora-2"], res.auc["lora-2"], atol=1e-9)


def test_saved_adapter_keeps_no_local_paths(trained, tmp_path):
    import json

    folder = trained[0].save(tmp_path / "a")
    assert json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"] == "tiny-random"
    assert sorted(p.name for p in folder.iterdir()) == ["adapter_config.json", "adapter_model.safetensors", "recnb_tuning.json"]


def test_a_handed_over_base_forgets_its_cached_prefixes(llm, examples):
    """copy_base=False: the caller's llm runs the adapted weights, so its prefix cache must not serve old numbers."""
    from recnb.models.llm import LocalLLM

    own = LocalLLM(_tiny_model(llm), llm.tokenizer, name="own-tiny")
    ex = examples[0]
    before = own.score(ex.prefix, [ex.continuation])
    assert ex.prefix in own._prefix_cache
    tuned = LoraModel(own, LoraSettings(epochs=1, batch_size=4, learning_rate=5e-2, dropout=0.0), copy_base=False)
    assert own._prefix_cache == {}
    tuned.train(examples[:4], progress=False)
    after = own.score(ex.prefix, [ex.continuation])  # the adapter's numbers, computed afresh
    np.testing.assert_allclose(after, tuned.llm.score(ex.prefix, [ex.continuation]), atol=1e-5)
    assert not np.allclose(after, before, atol=1e-4)
