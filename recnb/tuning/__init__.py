"""Fine-tuning the bundled LLM for recommendation: TALLRec-style LoRA on a CPU, QLoRA on a GPU.

    examples = build_examples(split, items, llm, n=64)       # balanced Yes/No questions from train
    tuned = LoraModel(llm, LoraSettings(epochs=2))           # adapter on a private copy of the weights
    report = tuned.train(examples)                           # tqdm bar shows the loss
    tuned.save(folder); LoraModel.load(llm, folder)          # saved, reloaded (onto the same base only)
    LoraPointwiseRanker(tuned)                               # recnb.scores.llm_lora: a Ranker

See notebooks/10_tuning.ipynb and recnb.tuning.measure for tuned vs untuned on the sampled protocol.
"""
from recnb.tuning.examples import TuningExample, build_examples, examples_frame, pointwise_template
from recnb.tuning.lora import AdapterMismatchError, LoraModel, LoraSettings, TrainReport

__all__ = ["TuningExample", "build_examples", "examples_frame", "pointwise_template", "LoraModel", "LoraSettings",
           "TrainReport", "AdapterMismatchError"]
