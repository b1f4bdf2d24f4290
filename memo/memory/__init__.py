"""The memory: a small LM fine-tuned on reflections that answers questions from its weights.

    from memo.memory import train, TrainConfig, MemoryModel, evaluate_recall
    result = train("refl/", "mem/")                       # publishes mem/versions/v0001, mem/current
    memory = MemoryModel.load("mem/")
    memory.ask(["Where was Ada Quill born?"], citations=True)
"""

from .artifact import CorruptMemoryError, memory_recipe, read_manifest, verify_artifact
from ..records import ABSTAIN, Pair, is_abstention
from .data import Dataset, load_dataset
from .model import Citation, MemoryAnswer, MemoryModel, generate_answers
from .prompt import encode_example, format_prompt, memory_chat_template
from .recall import RecallReport, evaluate_recall, score_answers
from .store import MemoryNotFoundError, MemoryStore, resolve_artifact
from ..settings import TrainConfig
from .train import TrainResult, train

__all__ = [
    "ABSTAIN", "Citation", "CorruptMemoryError", "Dataset", "MemoryAnswer", "MemoryModel", "MemoryNotFoundError",
    "MemoryStore", "Pair", "RecallReport", "TrainConfig", "TrainResult", "encode_example", "evaluate_recall",
    "format_prompt", "generate_answers", "is_abstention", "load_dataset", "memory_chat_template", "memory_recipe",
    "read_manifest", "resolve_artifact", "score_answers", "train",
    "verify_artifact",
]
