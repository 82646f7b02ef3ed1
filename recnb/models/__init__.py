"""Loading the bundled models (offline by default) and any Hugging Face model when online."""
from recnb.models.errors import ModelNotAvailableError, QuantizationUnavailableError
from recnb.models.encoder import load_encoder
from recnb.models.llm import LocalLLM, load_llm

__all__ = ["load_encoder", "load_llm", "LocalLLM", "ModelNotAvailableError", "QuantizationUnavailableError"]
