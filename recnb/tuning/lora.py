"""LoRA (and, on a GPU, QLoRA) fine-tuning of a causal LM on Yes/No recommendation questions.

:class:`LoraModel` puts a ``peft`` LoRA adapter on a copy of a loaded :class:`~recnb.models.llm.LocalLLM`
(the shared model is never changed), trains it on :class:`~recnb.tuning.examples.TuningExample`
questions with a tqdm progress bar that shows the loss, saves and reloads the adapter, and exposes
the adapted model as an ordinary ``LocalLLM`` (``.llm``) so every LLM ranker can score with it.

QLoRA is the same code: load the base with ``load_llm(..., device="cuda", quantization="4bit")``
(bitsandbytes NF4) and pass it with ``copy_base=False``; peft's ``prepare_model_for_kbit_training``
is applied when the base is quantized.

The loss is TALLRec's: next-token cross-entropy over the whole vocabulary on the answer token(s)
only ("Yes" / "No"), never on the prompt. The prompt is tokenised exactly as
``LocalLLM.score`` tokenises it at ranking time (prefix and continuation separately).

A saved adapter records the base it was trained on (name and shape), its quantization, and the
ratings its examples were built from; ``LoraModel.load`` refuses another base, format or
quantization (``check=False`` overrides), and :meth:`LoraModel.check_data` refuses a training frame
that holds out a rating the adapter learned from.
"""
from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

META_FILE = "recnb_tuning.json"
#: /2: the meta records the base's identity and the ratings the adapter learned from (/1 did not).
FORMAT = "recnb.lora-adapter/2"


class AdapterMismatchError(ValueError):
    """A saved adapter was made for another base model, quantization or file format."""


def base_identity(llm) -> dict:
    """The base model's name and shape: what an adapter saved on it must be loaded onto again."""
    cfg = getattr(getattr(llm, "model", None), "config", None)
    shape = {k: getattr(cfg, k, None) for k in ("model_type", "hidden_size", "num_hidden_layers", "vocab_size")}
    return {"name": getattr(llm, "name", ""), **shape}


def _quantization(llm):
    q = getattr(llm, "quantization", None)
    return None if q in (None, "none") else q


def _py(v):
    return v.item() if isinstance(v, np.generic) else v


def _training_record(examples) -> dict | None:
    """{users, counts, rows}: per user, the sorted row hashes of the ratings the examples were built from.

    None when any example carries no rows (made by hand, not by build_examples): then nothing can be checked.
    """
    if not examples or any(not getattr(e, "rows", ()) for e in examples):
        return None
    by_user: dict = {}
    for e in examples:
        by_user.setdefault(_py(e.user_id), set()).update(int(h) for h in e.rows)
    users = list(by_user)
    rows = [np.array(sorted(by_user[u]), dtype=np.uint64) for u in users]
    return {"users": users, "counts": [len(r) for r in rows], "rows": np.concatenate(rows)}


def _merge_records(a: dict | None, b: dict | None) -> dict | None:
    """Both runs' ratings, per user (union of row hashes); None when either run has no record,
    since a partial record would pass data that holds out what the unrecorded run learned."""
    if a is None or b is None:
        return None
    by_user: dict = {}
    for rec in (a, b):
        bounds = np.cumsum([0] + list(rec["counts"]))
        for u, lo, hi in zip(rec["users"], bounds[:-1], bounds[1:]):
            by_user.setdefault(u, set()).update(int(h) for h in rec["rows"][lo:hi])
    users = list(by_user)
    rows = [np.array(sorted(by_user[u]), dtype=np.uint64) for u in users]
    return {"users": users, "counts": [len(r) for r in rows], "rows": np.concatenate(rows)}


def _record_to_json(rec: dict | None):
    if rec is None:
        return None
    raw = np.asarray(rec["rows"], dtype="<u8").tobytes()
    return {"users": rec["users"], "counts": rec["counts"], "rows_uint64_base64": base64.b64encode(raw).decode("ascii")}


def _record_from_json(d: dict | None):
    if not d:
        return None
    rows = np.frombuffer(base64.b64decode(d["rows_uint64_base64"]), dtype="<u8").astype(np.uint64)
    return {"users": list(d["users"]), "counts": [int(c) for c in d["counts"]], "rows": rows}


