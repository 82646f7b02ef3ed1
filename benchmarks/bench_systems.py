"""Multi-module systems: latency per turn by backend, hallucination with vs without retrieval,
prompt-injection defences, tool-call protocol, intent reading, and the user-simulator evaluation.

Everything runs on the bundled models (all-MiniLM-L6-v2, SmolLM2-135M-Instruct) over the bundled
movielens-small catalog. Full mode uses the whole catalog; tiny mode a 1,500-item subset and a
handful of requests/users (a smoke run, marked tiny in results.json).
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np

DIALOGUE = ["hi", "a crime movie from the 1970s", "who directed the first one?", "something lighter",
            "why did you suggest the first one?", "older please"]


def _round(x, n=4):
    return None if x is None or (isinstance(x, float) and not np.isfinite(x)) else round(float(x), n)


def _records(frame, n=4):
    out = []
    for r in frame.to_dict("records"):
        out.append({k: (_round(v, n) if isinstance(v, (float, np.floating)) else (int(v) if isinstance(v, (np.integer, np.bool_)) else v))
                    for k, v in r.items()})
    return out


def intent_row(catalog, policy: str, llm, examples, lex) -> dict:
    """Intent reading on the labelled messages: accuracy, fallback rate, seconds per message."""
    from recnb.systems.conversation import evaluate_intents, intent_summary

    row = intent_summary(policy, evaluate_intents(catalog, policy, llm, examples, lexicon=lex))
    row["mean_s"] = row.pop("seconds_per_message")
    return {k: _round(v) if isinstance(v, float) else v for k, v in row.items()}


def simulator_inputs(ds, split, targets) -> tuple[dict, dict]:
    """Each simulated user's training history and one-shot baseline profile (the likes of the
    deterministic history profile: embeddings ignore negation)."""
    from recnb.text.profile import Profile, profile_for_user

    hist = {t.user_id: split.train.item_id[split.train.user_id == t.user_id].tolist() for t in targets}
    profiles = {t.user_id: Profile(profile_for_user(split.train, ds.items, t.user_id).likes).to_text() for t in targets}
    return hist, profiles


def simulator_row(catalog, llm, policy: str, lex, targets, hist, profiles, k: int, max_turns: int) -> dict:
    """The user simulator for one policy: success@k by turn, turns to success, difference from one-shot."""
    from recnb.systems.conversation import ConversationalRecommender
    from recnb.systems.simulator import evaluate

    res = evaluate(lambda exclude: ConversationalRecommender(catalog, llm, policy=policy, lexicon=lex, exclude=exclude),
                   catalog, targets, hist, profiles, k=k, max_turns=max_turns)
    per = res["per_user"]
    return {"users": len(per), "k": k, "max_turns": max_turns, "success": _records(res["success"]),
            "turns_to_success": _records(res["turns"]),
            "conversational_minus_one_shot": {kk: _round(v) for kk, v in res["difference_vs_one_shot"].items()},
            "fallbacks_per_turn": _round(per.fallbacks.sum() / max(1, sum(e.turns for e in res["episodes"]))),
            "mean_s_per_episode": _round(per.seconds.mean())}


def _catalog(ds, split, tiny: bool, targets=()):
    from recnb.systems.catalog import ItemCatalog

    if not tiny:
        return ItemCatalog.from_dataset(ds)
    items = ds.items
    keep = items[(items.index < 1500) | items.item_id.isin(list(targets) + [6, 858, 1221, 431, 1214, 912])]
    return ItemCatalog(keep)


def _latency(catalog, lex, backends: dict) -> list[dict]:
    from recnb.systems.conversation import ConversationalRecommender

    rows = []
    catalog.search("warm up", k=1)  # item vectors and the encoder load before any timing
    for name, (llm, policy, error) in backends.items():
        if error:
            rows.append({"backend": name, "policy": policy, "status": f"not measured: {error}"})
            continue
        cr = ConversationalRecommender(catalog, llm, policy=policy, lexicon=lex)
        cr.turn("hello")  # warm-up turn (first model call, calibration prior), not timed
        cr.reset()
        cr.stats.clear()
        secs = [cr.turn(msg).seconds for msg in DIALOGUE]
        rows.append({"backend": name, "policy": policy, "status": "ok", "turns": len(secs),
                     "mean_s_per_turn": _round(statistics.mean(secs)), "median_s_per_turn": _round(statistics.median(secs)),
                     "max_s_per_turn": _round(max(secs)), "fallbacks": int(cr.stats.get("fallback", 0)),
                     "llm_calls": int(cr.stats.get("llm_calls", 0))})
    return rows


def _backends(llm):
    out = {"none (rules)": (None, "rules", None),
           "transformers CPU fp32, SmolLM2-135M": (llm, "llm-choice", None),
           "transformers CPU fp32, SmolLM2-135M ": (llm, "llm-json", None)}
    try:
        from recnb.models.llm import load_llm

        out["llama-cpp CPU Q4_1, SmolLM2-135M"] = (load_llm("smollm2-135m", backend="llama-cpp"), "llm-choice", None)
    except Exception as exc:  # not installed here: say so rather than leave the row out
        out["llama-cpp CPU Q4_1, SmolLM2-135M"] = (None, "llm-choice", f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
    url = os.environ.get("RECNB_LLM_SERVER")
    if url:
        try:
            from recnb.models.openai_http import OpenAICompatibleLLM

            out[f"OpenAI-compatible server {url}"] = (OpenAICompatibleLLM(url, tokenizer="smollm2-135m"), "llm-choice", None)
        except Exception as exc:
            out[f"OpenAI-compatible server {url}"] = (None, "llm-choice", f"{type(exc).__name__}: {exc}")
    else:
        out["OpenAI-compatible server"] = (None, "llm-choice", "no remote server configured (set RECNB_LLM_SERVER); "
                                           "a loopback llama.cpp server is measured in the systems_server section")
    return out


def run(tiny: bool = False) -> dict:
    import recnb
    from recnb.systems.injection import DEFENCE_CONFIGS, run_injection_eval
    from recnb.systems.nlu import INTENT_EXAMPLES, TOOL_REQUESTS, Lexicon, rule_tool_call
    from recnb.systems.rag import FIXED_REQUESTS, RAGRecommender, run_hallucination_eval
    from recnb.systems.simulator import pick_targets
    from recnb.systems.tools import ToolBox, call_with_model
    import torch

    t_start = time.perf_counter()
    ds = recnb.load_dataset("movielens-small")
    split = ds.split(seed=0)
    n_users = 6 if tiny else 100
    targets = pick_targets(ds, split, n_users, seed=0)
    catalog = _catalog(ds, split, tiny, [t.item_id for t in targets])
    lex = Lexicon(catalog)
    llm = recnb.load_llm("smollm2-135m", device="cpu")
    results = {"catalog_items": len(catalog), "torch_threads": torch.get_num_threads(), "model": "SmolLM2-135M-Instruct (bundled)"}

    # 1. latency per turn by backend (the same six-turn dialogue)
    results["latency_per_turn"] = _latency(catalog, lex, _backends(llm))

    # 2. hallucination with vs without retrieval (free generation; the likelihood fallback counted)
    requests = FIXED_REQUESTS[:2] if tiny else FIXED_REQUESTS
    rag = RAGRecommender(catalog, llm, k=5, n=2, max_new_tokens=60 if tiny else 80)
    answers, rows, table = run_hallucination_eval(rag, requests)
    results["hallucination"] = {"requests": len(requests), "mode": "generate", "k_retrieved": 5,
                                "table": _records(table),
                                "claims_by_kind": _records(
                                    __import__("pandas").concat([a.report.frame().assign(retrieval=a.retrieval) for a in answers])
                                    .groupby(["retrieval", "kind"]).agg(claims=("supported", "size"), unsupported=("supported", lambda s: int((~s.astype(bool)).sum())))
                                    .reset_index())}

    # 3. prompt injection: which defences hold with the bundled model
    inj_requests = FIXED_REQUESTS[:1] if tiny else FIXED_REQUESTS[:8]
    configs = {k: DEFENCE_CONFIGS[k] for k in (("none", "all") if tiny else DEFENCE_CONFIGS)}
    _, summary = run_injection_eval(catalog, llm, inj_requests, configs, styles=("plain",), mode="score", k=5)
    gen_requests = FIXED_REQUESTS[:1] if tiny else FIXED_REQUESTS[:3]
    _, gsummary = run_injection_eval(catalog, llm, gen_requests, {k: DEFENCE_CONFIGS[k] for k in ("none", "validate only", "all")},
                                     styles=("plain",), mode="generate", k=5, max_new_tokens=60)
    results["injection"] = {"score_mode": {"requests": len(inj_requests), "summary": _records(summary),
                                           "note": "the 'other' attack is n/a here: score mode chooses among retrieved "
                                                   "items only, so an outside target cannot win whatever the defences; "
                                                   "generate_mode measures it"},
                            "generate_mode": {"requests": len(gen_requests), "summary": _records(gsummary)}}

    # 4. the tool-call protocol with the bundled model (one retry with the error fed back)
    box = ToolBox(catalog)
    tool_rows = []
    for req, tool in (TOOL_REQUESTS[:3] if tiny else TOOL_REQUESTS):
        out = call_with_model(llm, box, req, max_attempts=2, fallback=lambda r: rule_tool_call(r, lex))
        first = out.attempts[0][1]
        tool_rows.append({"first_valid": first.ok, "valid_after_retry": out.protocol_ok, "fallback": out.fallback,
                          "right_tool": out.protocol_ok and out.result.tool == tool,
                          "rule_right_tool": rule_tool_call(req, lex)["tool"] == tool, "codes": [r.code for _, r in out.attempts]})
    n = len(tool_rows)
    results["tools"] = {"requests": n,
                        "valid_first_attempt": sum(r["first_valid"] for r in tool_rows) / n,
                        "valid_after_one_retry": sum(r["valid_after_retry"] for r in tool_rows) / n,
                        "model_right_tool": sum(r["right_tool"] for r in tool_rows) / n,
                        "fallback_rate": sum(r["fallback"] for r in tool_rows) / n,
                        "rules_right_tool": sum(r["rule_right_tool"] for r in tool_rows) / n,
                        "rejections_by_code": dict(sorted((k[len("rejected_"):], v) for k, v in box.stats.items() if k.startswith("rejected_")))}

    # 5. who reads intents: rules vs the LLM policies on the labelled set
    examples = INTENT_EXAMPLES[::5] if tiny else INTENT_EXAMPLES
    results["intents"] = [intent_row(catalog, policy, None if policy == "rules" else llm, examples, lex)
                          for policy in ("rules", "llm-choice", "llm-json")]

    # 6. the user simulator: conversational (rules, and llm-choice on fewer people) vs one-shot retrieval
    hist, profiles = simulator_inputs(ds, split, targets)
    k, T = 5, (4 if tiny else 6)
    sim = {}
    for policy, who in (("rules", targets), ("llm-choice", targets[: (2 if tiny else 20)])):
        sim[policy] = simulator_row(catalog, None if policy == "rules" else llm, policy, lex, who, hist, profiles, k, T)
    results["simulator"] = sim
    results["simulator_note"] = ("The simulator's phrasings share vocabulary with the rule reader: success rates measure the "
                                 "dialogue policy and retrieval it drives, not understanding of real people's language.")
    results["total_s"] = _round(time.perf_counter() - t_start, 1)
    return results
