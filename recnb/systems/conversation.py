"""A conversational recommender: a dialogue loop over an editable NL belief state.

Each user message is read into an intent (recommend / critique / explain / question / accept /
elicit) and belief updates, then the system acts: it **elicits** a preference, **recommends**
items that satisfy every hard constraint, **explains** a recommendation from the item's facts,
**answers** a question about an item from its facts, or takes a **critique** ("something
lighter", "older", "not by this director") relative to the item it criticises.

Who reads the message is the ``policy``:

* ``"rules"``: :mod:`recnb.systems.nlu` only (no LLM);
* ``"llm-choice"``: the LLM picks the intent by log-likelihood among labelled options (always a
  well-formed answer); the rules read the slots;
* ``"llm-json"``: the LLM writes a JSON action (intent, likes, dislikes) validated with
  jsonschema; likes/dislikes it invents (words the person never wrote) are dropped and counted,
  and so are those that reverse what the rules read in the same message ("I hate funny films"
  with likes ["funny"]: ``stats["llm_slots_contradicting_rules"]``).

Whenever the LLM's answer is malformed or impossible in the current state (a critique before
anything was recommended), the rules handle the turn and ``stats["fallback"]`` counts it, with
the reason. Any LLM with the kit's interface (``generate``, ``chat_prompt``, ``score``) works:
the bundled 135M model, a larger one on a GPU, or a server backend.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import jsonschema
import numpy as np

from recnb.systems import nlu
from recnb.systems.belief_state import Belief, BeliefState, read_beliefs
from recnb.systems.constraints import Constraint, ConstraintError, decade_of, values_of
from recnb.systems.tools import ToolCallError, first_json_object

POLICIES = ("rules", "llm-choice", "llm-json")
CHOICE_LABELS = {
    "A": ("recommend", "asks for a movie, or says what they like or dislike"),
    "B": ("critique", "criticises the movies just suggested (wants older, lighter, shorter, different...)"),
    "C": ("explain", "asks why a movie was suggested"),
    "D": ("question", "asks a fact about a movie (director, cast, year, length...)"),
    "E": ("accept", "accepts a suggestion"),
    "F": ("elicit", "greets, or says nothing about movies"),
}
ACTION_SCHEMA = {
    "type": "object",
    "properties": {
        "intent": {"enum": list(nlu.INTENTS)},
        "likes": {"type": "array", "items": {"type": "string", "maxLength": 120}, "maxItems": 8},
        "dislikes": {"type": "array", "items": {"type": "string", "maxLength": 120}, "maxItems": 8},
        "item": {"type": ["string", "integer", "null"]},
    },
    "required": ["intent"],
    "additionalProperties": False,
}
ELICIT_QUESTIONS = {
    "genre": "What kind of movie are you in the mood for? A genre, say comedy, thriller or drama?",
    "era": "Any period you prefer: a classic, something from the 80s or 90s, or something recent?",
    "people": "Is there an actor or a director you like?",
    "avoid": "Is there anything you'd rather avoid?",
}
FIELD_WORDS = {"director": "directed by", "cast": "starring", "writer": "written by", "country": "made in",
               "language": "in", "genres": "a", "runtime": "runtime", "year": "released in", "awards": "awards"}


@dataclass
class Turn:
    index: int
    user: str
    intent: str
    action: str  # elicit | recommend | explain | answer | close | none
    reply: str
    items: list = field(default_factory=list)  # ids recommended this turn, best first
    about: object = None  # the item an explanation / answer is about
    asked: str | None = None  # the facet an elicitation asks about
    source: str = "rules"  # who read the message: rules | llm-choice | llm-json
    fallback: str | None = None  # why the rules took over from the LLM (None: they did not)
    added: list = field(default_factory=list)  # belief texts added this turn
    removed: list = field(default_factory=list)  # belief texts replaced this turn
    notes: list = field(default_factory=list)
    llm_output: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


class ConversationalRecommender:
    """The dialogue loop. ``turn(text)`` handles one user message and returns a :class:`Turn`.

    catalog: :class:`recnb.systems.catalog.ItemCatalog`. llm: needed for the llm-* policies.
    exclude: items never recommended (the person's watched history). k: items per recommendation.
    """

    def __init__(self, catalog, llm=None, policy: str = "rules", k: int = 5, exclude=(), lexicon=None,
                 belief: BeliefState | None = None, pool: int = 200, facet_bonus: float = 0.2,
                 dislike_weight: float = 0.5, max_new_tokens: int = 48, calibrate: bool = True):
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, not {policy!r}")
        if policy != "rules" and llm is None:
            raise ValueError(f"policy {policy!r} needs an llm (or use policy='rules')")
        self.catalog, self.llm, self.policy, self.k = catalog, llm, policy, k
        self.exclude = set(exclude)
        self.lex = lexicon or nlu.Lexicon(catalog)
        self.belief = belief or BeliefState()
        self.pool, self.facet_bonus, self.dislike_weight, self.max_new_tokens = pool, facet_bonus, dislike_weight, max_new_tokens
        self.calibrate, self._prior = calibrate, {}
        self.turns: list[Turn] = []
        self.shown: list = []  # the last recommendation
        self.rejected: set = set()  # items recommended before and not taken
        self.asked: set = set()
        self.done = False
        self.stats: Counter = Counter()

    # -- the loop ------------------------------------------------------------------------------
    def turn(self, text: str) -> Turn:
        t0 = time.perf_counter()
        text = str(text or "").strip()
        if not text:
            raise ValueError("the message is empty: say what you would like to watch, or edit the beliefs")
        index = len(self.turns) + 1
        self.stats["turns"] += 1
        parse, source, fallback, raw = self.read(text, index)
        self.stats[f"intent_{parse.intent}"] += 1
        turn = Turn(index, text, parse.intent, "none", "", source=source, fallback=fallback, llm_output=raw,
                    notes=list(parse.notes))
        if parse.intent not in ("recommend", "critique"):  # those two weigh the beliefs themselves
            self._apply(parse.beliefs, turn)  # preferences stated alongside (kept when an LLM read another intent)
        handler = getattr(self, f"_on_{parse.intent}")
        handler(parse, turn)
        turn.seconds = time.perf_counter() - t0
        self.turns.append(turn)
        return turn

    def read(self, text: str, index: int | None = None):
        """(parse, source, fallback reason, raw LLM output) for one message, without acting on it."""
        index = len(self.turns) + 1 if index is None else index
        rules = nlu.parse(text, self.lex, self.shown, index)
        if self.policy == "rules":
            return rules, "rules", None, None
        self.stats["llm_calls"] += 1
        try:
            if self.policy == "llm-choice":
                intent, raw, extra = self._llm_choice(text), None, []
            else:
                intent, raw, extra = self._llm_json(text, index)
        except (ToolCallError, jsonschema.ValidationError, ValueError) as exc:
            return self._fallback(rules, f"malformed: {str(exc).splitlines()[0][:160]}", getattr(exc, "raw", None))
        if intent in ("critique", "explain", "accept") and not self.shown:
            return self._fallback(rules, f"{intent} before anything was recommended", raw)
        if intent == rules.intent:
            parse = rules
        else:
            parse = nlu.Parse(intent=intent)
            if intent == "critique":
                parse.critique = nlu.critiques_in(text) or ["other"]
                parse.item_ref = nlu.item_reference(text, self.lex, self.shown)
            elif intent in ("question", "explain"):
                parse.item_ref = nlu.item_reference(text, self.lex, self.shown)
                parse.question = nlu.question_field(text) or ("description" if intent == "question" else None)
            elif intent == "recommend":
                parse.beliefs = nlu.extract_preferences(text, self.lex, index)
            if intent != "recommend" and rules.beliefs:
                # The person stated preferences whatever the LLM calls the message: they are kept.
                parse.beliefs = list(rules.beliefs)
                parse.notes.append(f"kept the preferences you stated ({'; '.join(f'{b.kind}: {b.text}' for b in rules.beliefs)}), "
                                   f"though the message was read as {intent}")
        seen = {x.text.lower() for x in parse.beliefs} | {(x.kind, x.facet) for x in parse.beliefs if x.facet} \
            | {x.constraints for x in parse.beliefs if x.constraints}
        # The grounding check only needs one shared word, so an LLM slot can copy a word the person
        # negated ("I hate funny films" -> likes: ["funny"]): the rules' reading of the polarity wins.
        ruled = rules.beliefs + parse.beliefs
        kept = []
        for b in extra:
            if any(_contradicts(b, r) for r in ruled):
                self.stats["llm_slots_contradicting_rules"] += 1
            elif not {b.text.lower(), (b.kind, b.facet), b.constraints} & seen:
                kept.append(b)
        parse.beliefs = parse.beliefs + kept
        return parse, self.policy, None, raw

    def _fallback(self, rules, reason: str, raw):
        self.stats["fallback"] += 1
        self.stats["fallback_" + reason.split(":")[0].split(" ")[0]] += 1
        return rules, "rules", reason, raw

    # -- the LLM readers -------------------------------------------------------------------------
    def _context(self) -> str:
        if not self.shown:
            return "Nothing has been suggested yet."
        return "Just suggested: " + "; ".join(self.catalog.title(i) for i in self.shown[:3]) + "."

    def _choice_scores(self, text: str) -> np.ndarray:
        options = "\n".join(f"{k}: {desc}" for k, (_, desc) in CHOICE_LABELS.items())
        user = (f"A person is chatting with a movie recommender. {self._context()}\n"
                f'Their message: "{text}"\nWhich describes the message best?\n{options}\nAnswer with one letter.')
        prompt = self.llm.chat_prompt(user, assistant_prefix="Answer:")
        return np.asarray(self.llm.score(prompt, [f" {k}" for k in CHOICE_LABELS]), dtype=float)

    def _llm_choice(self, text: str) -> str:
        scores = self._choice_scores(text)
        if self.calibrate:
            # Contextual calibration (Zhao et al., 2021): a small model prefers some letters whatever
            # the message says; subtract its preference for a content-free message in the same context.
            key = self._context()
            if key not in self._prior:
                self._prior[key] = self._choice_scores("N/A")
            scores = scores - self._prior[key]
        return CHOICE_LABELS[list(CHOICE_LABELS)[int(np.argmax(scores))]][0]

    def _llm_json(self, text: str, index: int):
        user = ("Read the person's message to a movie recommender and reply with one JSON object: "
                '{"intent": one of recommend, critique, explain, question, accept, elicit, '
                '"likes": [what they want], "dislikes": [what they do not want], "item": the movie they refer to or null}.\n'
                'Example: "a funny film but no horror" -> {"intent": "recommend", "likes": ["funny"], "dislikes": ["horror"], "item": null}\n'
                f'{self._context()}\nMessage: "{text}"')
        prompt = self.llm.chat_prompt(user, assistant_prefix='{"intent": "')
        raw = '{"intent": "' + self.llm.generate(prompt, max_new_tokens=self.max_new_tokens, stop=["\n\n"])
        try:
            obj = first_json_object(raw)
            jsonschema.validate(obj, ACTION_SCHEMA)
        except (ToolCallError, jsonschema.ValidationError) as exc:
            exc.raw = raw
            raise
        extra = []
        words = set(nlu.re.findall(r"[a-z0-9']+", text.lower()))
        for key, kind in (("likes", "like"), ("dislikes", "dislike")):
            for phrase in obj.get(key, []):
                toks = set(nlu.re.findall(r"[a-z0-9']+", phrase.lower()))
                if not toks or not toks & words:
                    # Not grounded in what the person wrote: a small model copies the example.
                    self.stats["llm_ungrounded_slots"] += 1
                    continue
                extra += read_beliefs(phrase, kind, self.parser, "llm", index)
        return obj["intent"], raw, extra

    # -- actions -----------------------------------------------------------------------------------
    def _apply(self, beliefs, turn: Turn):
        for b in beliefs:
            removed = self.belief.add(b)
            turn.added.append(b.text)
            if b.note and b.note not in turn.notes:  # what was read differently from the words: said in the reply
                turn.notes.append(b.note)
            turn.removed += [f"{r.kind}: {r.text}" for r in removed if (r.kind, r.text.lower()) != (b.kind, b.text.lower())]

    def _on_recommend(self, parse, turn: Turn):
        self._apply(parse.beliefs, turn)
        if self.belief.is_empty():
            return self._on_elicit(parse, turn)
        self._recommend_into(turn)

    def _on_critique(self, parse, turn: Turn):
        ref = parse.item_ref if parse.item_ref not in (None, "current") else (self.shown[0] if self.shown else None)
        record = self.catalog.record(ref) if ref is not None else None
        beliefs, notes = nlu.critique_beliefs(parse.critique, record, self.lex, turn.index)
        turn.notes += notes
        # A like a critique only guesses ("lighter": Comedy) gives way to what the person said outright
        # ("no comedy"): it would otherwise replace their dislike without a word. What the critique
        # says about the criticised item itself (its dark genres, its director) still applies.
        own = [b for b in self.belief if b.source in ("user", "edited")] + list(parse.beliefs)
        kept = []
        for b in beliefs:
            clash = next((o for o in own if _contradicts(b, o)), None) if b.kind == "like" else None
            if clash is None:
                kept.append(b)
            else:
                turn.notes.append(f"You said {clash.text!r} ({clash.kind}), so I kept that rather than "
                                  f"read {b.text!r} as a {b.kind} from your critique.")
        self._apply(kept + list(parse.beliefs), turn)
        self.rejected.update(self.shown)
        self._recommend_into(turn)

    def _on_explain(self, parse, turn: Turn):
        item = self._resolve_ref(parse.item_ref)
        turn.action, turn.about = "explain", item
        turn.reply = self.explain(item) if item is not None else "Which movie should I explain? I haven't suggested any yet."

    def _on_question(self, parse, turn: Turn):
        item = self._resolve_ref(parse.item_ref)
        turn.action, turn.about = "answer", item
        if item is None:
            turn.reply = "Which movie do you mean? Name it, or ask for suggestions first."
            return
        turn.reply = self.answer(item, parse.question or "description")

    def _on_accept(self, parse, turn: Turn):
        turn.action = "close"
        item = self._resolve_ref(nlu.item_reference(turn.user, self.lex, self.shown)) if self.shown else None
        self.done = True
        turn.about = item
        turn.reply = f"Enjoy {self.catalog.title(item)}!" if item is not None else "Glad I could help."

    def _on_elicit(self, parse, turn: Turn):
        facet = self._next_question()
        turn.action, turn.asked = "elicit", facet
        self.asked.add(facet)
        self.stats["elicit"] += 1
        turn.reply = ELICIT_QUESTIONS[facet]

    def _next_question(self) -> str:
        have = {"genre": any(b.facet and b.facet[0] == "genre" for b in self.belief),
                "era": any(c.field in ("year", "decade") for c in self.belief.constraints()),
                "people": any(b.facet and b.facet[0] in ("cast", "director") for b in self.belief)}
        for facet in ("genre", "era", "people"):
            if not have[facet] and facet not in self.asked:
                return facet
        return "avoid"

    def _resolve_ref(self, ref):
        if ref in (None, "current"):
            return self.shown[0] if self.shown else None
        return ref

    # -- recommending ---------------------------------------------------------------------------
    def query_text(self) -> str:
        likes = [b for b in self.belief.likes]
        parts = []
        for b in likes:
            if b.facet and b.facet[0] == "item":
                parts.append(self.catalog.description(b.facet[1]) or b.text)
            else:
                parts.append(b.text)
        if not parts:
            parts = [b.text for b in self.belief.constraint_beliefs] or ["a good movie"]
        return ". ".join(parts)

    def candidates(self) -> tuple[list, list]:
        """(eligible ids, notes): catalog items passing every hard constraint, minus excluded and rejected."""
        try:
            mask = self.catalog.mask(self.belief.constraints())
        except ConstraintError as exc:
            return [], [str(exc)]
        # a movie named as the example ("a movie like Heat") is what the person knows, not a recommendation
        examples = {b.facet[1] for b in self.belief.likes if b.facet and b.facet[0] == "item"}
        ids = [i for i in self.catalog.items["item_id"][mask].tolist()
               if i not in self.exclude and i not in self.rejected and i not in examples]
        return ids, []

    def recommend(self, k: int | None = None) -> tuple[list, list]:
        """(top-k ids, notes). Hard constraints filter; the likes query ranks; facet likes add a bonus."""
        k = k or self.k
        allowed, notes = self.candidates()
        if not allowed:
            return [], notes or [self._nothing_left_note()]
        pool = self.catalog.search(self.query_text(), k=self.pool, allowed=allowed)
        scores = self.catalog.similarity(self.query_text(), pool)
        facets = [b for b in self.belief.likes if b.facet and b.facet[0] in ("genre", "director", "cast")]
        for b in facets:
            c = Constraint(b.facet[0], "has", b.facet[1])
            scores = scores + self.facet_bonus * np.array([c.holds(self.catalog.record(i)) for i in pool], dtype=float)
        for b in self.belief.dislikes:
            if not b.constraints:  # free-text dislikes: a soft penalty by similarity
                scores = scores - self.dislike_weight * self.catalog.similarity(b.text, pool)
        order = np.argsort(-scores, kind="stable")[:k]
        return [pool[j] for j in order], notes

    def _nothing_left_note(self) -> str:
        """Why no candidate is left: the constraints, or every fitting item shown or excluded already."""
        fits = self.catalog.items["item_id"][self.catalog.mask(self.belief.constraints())].tolist()
        named = [b.text for b in self.belief if b.constraints]
        if not fits:
            if not named:
                return "The catalog has no movies to suggest."
            return ("No movie in the catalog satisfies all of: " + "; ".join(named)
                    + ". Remove or edit one of them in the panel.")
        # Something fits: it is the rejected/excluded items, not the constraints, that emptied the list.
        shown = sum(i in self.rejected and i not in self.exclude for i in fits)
        watched = sum(i in self.exclude for i in fits)
        reasons = ([f"was suggested already ({shown})"] if shown else []) \
            + ([f"is excluded as already watched ({watched})"] if watched else [])
        what = "that fits your constraints" if named else "in the catalog"
        return (f"No new movie to suggest: every one {what} ({len(fits)}) " + " or ".join(reasons)
                + ". Edit or remove a belief in the panel to widen the search.")

    def _recommend_into(self, turn: Turn):
        items, notes = self.recommend()
        turn.action, turn.items = "recommend", items
        turn.notes += notes
        self.stats["recommendations"] += 1
        if items:
            self.shown = items
            lines = [f"{n}. {self.catalog.title(i)} [{i}]: {self._facts_line(i)}" for n, i in enumerate(items, 1)]
            turn.reply = "\n".join([f"Based on what I know ({self.belief.summary()}), you might like:"] + lines + turn.notes)
        else:
            self.shown = []
            turn.reply = "\n".join(turn.notes) or "I found nothing that fits."

    def _facts_line(self, item) -> str:
        f = self.catalog.facts(item)
        bits = [", ".join(f.get("genres", [])[:3])]
        if f.get("director"):
            bits.append("dir. " + " & ".join(f["director"][:2]))
        if f.get("cast"):
            bits.append("with " + ", ".join(f["cast"][:2]))
        return "; ".join(b for b in bits if b)

    # -- explanations and answers (from facts only) -------------------------------------------
    def explain(self, item) -> str:
        """Why ``item`` fits the belief state, from its facts: each matched belief, then the constraints it satisfies."""
        rec = self.catalog.record(item)
        title = self.catalog.title(item)
        matched = []
        for b in self.belief.likes:
            if b.facet and b.facet[0] in ("genre", "director", "cast") and Constraint(b.facet[0], "has", b.facet[1]).holds(rec):
                matched.append(f"you like {b.text} and it is one")
            elif b.facet and b.facet[0] == "item":
                matched.append(f"you asked for {b.text}, and its description is close to that one's")
        sat = [b.text for b in self.belief.constraint_beliefs if all(c.holds(rec) for c in b.constraints)]
        parts = [f"I suggested {title} because " + ("; ".join(matched) if matched else
                                                     "its description is among the closest to what you asked for")]
        if sat:
            parts.append("It also meets your constraints: " + "; ".join(sat))
        f = self.catalog.facts(item)
        if f.get("genres"):
            parts.append("It is " + ", ".join(f["genres"][:3]) + (f", directed by {' & '.join(f['director'][:2])}" if f.get("director") else ""))
        return ". ".join(parts) + "."

    def answer(self, item, field_: str) -> str:
        """A question about ``item`` answered from its facts (or a plain "I don't know")."""
        rec, title = self.catalog.record(item), self.catalog.title(item)
        if field_ == "description":
            d = self.catalog.description(item)
            return d or f"I have no description of {title}."
        col = {"genres": "genres"}.get(field_, field_)
        vals = values_of(rec.get(col)) if col not in ("year", "runtime") else \
            ([] if rec.get(col) is None or str(rec.get(col)) in ("<NA>", "nan") else [str(int(rec[col]))])
        if col == "genres" and "wd_genres" in rec:
            vals += [g for g in values_of(rec["wd_genres"]) if g not in vals]
        if not vals:
            return f"The catalog has no {field_} for {title}."
        shown = ", ".join(vals[:5]) + (" and others" if len(vals) > 5 else "")
        templates = {"director": f"{title} was directed by {shown}.", "cast": f"{title} stars {shown}.",
                     "writer": f"{title} was written by {shown}.", "year": f"{title} came out in {shown}.",
                     "runtime": f"{title} runs {shown} minutes.", "country": f"{title} was made in {shown}.",
                     "language": f"{title} is in {shown}.", "genres": f"{title} is {shown}.",
                     "awards": f"{title}: {rec.get('awards')}"}
        return templates.get(field_, f"{title}: {field_} = {shown}.")

    # -- the person edits the belief state ------------------------------------------------------
    def parser(self, text: str, kind: str) -> list[Belief]:
        """The beliefs one edited line states (see :func:`nlu.parse_belief_text`); [] for free text."""
        return nlu.parse_belief_text(text, kind, self.lex)

    def add_belief(self, text: str, kind: str = "like") -> Belief:
        """Add a sentence to the state. A negated one ("no horror films") is a dislike whatever ``kind``
        says; one naming several facts is added as several beliefs. Returns the first."""
        found = read_beliefs(text, kind, self.parser)
        for b in found:
            self.belief.add(b)
        self.stats["belief_edits"] += 1
        return found[0]

    def edit_belief(self, belief_id: str, text: str, kind: str | None = None) -> Belief:
        self.stats["belief_edits"] += 1
        return self.belief.edit(belief_id, text, parser=self.parser, kind=kind)

    def remove_belief(self, belief_id: str) -> Belief:
        self.stats["belief_edits"] += 1
        return self.belief.remove(belief_id)

    def set_belief_text(self, text: str) -> BeliefState:
        """Replace the whole state with an edited panel text (see :meth:`BeliefState.from_text`)."""
        self.belief = BeliefState.from_text(text, parser=self.parser)
        self.stats["belief_edits"] += 1
        return self.belief

    def reset(self) -> None:
        self.belief, self.turns, self.shown, self.rejected, self.asked, self.done = BeliefState(), [], [], set(), set(), False


def _contradicts(a: Belief, b: Belief) -> bool:
    """Whether two beliefs give one fact opposite polarities (like vs dislike, "has" vs "not_has")."""
    if a.facet and a.facet == b.facet and {a.kind, b.kind} == {"like", "dislike"}:
        return True
    decades = decade_of(a.constraints), decade_of(b.constraints)
    if None not in decades and decades[0][0] == decades[1][0] and decades[0][1] != decades[1][1]:
        return True
    opposite = {("has", "not_has"), ("not_has", "has")}
    return any((x.field, x.value) == (y.field, y.value) and (x.op, y.op) in opposite
               for x in a.constraints for y in b.constraints)


def intent_summary(policy: str, reads) -> dict:
    """One row for a policy's reads (a frame from :func:`evaluate_intents`).

    ``accuracy`` is what the conversation gets: a malformed LLM answer falls back to the rules.
    ``own_accuracy`` counts only messages the policy read right by itself, so the rules' work is
    not credited to an LLM policy.
    """
    own = reads.correct & reads.fallback.isna() if policy != "rules" else reads.correct
    return {"policy": policy, "examples": len(reads), "accuracy": float(reads.correct.mean()),
            "own_accuracy": float(own.mean()), "fallback_rate": float(reads.fallback.notna().mean()),
            "seconds_per_message": float(reads.seconds.mean())}


def evaluate_intents(catalog, policy: str, llm=None, examples=None, lexicon=None, **kwargs) -> "pd.DataFrame":
    """Read each labelled message with ``policy``: one row per message (predicted, correct, fallback, seconds)."""
    import pandas as pd

    examples = examples if examples is not None else nlu.INTENT_EXAMPLES
    lex = lexicon or nlu.Lexicon(catalog)
    shown = catalog.ids[:3]
    rows, priors = [], {}
    for text, has_shown, intent in examples:
        cr = ConversationalRecommender(catalog, llm, policy=policy, lexicon=lex, **kwargs)
        cr._prior = priors  # the calibration prior depends only on the context: share it
        cr.shown = list(shown) if has_shown else []
        t0 = time.perf_counter()
        parse, source, fallback, raw = cr.read(text)
        rows.append({"text": text, "label": intent, "predicted": parse.intent, "correct": parse.intent == intent,
                     "source": source, "fallback": fallback, "seconds": time.perf_counter() - t0, "llm_output": raw})
    return pd.DataFrame(rows)