@dataclass(frozen=True)
class LoraSettings:
    """LoRA and optimiser settings (TALLRec used r=8, alpha=16, dropout 0.05 on q_proj/v_proj).

    learning_rate: TALLRec used 1e-4 for hundreds of epochs; a CPU budget is a few dozen steps, where
    1e-2 learned (16 questions, 4 epochs: held-out AUC 0.53 -> 0.69 on 16 questions) and 2e-3 mostly
    moved the Yes/No bias (0.53 -> 0.61; training-question AUC 0.55). Adapters on every projection
    at 1e-2 diverged (loss spikes to 17).

    top_layers: put adapters only on the last ``top_layers`` decoder layers (None: all layers).
    Backpropagation then stops at the lowest adapted layer, which makes a CPU step several
    times cheaper; it is a peft option (``layers_to_transform``), not a different method.
    """

    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple = ("q_proj", "v_proj")
    top_layers: int | None = None
    learning_rate: float = 1e-2
    epochs: int = 1
    batch_size: int = 4
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if self.r < 1 or self.alpha <= 0:
            raise ValueError(f"LoRA needs r >= 1 and alpha > 0 (got r={self.r}, alpha={self.alpha})")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), not {self.dropout}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1 (got {self.epochs}, {self.batch_size})")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, not {self.learning_rate}")
        if self.top_layers is not None and self.top_layers < 1:
            raise ValueError(f"top_layers must be None (all layers) or >= 1, not {self.top_layers}")
        object.__setattr__(self, "target_modules", tuple(self.target_modules))

    def peft_config(self, n_layers: int):
        from peft import LoraConfig

        layers = None
        if self.top_layers is not None and self.top_layers < n_layers:
            layers = list(range(n_layers - self.top_layers, n_layers))
        return LoraConfig(r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout, bias="none",
                          target_modules=list(self.target_modules), layers_to_transform=layers, task_type="CAUSAL_LM")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["target_modules"] = list(self.target_modules)
        return d


@dataclass
class TrainReport:
    """What training did and how fast (examples/s counts every epoch's examples).

    After several ``train()`` calls on one model it covers all of them (``runs``): counts, steps,
    seconds and losses add up, rates are over the total time, and ``final_loss`` is the last epoch's.
    """

    n_examples: int
    epochs: int
    steps: int
    seconds: float
    examples_per_second: float
    tokens_per_second: float
    mean_prompt_tokens: float
    losses: list = field(default_factory=list)
    trainable_params: int = 0
    total_params: int = 0
    device: str = "cpu"
    quantization: str | None = None
    peak_memory_bytes: int | None = None
    runs: int = 1
    epoch_steps: int | None = None  # steps in one epoch of the last run (None in reports saved before runs added up)

    @property
    def first_loss(self) -> float:
        return float(self.losses[0]) if self.losses else float("nan")

    @property
    def final_loss(self) -> float:
        """Mean loss over the last epoch's steps."""
        if not self.losses:
            return float("nan")
        per_epoch = self.epoch_steps or max(1, self.steps // max(1, self.epochs))
        return float(np.mean(self.losses[-per_epoch:]))

    def merged(self, later: "TrainReport") -> "TrainReport":
        """This report followed by a later run on the same weights."""
        secs = self.seconds + later.seconds
        seen = self.examples_per_second * self.seconds + later.examples_per_second * later.seconds
        tokens = self.tokens_per_second * self.seconds + later.tokens_per_second * later.seconds
        n = self.n_examples + later.n_examples
        peaks = [p for p in (self.peak_memory_bytes, later.peak_memory_bytes) if p is not None]
        return TrainReport(
            n_examples=n, epochs=self.epochs + later.epochs, steps=self.steps + later.steps, seconds=secs,
            examples_per_second=seen / secs if secs else float("nan"),
            tokens_per_second=tokens / secs if secs else float("nan"),
            mean_prompt_tokens=(self.mean_prompt_tokens * self.n_examples + later.mean_prompt_tokens * later.n_examples) / n,
            losses=list(self.losses) + list(later.losses), trainable_params=later.trainable_params,
            total_params=later.total_params, device=later.device, quantization=later.quantization,
            peak_memory_bytes=max(peaks) if peaks else None, runs=self.runs + later.runs,
            epoch_steps=later.epoch_steps)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(first_loss=self.first_loss, final_loss=self.final_loss)
        return d


def _is_quantized(model) -> bool:
    if getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False):
        return True
    if getattr(model, "hf_quantizer", None) is not None:
        return True
    return any(type(m).__name__ in ("Linear4bit", "Linear8bitLt") for m in model.modules())


