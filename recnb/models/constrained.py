"""Constrained decoding: the model can only write titles from a given list (a prefix trie over token ids).

``TitleTrie`` holds the token ids of every allowed title. During ``generate`` transformers calls
``prefix_allowed_tokens_fn(batch_id, input_ids)`` at each step; the function replays what was
generated so far through the trie and allows only tokens that continue some unused title, the
separator after a complete title, or end-of-text once ``n_titles`` titles are written. Hallucinated
titles become impossible by construction. Tested with greedy decoding (beam search with
``prefix_allowed_tokens_fn`` has a known upstream bug class; we do not use it).
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence


class _Node:
    __slots__ = ("children", "ends", "titles")

    def __init__(self):
        self.children: dict = {}
        self.ends: list = []  # indices of titles that end here
        self.titles: set = set()  # indices of titles passing through (or ending) here


class TitleTrie:
    """A prefix trie over tokenised titles; each title may be written at most as often as it is listed."""

    def __init__(self, titles: Sequence[str], tokenizer):
        self.titles = list(titles)
        self.tokenizer = tokenizer
        self.root = _Node()
        for idx, title in enumerate(self.titles):
            ids = tokenizer(title, add_special_tokens=False)["input_ids"]
            if not ids:
                raise ValueError(f"title {title!r} has no tokens")
            node = self.root
            node.titles.add(idx)
            for t in ids:
                node = node.children.setdefault(t, _Node())
                node.titles.add(idx)
            node.ends.append(idx)

    def walk(self, generated: Sequence[int], sep: int) -> tuple:
        """(current node, indices of completed titles) after ``generated`` tokens, or (None, done) when off-trie."""
        node, done = self.root, []
        for t in generated:
            if t == sep and node is not self.root:
                free = [i for i in node.ends if i not in done]
                if not free:
                    return None, done
                done.append(free[0])
                node = self.root
                continue
            node = node.children.get(t)
            if node is None:
                return None, done
        return node, done


def title_constraint(trie: TitleTrie, prompt_len: int, sep: int, eos: int, n_titles: int):
    """A ``prefix_allowed_tokens_fn`` for ``model.generate`` that writes ``n_titles`` distinct titles, one per line.

    prompt_len: the padded prompt length (generation starts there for every row of the batch).
    """
    def allowed(batch_id, input_ids) -> list[int]:
        generated = input_ids[prompt_len:].tolist()
        node, done = trie.walk(generated, sep)
        if node is None:  # cannot happen while the constraint is applied; end the text rather than guess
            return [eos]
        if node is trie.root and len(done) >= n_titles:
            return [eos]
        used = Counter(done)
        remaining = {i for i in node.titles if used[i] == 0}
        out = [t for t, child in node.children.items() if child.titles & remaining]
        if node is not trie.root and any(i in remaining for i in node.ends):
            out.append(sep)
        return out or [eos]

    return allowed


def constrained_titles(llm, prompt: str, titles: Sequence[str], n_titles: int | None = None,
                       sep: str = "\n", max_new_tokens: int | None = None) -> tuple[list[int], str]:
    """Greedy generation restricted to ``titles``: (indices into ``titles`` in the order written, raw text).

    Needs a local transformers backend (``llm.capabilities.constrained_generation``).
    """
    if not getattr(llm, "capabilities", None) or not llm.capabilities.constrained_generation:
        raise NotImplementedError(f"{type(llm).__name__} cannot constrain generation token by token; "
                                  "use the local transformers backend (recnb.load_llm)")
    tok = llm.tokenizer
    sep_ids = tok(sep, add_special_tokens=False)["input_ids"]
    if len(sep_ids) != 1:
        raise ValueError(f"the separator {sep!r} must be one token, it is {len(sep_ids)}")
    clash = [t for t in titles if sep in t]  # (a title without the text has no separator token either)
    if clash:  # the trie would end the title there, and the text would be split there
        raise ValueError(f"{len(clash)} title(s) contain the separator {sep!r} (e.g. {clash[0]!r}); pick another sep")
    trie = TitleTrie(titles, tok)
    n_titles = len(titles) if n_titles is None else min(n_titles, len(titles))
    prompt_len = len(tok(prompt, add_special_tokens=False)["input_ids"])
    longest = max(len(tok(t, add_special_tokens=False)["input_ids"]) for t in titles)
    if max_new_tokens is None:
        # room for the n longest titles plus separators; exact lengths vary, the longest is safe
        max_new_tokens = n_titles * (longest + 1) + 1
    fn = title_constraint(trie, prompt_len, sep_ids[0], tok.eos_token_id, n_titles)
    text = llm.generate(prompt, max_new_tokens=max_new_tokens, prefix_allowed_tokens_fn=fn)
    # Every line the constraint let through is exactly one title; map lines back to indices
    # (a title listed twice may be written twice, once per listing).
    free: dict = {}
    for i, t in enumerate(titles):
        free.setdefault(t, []).append(i)
    done = []
    for line in text.split(sep):
        if line in free and free[line]:
            done.append(free[line].pop(0))
    return done, text
