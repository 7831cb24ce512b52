"""Soro's Tajik corpus builder, Django-free: sources in, ``datasets`` parquet shards and a
datasheet out, on datatrove (see :mod:`modelops.corpus.pipeline`)."""

from modelops.corpus.pipeline import BuildRequest, build, discard_work, result_from_directory
from modelops.corpus.types import (
    BuildCancelled,
    BuildOptions,
    BuildResult,
    CorpusBuildError,
    CorpusDocument,
    QualityThresholds,
    SourceSpec,
)

__all__ = [
    "BuildCancelled",
    "BuildOptions",
    "BuildRequest",
    "BuildResult",
    "CorpusBuildError",
    "CorpusDocument",
    "QualityThresholds",
    "SourceSpec",
    "build",
    "discard_work",
    "result_from_directory",
]
