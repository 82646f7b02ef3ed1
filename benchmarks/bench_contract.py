"""Contract section: every registered ranker's mean AUC on the synthetic contract catalog.

The catalog's right answer is known (``recnb.evaluation.synthetic``; the shared contract test,
``tests/contract``, checks each ranker against its floor). This records what each ranker scores
there, with ties counted half (the usual AUC: a constant ranker gets 0.5) and pessimistically
(the kit's evaluation rule: a constant ranker gets 0), so the floors and the figures quoted in
the rankers' docstrings have a run behind them.
"""
from __future__ import annotations

import time


def run(tiny: bool = False) -> dict:
    import numpy as np

    from recnb.evaluation.synthetic import auc, make_catalog
    from recnb.scores.registry import Resources, all_rankers

    catalog = make_catalog()
    resources = Resources()
    rows = []
    for name, spec in sorted(all_rankers().items()):
        if tiny and "llm" in spec.needs:
            rows.append({"ranker": name, "status": "skipped in tiny mode"})
            continue
        t0 = time.perf_counter()
        try:
            ranker = spec.factory(resources).fit(catalog.train.copy(), catalog.items.copy())
        except Exception as exc:  # reported, never dropped
            rows.append({"ranker": name, "status": f"unavailable: {type(exc).__name__}: {exc}"})
            continue
        # the contract's cases: personalised rankers per user; the others on the popular group's users
        cases = catalog.cases if ranker.personalised else [c for c in catalog.cases if c.group == "space"]
        half, pessimistic, all_tied = [], [], 0
        for c in cases:
            s = ranker.score(catalog.query(c), c.candidates)
            half.append(auc(s, c.candidates, c.relevant))
            pessimistic.append(auc(s, c.candidates, c.relevant, ties="pessimistic"))
            all_tied += int(np.ptp(s) == 0)
        rows.append({"ranker": name, "status": "ok", "users": len(cases),
                     "mean_auc_ties_half": round(float(np.mean(half)), 4),
                     "mean_auc_pessimistic": round(float(np.mean(pessimistic)), 4),
                     "users_with_all_scores_tied": all_tied,
                     "contract_min_auc": spec.contract_min_auc, "contract_max_auc": spec.contract_max_auc,
                     "seconds": round(time.perf_counter() - t0, 2)})
    return {"catalog": {"users": len(catalog.cases), "items": len(catalog.items),
                        "candidates_per_user": len(catalog.cases[0].candidates)},
            "rankers": rows}
