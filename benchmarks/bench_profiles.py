"""Profiles: edit-to-new-top-10 latency (retrieval path, and with an LLM rerank of the top 20),
and the negation probe table.

Latency is LiveProfile.apply(): edit -> embed changed statement (if any) -> score the whole
catalog -> ranks -> diff with attribution -> NDCG. "new text" edits (add, edit) embed a sentence
that was never seen (a run-specific word keeps the embedding cache from answering); the others
(flip, weight, move, delete, undo, redo) only re-weight cached columns.
"""
from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

USERS_FULL, USERS_TINY = 20, 3
PROBE_USERS_FULL, PROBE_USERS_TINY = 50, 6
SLOW_PROBE_USERS_TINY = 1
RERANK_USERS_FULL, RERANK_USERS_TINY = 6, 1  # LLM rerank of the top 20 after each new-text edit
SLOW_PROBE_USERS_FULL = 12  # cross-encoder / LLM rankers score 2 x 20 candidates per user
TOPICS = ["heist films set in {w}", "slow-burn thrillers about {w}", "animated films for children about {w}",
          "documentaries about {w}", "romantic comedies in {w}", "war films about {w}", "space adventures near {w}"]
WORDS = ["Paris", "Tokyo", "the sea", "robots", "jazz", "chess", "trains", "wolves", "the desert", "a lighthouse"]


def _pct(xs, q):
    return float(np.percentile(np.asarray(xs) * 1000, q)) if len(xs) else None


def _edits(live, rng, nonce):
    from recnb.profiles.edits import Edit

    def new_text():
        return "I like " + rng.choice(TOPICS).format(w=rng.choice(WORDS)) + f" {nonce}{rng.integers(1e6)}"

    yield "new text", Edit("add", text=new_text())
    sid = live.profile.statements[-1].id
    yield "new text", Edit("edit", id=sid, text=new_text())
    yield "cached", Edit("flip", id=sid)
    yield "cached", Edit("weight", id=sid, weight=float(rng.uniform(0.2, 3)))
    yield "cached", Edit("move", id=sid, index=0)
    yield "cached", "undo"
    yield "cached", "redo"
    yield "new text", Edit("add", text="I dislike " + rng.choice(TOPICS).format(w=rng.choice(WORDS)) + f" {nonce}")
    yield "cached", Edit("delete", id=live.profile.statements[0].id)


def latency(ds, split, encoder, llm_ranker, users, rng, rerank_users=()):
    from recnb.profiles.live import LiveProfile
    from recnb.profiles.scoring import ProfileScorer
    from recnb.scores.base import Query
    from recnb.text.profile import profile_for_user

    t0 = time.perf_counter()
    scorer = ProfileScorer(encoder, ds.items)
    setup = time.perf_counter() - t0
    times = {"new text": [], "cached": []}
    rerank = []
    nonce = f"r{int(time.time())}"
    for uid in users:
        seen = split.history(uid)
        live = LiveProfile(scorer, profile_for_user(split, ds.items, uid), exclude=seen["item_id"],
                           held_out=[split.target(uid)], k=10)
        for kind, edit in _edits(live, rng, nonce):
            res = live.undo() if edit == "undo" else live.redo() if edit == "redo" else live.apply(edit)
            times[kind].append(res.seconds)
            if llm_ranker is not None and kind == "new text" and uid in rerank_users:
                t1 = time.perf_counter()
                top20 = live.top_ids(k=20)
                q = Query(uid, tuple(seen["item_id"]), tuple(seen["rating"]), profile=live.profile)
                llm_ranker.score(q, top20)
                rerank.append(res.seconds + time.perf_counter() - t1)
    every = times["new text"] + times["cached"]
    return {
        "catalog_items": len(scorer),
        "scorer_setup_seconds": setup,
        "edits": len(every),
        "retrieval_p50_ms": _pct(every, 50), "retrieval_p95_ms": _pct(every, 95),
        "new_text_edits": len(times["new text"]),
        "new_text_p50_ms": _pct(times["new text"], 50), "new_text_p95_ms": _pct(times["new text"], 95),
        "cached_edits": len(times["cached"]),
        "cached_p50_ms": _pct(times["cached"], 50), "cached_p95_ms": _pct(times["cached"], 95),
        "llm_rerank_top20_edits": len(rerank),
        "llm_rerank_top20_p50_ms": _pct(rerank, 50), "llm_rerank_top20_p95_ms": _pct(rerank, 95),
    }


def run(tiny: bool = False) -> dict:
    import recnb
    from recnb.profiles.negation import make_cases, probe_rankers, run_probe, summarise_probe
    from recnb.scores.registry import Resources

    rng = np.random.default_rng(0)
    ds = recnb.load_dataset("movielens-small")
    split = ds.split(seed=0)
    res = Resources()
    t0 = time.perf_counter()
    fast, missing = probe_rankers(res, split.train, ds.items, names=("bi-encoder", "profile-split"))
    slow, missing_slow = probe_rankers(res, split.train, ds.items, names=("cross-encoder", "llm-pointwise"))
    missing.update(missing_slow)
    print(f"[bench profiles] rankers built in {time.perf_counter() - t0:.0f}s; missing: {missing}", flush=True)
    users = sorted(split.test["user_id"].unique())[: USERS_TINY if tiny else USERS_FULL]
    t0 = time.perf_counter()
    lat = latency(ds, split, res.encoder, slow.get("llm-pointwise"), users, rng,
                  rerank_users=set(users[: RERANK_USERS_TINY if tiny else RERANK_USERS_FULL]))
    print(f"[bench profiles] latency done in {time.perf_counter() - t0:.0f}s: {lat}", flush=True)
    lat["llm_rerank_with"] = "llm-pointwise ranker (SmolLM2-135M)" if "llm-pointwise" in slow else "not available"
    lat["load_average_1min_at_end"] = os.getloadavg()[0]

    n = PROBE_USERS_TINY if tiny else PROBE_USERS_FULL
    cases = make_cases(split, ds.items, n_users=n, n_candidates=20, seed=0)
    per_user = run_probe(fast, cases)
    print(f"[bench profiles] fast probe done: {len(cases)} users", flush=True)
    if slow:
        per_user = pd.concat([per_user, run_probe(slow, cases[: SLOW_PROBE_USERS_TINY if tiny else SLOW_PROBE_USERS_FULL])],
                             ignore_index=True)
    table = summarise_probe(per_user)
    print(f"[bench profiles] {cases.report()}", flush=True)
    return {
        "edit_latency": lat,
        "negation_probe": table.round(4).to_dict("records"),
        "negation_probe_setup": probe_setup(cases, missing),
    }


def probe_setup(cases, missing: dict) -> dict:
    """How the probe was set up, with the users make_cases passed over (by reason): the table covers only the
    users with a case (slow rankers the first few of them; the table has each ranker's count)."""
    return {"candidates_per_user": 20, "matching_per_user": 10,
            "measure": "change of the disliked genre's mean rank percentile (+ = fell)",
            "users_with_a_case": len(cases), "users_skipped": dict(cases.skipped) or "none",
            "not_available": missing or "none"}
