"""Loading the bundled models (offline by default) and any Hugging Face model when online.

LLM backends share one interface (:class:`recnb.models.interface.LLM`): ``load_llm`` (local
transformers, or ``backend="llama-cpp"``) and ``connect_llm`` (an OpenAI-compatible server).
"""
from recnb.models.errors import ModelNotAvailableError, QuantizationUnavailableError
from recnb.models.encoder import load_encoder
from recnb.models.interface import LLM, ScoringUnsupportedError
from recnb.models.llm import LocalLLM, load_llm
from recnb.models.openai_http import OpenAICompatibleLLM, connect_llm

__all__ = ["LLM", "LocalLLM", "ModelNotAvailableError", "OpenAICompatibleLLM", "QuantizationUnavailableError",
           "ScoringUnsupportedError", "connect_llm", "load_encoder", "load_llm"]
