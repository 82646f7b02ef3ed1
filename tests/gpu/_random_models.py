"""Random-weight causal LMs of real shapes, for GPU memory/latency checks on a machine without weights.

Memory and speed depend on shapes, not on weight values, so a Llama-2-7B-shaped model with
random weights measures 4-bit vs bf16 honestly; a tiny one checks correctness quickly. The
tokenizer is a word-level one built in code, since nothing can be downloaded.
"""
from __future__ import annotations

from pathlib import Path

SHAPES = {
    "tiny": dict(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=4,
                 num_key_value_heads=4, vocab_size=1024),
    "7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
               num_key_value_heads=32, vocab_size=32000),
}


def _tokenizer(vocab_size: int):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "<unk>", "<s>", "</s>"] + [f"w{i}" for i in range(vocab_size - 4)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>",
                                   bos_token="<s>", eos_token="</s>")


def make_random_llama(folder: Path, shape: str = "tiny", device: str = "cuda") -> Path:
    """Write config, random bf16 weights (initialised on ``device``, fast) and a tokenizer to ``folder``."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    folder = Path(folder)
    if (folder / "config.json").exists():
        return folder
    cfg = LlamaConfig(**SHAPES[shape], max_position_embeddings=4096, torch_dtype="bfloat16")
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    model.save_pretrained(folder)
    _tokenizer(cfg.vocab_size).save_pretrained(folder)
    del model
    torch.cuda.empty_cache()
    return folder
