"""Plain types of the corpus builder: what goes in, the settings, and the errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: ``progress(stage, fraction)``: what the build is doing and how far it is (0–1).
Progress = Callable[[str, float], None]
#: Called often; returning True stops the build (finished shards are kept for a resume).
CancelCheck = Callable[[], bool]


class CorpusBuildError(Exception):
    """A build that cannot go on; ``code`` says why, the message says what to do.

    Codes: "no_sources", "missing_source", "no_tajik" (nothing Tajik was found: nothing
    was built), "exists" (a finished corpus or an unfinished build is in the way),
    "arguments_changed" (a resume with other arguments or changed sources), "not_started"
    (a resume with nothing to resume), "disk_full", "tokenizer".
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class BuildCancelled(Exception):
    """The cancel check asked the build to stop; finished shards are kept."""


@dataclass(frozen=True)
class CorpusDocument:
    """One document handed over by a provider (the textbooks, the curriculum): a stable
    id, its text, and the source name it is counted under."""

    id: str
    text: str
    source: str


@dataclass(frozen=True)
class SourceSpec:
    """One input: a file or folder (any mix of HTML, PDF, DOCX, Markdown/text, JSONL,
    parquet, Hugging Face ``datasets`` directories and translation catalogs).

    ``curated`` sources (the platform's own textbooks and curriculum) skip the web-text
    quality heuristics; every other step applies to them.
    """

    name: str
    path: str
    text_field: str = "text"
    curated: bool = False
    include: tuple[str, ...] = ()  # glob patterns under a folder; empty: every file


@dataclass(frozen=True)
class QualityThresholds:
    """Thresholds of the quality rules; docs/training.md shows the measured Tajik
    distributions they come from (``python -m modelops.corpus.thresholds``)."""

    min_words: int = 50
    max_words: int = 100_000
    min_mean_word_length: float = 3.0
    max_mean_word_length: float = 10.0
    max_symbol_word_ratio: float = 0.1  # "#" and ellipses per word (Gopher)
    max_bullet_lines: float = 0.9
    max_ellipsis_lines: float = 0.3
    min_alpha_words: float = 0.7  # Gopher: 0.8; math pages of the demo textbooks fall below
    min_distinct_stop_words: int = 2
    min_stop_word_share: float = 0.06
    max_digit_share: float = 0.15
    max_symbol_share: float = 0.10
    # Gopher repetition (fractions of the document)
    max_duplicate_lines: float = 0.3
    max_duplicate_paragraphs: float = 0.3
    max_duplicate_line_chars: float = 0.2
    max_duplicate_paragraph_chars: float = 0.2
    # FineWeb line rules
    min_line_punctuation: float = 0.12
    max_short_lines: float = 0.67
    max_duplicate_line_char_share: float = 0.01
    max_newline_ratio: float = 0.3


@dataclass(frozen=True)
class BuildOptions:
    """Everything that decides what a build produces (a resume must match all of it)."""

    language_threshold: float = 0.4
    quality: QualityThresholds = field(default_factory=QualityThresholds)
    # Near duplicates: MinHash over 5-word shingles, 14 bands of 8 hashes (FineWeb's
    # setting): pairs with Jaccard similarity 0.8 are caught with probability 0.92.
    minhash_ngrams: int = 5
    minhash_buckets: int = 14
    minhash_hashes_per_bucket: int = 8
    # Decontamination n-gram length: per benchmark the 5th percentile of its items'
    # lengths in words, clamped to [min, max] (GPT-3's rule; max 13 as in GPT-3).
    decontamination_min_ngram: int = 8
    decontamination_max_ngram: int = 13
    validation_share: float = 0.02
    min_validation_documents: int = 50
    scrub_pii: bool = True
    shard_bytes: int = 64 * 1024 * 1024  # input bytes per task (one resumable shard)
    max_file_bytes: int = 500_000_000
    seed: int = 1

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BuildResult:
    """What a finished build wrote and what it counted."""

    name: str
    directory: Path
    documents: int
    words: int
    tokens: int
    checksum: str
    datasheet: dict[str, Any]
    sources: list[dict[str, Any]]