class LoraModel:
    """A LoRA adapter on a private copy of ``llm``'s weights; ``.llm`` scores with the adapter on.

    copy_base: deep-copy the base weights first (default), so the shared ``llm`` other rankers use
    is never modified. Pass False to hand the model over (a 4-bit base cannot be copied: load a
    fresh one for tuning).
    """

    def __init__(self, llm, settings: LoraSettings | None = None, adapter_dir: str | os.PathLike | None = None,
                 copy_base: bool = True, gradient_checkpointing: bool | None = None, check: bool = True):
        import torch
        from peft import PeftModel, get_peft_model, prepare_model_for_kbit_training

        from recnb.models.llm import LocalLLM

        if getattr(llm, "model", None) is None:
            raise ValueError("LoraModel needs a loaded LocalLLM (recnb.load_llm(...)); this one has no model "
                             "(unloaded, or a backend without local weights such as an HTTP server)")
        self.base_name = getattr(llm, "name", "")
        self.quantization = _quantization(llm)
        self.base_identity = base_identity(llm)
        #: the ratings the adapter learned from (set by train(), kept by save/load); None: not recorded
        self.trained_on: dict | None = None
        self.partial_runs = 0  # train() calls that raised after changing the weights (their ratings stay on record)
        saved_meta = None
        if adapter_dir is not None:
            adapter_dir = Path(adapter_dir)
            if not (adapter_dir / "adapter_config.json").exists():
                raise FileNotFoundError(f"{adapter_dir.resolve()} holds no LoRA adapter (adapter_config.json missing)")
            meta_path = adapter_dir / META_FILE
            saved_meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
            if check:  # before the (costly) copy of the base
                self._check_saved(saved_meta, adapter_dir)
        base = llm.model
        quantized = _is_quantized(base)
        if quantized and copy_base:
            raise ValueError("a quantized (4-bit) base cannot be copied: load a fresh one for tuning and pass copy_base=False")
        if copy_base:
            base = copy.deepcopy(base)
        if quantized:
            # QLoRA: norms in fp32, inputs require grad; checkpointing trades compute for activation memory.
            base = prepare_model_for_kbit_training(
                base, use_gradient_checkpointing=True if gradient_checkpointing is None else gradient_checkpointing)
        elif gradient_checkpointing:
            base.gradient_checkpointing_enable()
            base.enable_input_require_grads()
        self.meta: dict = {}
        if adapter_dir is not None:
            self.peft = PeftModel.from_pretrained(base, str(adapter_dir), is_trainable=False)
            self.meta = saved_meta
            self.meta["folder"] = str(adapter_dir)
            self.trained_on = _record_from_json(self.meta.get("trained_on"))
            self.settings = LoraSettings(**self.meta["settings"]) if self.meta.get("settings") else (settings or LoraSettings())
        else:
            self.settings = settings or LoraSettings()
            torch.manual_seed(self.settings.seed)  # LoRA's A matrices are initialised at random
            n_layers = int(getattr(base.config, "num_hidden_layers", 0) or 0)
            self.peft = get_peft_model(base, self.settings.peft_config(n_layers))
        self.peft.eval()
        inner = self.peft.get_base_model()  # the transformers model, with the LoRA layers inside it
        self.llm = LocalLLM(inner, llm.tokenizer, name=f"{self.base_name}+lora", device=getattr(llm, "device", "cpu"),
                            quantization=self.quantization)
        # Handed over (copy_base=False): the caller's llm now runs these weights, adapter included,
        # so its cached prefixes are stale from here on, and again after every training step.
        self._handed = None if copy_base else llm
        if self._handed is not None:
            self._handed.clear_prefix_cache()
        self.report: TrainReport | None = None

    def _check_saved(self, meta: dict, folder: Path) -> None:
        """Raise AdapterMismatchError unless ``meta`` was saved by this format on this base and quantization."""
        problems = []
        if meta.get("format") != FORMAT:
            problems.append(f"format {meta.get('format')!r} (this code reads {FORMAT!r})" if meta
                            else f"no {META_FILE} (so its base and format are unknown)")
        if meta:
            saved = meta.get("base_identity") or {"name": meta.get("base")}
            diff = [f"{k} {saved.get(k)!r} vs {self.base_identity.get(k)!r}" for k in sorted(saved)
                    if saved.get(k) != self.base_identity.get(k)]
            if diff:
                problems.append("base model (saved vs this one): " + ", ".join(diff))
            if meta.get("quantization") != self.quantization:
                problems.append(f"quantization {meta.get('quantization')!r} (this base: {self.quantization!r})")
        if problems:
            raise AdapterMismatchError(
                f"{folder.resolve()} was saved for another setup: {'; '.join(problems)}. An adapter scores as it "
                "was trained and measured only on the base it was trained on: load that base, or pass check=False "
                "to load it anyway (its scores will differ).")

    def check_data(self, train) -> str:
        """Is ``train`` (the ratings a ranker is fitted on) safe for this adapter? "checked", "other data" or "unchecked".

        The adapter learned from some users' ratings (``trained_on``). Where ``train`` holds some of a
        user's learned ratings but not all, it holds out a rating the adapter saw (another split, a
        custom split, a subset): the adapter may know that user's held-out item, so this raises
        ValueError. "checked": every learned rating of every user ``train`` shares is in it;
        "other data": ``train`` shares no learned rating (another data set: nothing of it was learned);
        "unchecked": the adapter has no record of what it learned from.
        """
        from recnb.tuning.examples import row_hashes

        rec = self.trained_on
        if rec is None:
            return "unchecked"
        try:
            known = row_hashes(train)
        except ValueError as exc:  # a rating is identified by (user, item, timestamp): without them nothing can be compared
            raise ValueError(f"cannot check the training data against the ratings this adapter learned from: {exc}") from None
        have = np.isin(rec["rows"], known)
        bounds = np.cumsum([0] + list(rec["counts"]))
        shared, partial = 0, []
        for u, a, b in zip(rec["users"], bounds[:-1], bounds[1:]):
            got = have[a:b]
            if got.any():
                shared += 1
                if not got.all():
                    partial.append((u, int((~got).sum()), int(b - a)))
        if partial:
            u, miss, n = partial[0]
            recipe = self.meta.get("recipe") or {}
            where = (f" (trained on {recipe.get('dataset')!r}, split_seed={recipe.get('split_seed')})" if recipe else "")
            raise ValueError(
                f"this adapter{where} learned from {sum(p[1] for p in partial)} rating(s) of {len(partial)} user(s) that "
                f"the training data it is fitted on holds out (e.g. user {u!r}: {miss} of the {n} ratings it learned from "
                "are missing): it may know their held-out items. Train an adapter on this split's training part "
                "(recnb.tuning.store.cached_adapter(llm, settings, recipe, dataset=..., split=protocol.split); "
                "compare_tuning does so for its protocol).")
        return "checked" if shared else "other data"

    # ---- facts
    @property
    def trainable_params(self) -> int:
        return sum(p.numel() for p in self.peft.parameters() if p.requires_grad)

    @property
    def total_params(self) -> int:
        return sum(p.numel() for p in self.peft.parameters())

    def _clear_caches(self) -> None:
        self.llm.clear_prefix_cache()  # cached prefixes were computed with other weights
        if self._handed is not None:
            self._handed.clear_prefix_cache()

    @contextlib.contextmanager
    def adapter_disabled(self):
        """Score with the untuned base (same object, adapter switched off), e.g. for a zero-shot row."""
        self._clear_caches()
        try:
            with self.peft.disable_adapter():
                yield self.llm
        finally:
            self._clear_caches()

    # ---- data
    def _encode_example(self, ex) -> tuple[list[int], int]:
        """(token ids of prompt + answer, number of answer tokens), tokenised as ``LocalLLM.score_choices`` reads them.

        The scorer encodes prefix, question and answer separately and reads P(answer | prefix + question);
        training on the same ids keeps what is learned and what is scored the same thing.
        """
        enc = self.llm._encode
        answer = enc(ex.answer)
        if not answer:
            raise ValueError(f"example (user {ex.user_id}, item {ex.item_id}) has an empty answer")
        return enc(ex.prefix) + enc(ex.continuation) + answer, len(answer)

    # ---- training
    def train(self, examples: Sequence, progress: bool = True, desc: str = "LoRA") -> TrainReport:
        """Fine-tune the adapter on ``examples``; returns a :class:`TrainReport` (also kept as ``.report``).

        Calling it again continues training the same adapter: ``trained_on`` then holds the ratings of
        every run (None when any run's examples carry no record) and ``.report`` adds the runs up. A run
        that raises after changing the weights still puts its ratings on record (``partial_runs``).

        A plain loop, not ``transformers.Trainer``: the loss sits on one answer token per example and
        a few dozen CPU steps do not need Trainer's machinery (accelerate, logging, checkpoints).
        """
        import torch
        import torch.nn.functional as F
        from tqdm.auto import tqdm
        from transformers import get_linear_schedule_with_warmup

        examples = list(examples)
        if not examples:
            raise ValueError("train() got no examples")
        s = self.settings
        encoded = [self._encode_example(e) for e in examples]
        window = self.llm.context_window
        too_long = [i for i, (ids, _) in enumerate(encoded) if len(ids) > window]
        if too_long:
            raise ValueError(f"{len(too_long)} example(s) are longer than the model's {window}-token window")
        model = self.peft
        inner = model.get_base_model()
        body = getattr(inner, getattr(inner, "base_model_prefix", "model"), None)
        head = inner.get_output_embeddings()
        if body is None or body is inner or head is None:
            raise TypeError(f"{type(inner).__name__} has no separate decoder body and LM head; LoraModel trains causal LMs "
                            "laid out like transformers' *ForCausalLM classes")
        device = next(p for p in model.parameters()).device
        pad = self.llm.tokenizer.pad_token_id
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("the adapter has no trainable parameters (it was loaded for inference: build a new LoraModel to train)")
        opt = torch.optim.AdamW(params, lr=s.learning_rate, weight_decay=s.weight_decay)
        per_epoch = math.ceil(len(encoded) / s.batch_size)
        total = per_epoch * s.epochs
        sched = get_linear_schedule_with_warmup(opt, s.warmup_steps, total)
        gen = torch.Generator().manual_seed(s.seed)
        torch.manual_seed(s.seed)  # LoRA dropout
        is_cuda = device.type == "cuda"
        if is_cuda:
            torch.cuda.reset_peak_memory_stats(device)
        losses, n_tokens = [], 0
        self._clear_caches()
        model.train()
        bar = tqdm(total=total, desc=desc, disable=not progress, unit="step")
        t0 = time.perf_counter()
        first_run = self.report is None and not self.partial_runs
        stepped = False
        try:
            for epoch in range(s.epochs):
                order = torch.randperm(len(encoded), generator=gen).tolist()
                for start in range(0, len(order), s.batch_size):
                    batch = [encoded[i] for i in order[start:start + s.batch_size]]
                    width = max(len(ids) for ids, _ in batch)
                    ids = torch.full((len(batch), width), pad, dtype=torch.long)
                    mask = torch.zeros((len(batch), width), dtype=torch.long)
                    rows, cols, targets = [], [], []
                    for r, (seq, n_ans) in enumerate(batch):
                        ids[r, :len(seq)] = torch.tensor(seq)
                        mask[r, :len(seq)] = 1
                        for j in range(len(seq) - n_ans, len(seq)):
                            rows.append(r), cols.append(j - 1), targets.append(seq[j])  # position j-1 predicts token j
                    ids, mask = ids.to(device), mask.to(device)
                    # Only the answer positions need logits: run the body, then the LM head on those rows
                    # (the full-vocabulary head on every prompt position would be most of a CPU step).
                    hidden = body(input_ids=ids, attention_mask=mask).last_hidden_state
                    picked = hidden[torch.tensor(rows, device=device), torch.tensor(cols, device=device)]
                    logits = head(picked.to(head.weight.dtype)).float()
                    loss = F.cross_entropy(logits, torch.tensor(targets, device=device))
                    loss.backward()
                    if s.max_grad_norm:
                        torch.nn.utils.clip_grad_norm_(params, s.max_grad_norm)
                    opt.step()
                    stepped = True
                    sched.step()
                    opt.zero_grad(set_to_none=True)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(f"training loss became {loss.item()} at step {len(losses) + 1}; "
                                                 "lower the learning rate")
                    losses.append(float(loss.item()))
                    n_tokens += int(mask.sum())
                    bar.update(1)
                    bar.set_postfix(epoch=epoch + 1, loss=f"{losses[-1]:.3f}")
        except BaseException:
            if stepped:  # the weights changed and may hold any of these ratings: keep them on record
                record = _training_record(examples)
                self.trained_on = record if first_run else _merge_records(self.trained_on, record)
                self.partial_runs += 1
                self.meta = {}
            raise
        finally:
            bar.close()
            model.eval()
            self._clear_caches()
        secs = time.perf_counter() - t0
        n_seen = len(encoded) * s.epochs
        run = TrainReport(
            n_examples=len(encoded), epochs=s.epochs, steps=len(losses), seconds=secs,
            examples_per_second=n_seen / secs if secs else float("nan"),
            tokens_per_second=n_tokens / secs if secs else float("nan"),
            mean_prompt_tokens=float(np.mean([len(ids) for ids, _ in encoded])), losses=losses,
            trainable_params=self.trainable_params, total_params=self.total_params, device=str(device),
            quantization=self.quantization,
            peak_memory_bytes=int(torch.cuda.max_memory_allocated(device)) if is_cuda else None,
            epoch_steps=per_epoch,
        )
        # A second train() continues on the same weights: they still hold what earlier runs learned,
        # so the record of ratings (what check_data guards) and the report cover every run.
        # the meta described the weights as last saved or loaded (recipe, key, folder): no longer these,
        # and save() starts from it
        self.meta = {}
        if first_run:
            self.trained_on, self.report = _training_record(examples), run
        else:
            self.trained_on = _merge_records(self.trained_on, _training_record(examples))
            self.report = run if self.report is None else self.report.merged(run)
        return self.report

    # ---- scoring examples directly (held-out checks, TALLRec's AUC on labelled questions)
    def answer_margin(self, examples: Sequence, adapter: bool = True, positive: str = "Yes", negative: str = "No") -> np.ndarray:
        """log P(positive) - log P(negative) for each example's question: what the pointwise ranker scores.

        adapter=False: the same with the adapter switched off (the untuned model). On held-out labelled
        examples ``roc_auc_score(labels, margins)`` is TALLRec's AUC.
        """
        ctx = contextlib.nullcontext(self.llm) if adapter else self.adapter_disabled()
        with ctx as llm:
            out = [llm.score_choices(e.prefix, [e.continuation], [positive, negative])[0] for e in examples]
        return np.array([a - b for a, b in out], dtype=float)

    # ---- files
    def save(self, folder: str | os.PathLike, extra: dict | None = None) -> Path:
        """Write the adapter (peft's safetensors + config) and a small JSON of settings and the training report."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.peft.save_pretrained(str(folder))
        # peft records the base's local path (a cache folder on this machine) and writes a model-card stub;
        # keep the kit's name for the base instead, and the provenance in META_FILE.
        cfg_path = folder / "adapter_config.json"
        cfg = json.loads(cfg_path.read_text())
        cfg["base_model_name_or_path"] = self.base_name
        cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
        (folder / "README.md").unlink(missing_ok=True)
        # Start from what was loaded or recorded (recipe, key, n_examples, the report of a loaded adapter):
        # a re-save of a loaded adapter lost them. "folder" is where it was loaded from, not a fact to save.
        meta = {k: v for k, v in self.meta.items() if k != "folder"}
        meta.update({"format": FORMAT, "base": self.base_name, "base_identity": self.base_identity,
                     "quantization": self.quantization, "settings": self.settings.to_dict(),
                     "trained_on": _record_to_json(self.trained_on)})
        if self.report is not None or "report" not in meta:
            meta["report"] = self.report.to_dict() if self.report else None
        meta.update(extra or {})
        (folder / META_FILE).write_text(json.dumps(meta, indent=1, default=float) + "\n")
        self.meta = meta
        return folder

    @classmethod
    def load(cls, llm, folder: str | os.PathLike, copy_base: bool = True, check: bool = True) -> "LoraModel":
        """A saved adapter on (a copy of) ``llm``'s weights, ready to score.

        check: refuse (AdapterMismatchError) an adapter saved with another format, on another base
        (name, model type, sizes) or with another quantization; False loads it anyway.
        """
        return cls(llm, adapter_dir=folder, copy_base=copy_base, check=check)

    def unload(self) -> None:
        """Drop the adapted copy of the weights (the shared base model is untouched)."""
        self.peft = None
        self.llm.unload()  # drops the last reference, collects, and empties the CUDA cache

    def __repr__(self):
        trained = f", trained on {self.report.n_examples} examples" if self.report else ""
        return f"LoraModel({self.base_name!r}, r={self.settings.r}, top_layers={self.settings.top_layers}{trained})"


def settings_key(*parts) -> str:
    """A short stable hash of settings and data choices (names adapter cache folders)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
