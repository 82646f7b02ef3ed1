"""Every ranker the kit has, by name, with what it needs to be built.

The shared contract test and the leaderboard both iterate over this registry, so a
ranker added here is tested and evaluated without touching either.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from recnb.scores.base import Ranker


class Resources:
    """Heavy shared objects (encoder, LLM, cross-encoder), loaded on first use and then reused.

    Pass one in to pin it: a benchmark hands over the cross-encoder it trained, so its leaderboard
    row does not depend on which model the machine's cache holds.
    """

    def __init__(self, encoder=None, llm=None, cache_dir=None, cross_encoder=None):
        self._encoder, self._llm, self.cache_dir = encoder, llm, cache_dir
        self._cross_encoder = cross_encoder

    @property
    def encoder(self):
        if self._encoder is None:
            from recnb.models.encoder import load_encoder

            self._encoder = load_encoder("minilm")
        return self._encoder

    @property
    def llm(self):
        if self._llm is None:
            from recnb.models.llm import load_llm

            self._llm = load_llm("smollm2-135m", device="cpu")
        return self._llm

    @property
    def cross_encoder(self):
        if self._cross_encoder is None:
            from recnb.scores.cross_encoder import kit_cross_encoder

            self._cross_encoder = kit_cross_encoder(self)
        return self._cross_encoder


@dataclass
class RankerSpec:
    name: str
    factory: Callable[[Resources], Ranker]
    #: "encoder" / "llm": what the factory loads; the leaderboard's tiny mode may skip slow ones.
    needs: tuple = ()
    #: Minimum AUC the ranker must reach on the synthetic contract catalog.
    contract_min_auc: float = 0.9
    #: ... and at most this (the random reference ranker must land near 0.5, not above).
    contract_max_auc: float = 1.0
    description: str = ""
    tags: tuple = field(default_factory=tuple)


RANKERS: dict[str, RankerSpec] = {}


def register(spec: RankerSpec) -> RankerSpec:
    if spec.name in RANKERS:
        raise ValueError(f"a ranker named {spec.name!r} is already registered")
    RANKERS[spec.name] = spec
    return spec


def all_rankers() -> dict[str, RankerSpec]:
    """Import every ranker module (each registers itself) and return the registry."""
    import importlib
    import pkgutil

    import recnb.scores as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in {"base", "registry"} and not mod.name.startswith("_"):
            importlib.import_module(f"recnb.scores.{mod.name}")
    return dict(RANKERS)


def build(name: str, resources: Resources | None = None) -> Ranker:
    specs = all_rankers()
    if name not in specs:
        raise KeyError(f"no ranker named {name!r}; available: {', '.join(sorted(specs))}")
    return specs[name].factory(resources or Resources())
