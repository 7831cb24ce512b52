"""Soro's training core, Django-free: continual pretraining of every weight on a corpus
(:func:`pretrain`), instruction tuning on conversations (:func:`sft`), and held-out
perplexity (:func:`perplexity`). Plain dataclasses in and out, so the same code runs from
a management command, a Celery job, a benchmark or ``accelerate launch`` on a GPU node.
"""

from modelops.training.data import (
    Conversation,
    corpus_texts,
    load_conversations,
    tokenize_conversation,
)
from modelops.training.loop import latest_checkpoint
from modelops.training.pretrain import Perplexity, perplexity, pretrain
from modelops.training.sft import add_lora, merge_lora, sft
from modelops.training.types import (
    DEFAULT_REPLAY_FILE,
    PretrainConfig,
    ResumeMismatch,
    Schedule,
    SftConfig,
    SftDataError,
    TrainingError,
    TrainingProgress,
    TrainingResult,
    TrainingStopped,
)

__all__ = [
    "DEFAULT_REPLAY_FILE",
    "Conversation",
    "Perplexity",
    "PretrainConfig",
    "ResumeMismatch",
    "Schedule",
    "SftConfig",
    "SftDataError",
    "TrainingError",
    "TrainingProgress",
    "TrainingResult",
    "TrainingStopped",
    "add_lora",
    "corpus_texts",
    "latest_checkpoint",
    "load_conversations",
    "merge_lora",
    "perplexity",
    "pretrain",
    "sft",
    "tokenize_conversation",
]
