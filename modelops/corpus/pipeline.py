"""The build: datatrove stages run one after another, resumable, then the assembly.

Stages (each a datatrove pipeline run by an executor; a *task* is one resumable shard):

1. ``filter`` (T tasks): read the manifest's units → trafilatura for HTML → NFC + Tajik
   normalisation → language ID → Gopher quality → Gopher repetition → FineWeb lines →
   Tajik shares → PII scrubbing → decontamination → JSONL + exact-dedup signatures.
2. ``exact-find`` (1 task): datatrove's exact duplicate finder.
3. ``exact-filter`` (T tasks): drop exact duplicates → JSONL + MinHash signatures.
4. ``minhash-buckets`` (14 tasks) and 5. ``minhash-cluster`` (1 task): near duplicates
   across the whole corpus.
6. ``finalise`` (T tasks): drop near duplicates → words, Gemma tokens → parquet parts.
7. assembly (this process): the validation split by a stable hash of the document id,
   the ``datasets`` layout, the datasheet; the finished folder appears in one rename.

Every stage keeps datatrove's completion markers under ``<work>/logs/<stage>/``: a rerun
skips finished tasks, so a killed build resumes where it stopped. The same stages run
unchanged on datatrove's Slurm or Ray executors (see :func:`stage_pipelines` and
docs/training.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import json
import os
import random
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelops.corpus import steps as corpus_steps
from modelops.corpus.sources import Unit, assign_units, list_units
from modelops.corpus.types import (
    BuildCancelled,
    BuildOptions,
    BuildResult,
    CancelCheck,
    CorpusBuildError,
    CorpusDocument,
    Progress,
    SourceSpec,
)

#: Bumped when a change to the steps would make a resumed build differ from a fresh one.
PIPELINE_VERSION = 1
STAGES = ("filter", "exact-find", "exact-filter", "minhash-buckets", "minhash-cluster", "finalise")
# Share of the progress bar each stage takes (the filter stage does nearly all the work).
_STAGE_WEIGHTS = {
    "filter": 0.78,
    "exact-find": 0.01,
    "exact-filter": 0.06,
    "minhash-buckets": 0.02,
    "minhash-cluster": 0.01,
    "finalise": 0.09,
    "assemble": 0.03,
}
STAGE_LABELS = {
    "filter": "reading, extracting, filtering",
    "exact-find": "finding exact duplicates",
    "exact-filter": "removing exact duplicates",
    "minhash-buckets": "comparing MinHash signatures",
    "minhash-cluster": "clustering near duplicates",
    "finalise": "removing near duplicates, counting tokens",
    "assemble": "writing shards and the datasheet",
}
SAMPLE_SIZE = 20


@dataclass
class BuildRequest:
    """A build: where it goes, what it reads, and how."""

    name: str
    corpora_dir: Path
    sources: list[SourceSpec]
    tokenizer_file: str
    benchmark_paths: list[str] = field(default_factory=list)
    providers: dict[str, Callable[[], Iterable[CorpusDocument]]] = field(default_factory=dict)
    options: BuildOptions = field(default_factory=BuildOptions)
    workers: int = 1

    @property
    def output_dir(self) -> Path:
        return Path(self.corpora_dir) / self.name

    @property
    def work_dir(self) -> Path:
        return Path(self.corpora_dir) / ".work" / self.name


# --- the stages ---------------------------------------------------------------------------


def stage_pipelines(
    work_dir: str, tokenizer_file: str, options: BuildOptions, hook_key: str | None = None
) -> dict[str, tuple[list[Any], int]]:
    """Every stage's datatrove pipeline and its task count, for any executor: the local
    one here, or ``SlurmPipelineExecutor`` / ``RayPipelineExecutor`` with the same lists."""
    from datatrove.pipeline.dedup import MinhashDedupSignature
    from datatrove.pipeline.dedup.exact_dedup import (
        ExactDedupConfig,
        ExactDedupFilter,
        ExactDedupSignature,
        ExactFindDedups,
    )
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
    )
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.utils.hashing import HashConfig

    manifest = corpus_steps.load_manifest(work_dir)
    tasks = len(manifest["tasks"])
    work = Path(work_dir)
    removed = str(work / "removed")
    quality = options.quality
    seed = options.seed

    def log(step: str) -> corpus_steps.RemovedLog:
        return corpus_steps.RemovedLog(removed, step, sample=SAMPLE_SIZE, seed=seed)

    exact = ExactDedupConfig(content_getter=corpus_steps.document_text)
    minhash = MinhashConfig(
        n_grams=options.minhash_ngrams,
        num_buckets=options.minhash_buckets,
        hashes_per_bucket=options.minhash_hashes_per_bucket,
        seed=seed,
        # datatrove 0.10.1 hashes shingles as str, which xxhash 4 refuses: SHA-1 instead.
        hash_config=HashConfig(hash_fc="sha1", precision=64),
    )
    filter_stage: list[Any] = [
        corpus_steps.ManifestReader(work_dir, hook_key),
        corpus_steps.HtmlExtractor(timeout=10),
        corpus_steps.TajikNormalizer(),
        corpus_steps.TajikLanguageFilter(options.language_threshold, log("language")),
        corpus_steps.TajikGopherQuality(quality, log("gopher_quality")),
        corpus_steps.TajikGopherRepetition(quality, log("gopher_repetition")),
        corpus_steps.TajikFineWebQuality(quality, log("fineweb_quality")),
        corpus_steps.TajikShareFilter(quality, log("tajik_shares")),
    ]
    if options.scrub_pii:
        filter_stage.append(corpus_steps.PIIScrubber())
    filter_stage += [
        corpus_steps.Decontaminate(str(work / "decontamination.json"), log("decontamination")),
        JsonlWriter(str(work / "filtered"), output_filename="${rank}.jsonl.gz"),
        ExactDedupSignature(str(work / "exact" / "signatures"), config=exact),
    ]
    return {
        "filter": (filter_stage, tasks),
        "exact-find": (
            [
                ExactFindDedups(
                    data_folder=str(work / "exact" / "signatures"),
                    output_folder=str(work / "exact" / "duplicates"),
                    config=exact,
                )
            ],
            1,
        ),
        "exact-filter": (
            [
                corpus_steps.RankJsonlReader(str(work / "filtered"), hook_key, "exact-filter"),
                ExactDedupFilter(
                    str(work / "exact" / "duplicates"),
                    config=exact,
                    exclusion_writer=log("exact_duplicate"),  # type: ignore[arg-type]
                ),
                JsonlWriter(str(work / "unique"), output_filename="${rank}.jsonl.gz"),
                MinhashDedupSignature(
                    output_folder=str(work / "minhash" / "signatures"),
                    config=minhash,
                    language=corpus_steps.TajikWordTokenizer(),  # type: ignore[arg-type]
                ),
            ],
            tasks,
        ),
        "minhash-buckets": (
            [
                MinhashDedupBuckets(
                    input_folder=str(work / "minhash" / "signatures"),
                    output_folder=str(work / "minhash" / "buckets"),
                    config=minhash,
                )
            ],
            options.minhash_buckets,
        ),
        "minhash-cluster": (
            [
                MinhashDedupCluster(
                    input_folder=str(work / "minhash" / "buckets"),
                    output_folder=str(work / "minhash" / "remove"),
                    config=minhash,
                )
            ],
            1,
        ),
        "finalise": (
            [
                corpus_steps.RankJsonlReader(str(work / "unique"), hook_key, "finalise"),
                MinhashDedupFilter(
                    input_folder=str(work / "minhash" / "remove"),
                    exclusion_writer=log("near_duplicate"),  # type: ignore[arg-type]
                ),
                corpus_steps.TokenizingParquetWriter(str(work / "final"), tokenizer_file, hook_key),
            ],
            tasks,
        ),
    }


# --- preparing and checking ---------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _benchmark_items(paths: list[str]) -> list[tuple[str, list[str]]]:
    """Each benchmark's item texts: the question, and the question with its answer."""
    from modelops.evaluation.benchmarks import BenchmarkError, load_benchmark
    from modelops.evaluation.generation import (
        GenerationSuiteError,
        is_generation_suite,
        load_generation_suite,
    )

    benchmarks = []
    for path in paths:
        if is_generation_suite(Path(path)):
            # The reference replies are what a model must not have seen; the passages are
            # textbook text the corpus rightly contains.
            try:
                suite = load_generation_suite(Path(path))
            except GenerationSuiteError:
                continue
            references = [item.reference for item in suite if item.reference.strip()]
            if references:
                benchmarks.append((Path(path).stem, references))
            continue
        try:
            benchmark = load_benchmark(path)
        except BenchmarkError:
            continue  # not a benchmark (a mapping file, a README); evaluation reports those
        texts: list[str] = []
        for item in benchmark:
            answer = item.choices[item.answer] if item.choices else (item.answers or ("",))[0]
            texts += [item.question, f"{item.question} {answer}"]
        benchmarks.append((benchmark.name, texts))
    return benchmarks


def _config(request: BuildRequest) -> dict[str, Any]:
    return {
        "pipeline_version": PIPELINE_VERSION,
        "name": request.name,
        "sources": [asdict(source) for source in request.sources],
        "providers": sorted(request.providers),
        "benchmarks": [
            {"path": path, "sha256": _sha256(Path(path))}
            if Path(path).is_file()
            else {"path": path}
            for path in request.benchmark_paths
        ],
        "options": request.options.to_json(),
    }


def _fingerprint(units: list[Unit]) -> list[list[Any]]:
    rows = []
    for unit in units:
        try:
            mtime = os.stat(unit.path).st_mtime_ns
        except OSError:
            mtime = 0
        rows.append([unit.path, unit.size, mtime])
    return rows


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    keys = sorted(set(old) | set(new))
    changed = []
    for key in keys:
        before, after = old.get(key), new.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            changed += _differences(before, after, f"{prefix}{key}.")
        elif before != after:
            changed.append(f"{prefix}{key}")
    return changed


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    partial.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(partial, path)


def _write_provider(path: Path, documents: Iterable[CorpusDocument]) -> None:
    partial = path.with_name(f".{path.name}.partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    with partial.open("w", encoding="utf-8") as handle:
        for document in documents:
            handle.write(json.dumps({"id": document.id, "text": document.text}, ensure_ascii=False))
            handle.write("\n")
    os.replace(partial, path)


def _prepare(request: BuildRequest, *, resume: bool) -> tuple[list[SourceSpec], bool]:
    """Create or check the work folder. Returns the sources (providers as JSONL files in
    the work folder) and whether this is a resume."""
    work = request.work_dir
    config_path = work / "config.json"
    config = json.loads(json.dumps(_config(request)))  # as it reads back from disk
    resuming = config_path.is_file()
    if resuming and not resume:
        raise CorpusBuildError(
            "exists",
            f"An unfinished build of {request.name!r} is in {work}. Run the same command with "
            f"--resume to continue it, or delete that folder to start again.",
        )
    if resuming:
        old = json.loads(config_path.read_text(encoding="utf-8"))
        changed = _differences(old, config)
        if changed:
            raise CorpusBuildError(
                "arguments_changed",
                f"The unfinished build of {request.name!r} was started with other arguments "
                f"({', '.join(changed)} differ). Resume it with the arguments it was started "
                f"with (see {config_path}), or delete {work} to start again.",
            )
    sources = list(request.sources)
    for provider_name in sorted(request.providers):
        path = work / "inputs" / f"{provider_name}.jsonl"
        if not (resuming and path.is_file()):
            # A resume reads the snapshot taken when the build started.
            _write_provider(path, request.providers[provider_name]())
        sources.append(SourceSpec(name=provider_name, path=str(path), curated=True))
    units = list_units(sources)
    fingerprint = _fingerprint(units)
    if resuming:
        manifest = corpus_steps.load_manifest(str(work))
        if manifest["fingerprint"] != fingerprint:
            raise CorpusBuildError(
                "arguments_changed",
                f"The source files changed since the build of {request.name!r} started "
                "(files added, removed or modified). Put them back as they were and resume, "
                f"or delete {work} to start again.",
            )
        return sources, True
    tasks = assign_units(units, shard_bytes=request.options.shard_bytes)
    index = corpus_steps.build_decontamination_index(
        _benchmark_items(request.benchmark_paths),
        min_ngram=request.options.decontamination_min_ngram,
        max_ngram=request.options.decontamination_max_ngram,
    )
    _write_json(work / "decontamination.json", index)
    _write_json(
        work / "manifest.json",
        {
            "sources": [asdict(source) for source in sources],
            "units": [unit.to_json() for unit in units],
            "tasks": tasks,
            "options": request.options.to_json(),
            "fingerprint": fingerprint,
        },
    )
    _write_json(config_path, config)  # written last: its presence means "resumable"
    return sources, False


def prepare(request: BuildRequest) -> None:
    """Write the work folder (manifest, decontamination index, provider snapshots) without
    running anything: the first step of a build on Slurm or Ray (docs/training.md)."""
    _prepare(request, resume=False)


# --- running --------------------------------------------------------------------------------


class _Tracker:
    """Turns per-task reports into one fraction for the whole build."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.offset = 0.0
        self.stage = ""
        self.weights: list[float] = []
        self.done: set[int] = set()
        self.partial: dict[int, float] = {}

    def start(self, stage: str, weights: list[float], done: set[int]) -> None:
        self.stage = stage
        total = sum(weights) or 1.0
        self.weights = [weight / total for weight in weights]
        self.done = set(done)
        self.partial = {}
        self.report(None, 0.0)

    def report(self, rank: int | None, fraction: float) -> None:
        if rank is not None and rank < len(self.weights):
            self.partial[rank] = max(self.partial.get(rank, 0.0), min(fraction, 1.0))
        within = sum(
            self.weights[r] * (1.0 if r in self.done else self.partial.get(r, 0.0))
            for r in range(len(self.weights))
        )
        overall = self.offset + _STAGE_WEIGHTS[self.stage] * min(within, 1.0)
        if self.progress is not None:
            self.progress(STAGE_LABELS[self.stage], min(overall, 1.0))

    def finish(self) -> None:
        self.offset += _STAGE_WEIGHTS[self.stage]


def _completed_ranks(logging_dir: Path) -> set[int]:
    folder = logging_dir / "completions"
    if not folder.is_dir():
        return set()
    return {int(path.name) for path in folder.iterdir() if path.name.isdigit()}


def _run_stage(
    request: BuildRequest,
    stage: str,
    pipeline: list[Any],
    tasks: int,
    tracker: _Tracker,
    weights: list[float],
    cancelled: CancelCheck | None,
) -> None:
    from datatrove.executor import LocalPipelineExecutor

    if cancelled is not None and cancelled():
        raise BuildCancelled("The build was cancelled; finished shards are kept.")
    logging_dir = request.work_dir / "logs" / stage
    tracker.start(stage, weights, _completed_ranks(logging_dir))
    executor = LocalPipelineExecutor(
        pipeline=pipeline,
        tasks=tasks,
        workers=min(request.workers, tasks),
        logging_dir=str(logging_dir),
        skip_completed=True,
    )
    console = request.work_dir / "logs" / "console.log"
    console.parent.mkdir(parents=True, exist_ok=True)
    # datatrove logs every task to stderr; the build's own progress is the bar, so its
    # console output goes to a file beside the per-task logs.
    with console.open("a", encoding="utf-8") as stream, contextlib.redirect_stderr(stream):
        executor.run()
    tracker.done = set(range(tasks))
    tracker.report(None, 1.0)
    tracker.finish()


def _stage_stats(work: Path, stage: str) -> list[dict[str, Any]]:
    """Every step's counters over all tasks of a stage: ``[{name, stats}]``."""
    merged: list[dict[str, Any]] = []
    for path in sorted((work / "logs" / stage / "stats").glob("*.json")):
        steps = json.loads(path.read_text(encoding="utf-8"))
        for position, step in enumerate(steps):
            if position >= len(merged):
                merged.append({"name": step["name"], "stats": {}})
            for key, value in step["stats"].items():
                count = value.get("total") if isinstance(value, dict) else value
                if isinstance(count, (int, float)):
                    merged[position]["stats"][key] = merged[position]["stats"].get(key, 0) + count
    return merged


def build(
    request: BuildRequest,
    *,
    resume: bool = False,
    progress: Progress | None = None,
    cancelled: CancelCheck | None = None,
) -> BuildResult:
    """Build (or resume) the corpus ``request.name``; returns what was written.

    Raises CorpusBuildError (see its codes) and BuildCancelled. Any other error (a kill,
    a full disk: OSError) leaves the finished tasks for ``resume=True``."""
    output = request.output_dir
    if output.exists():
        if resume and (output / "datasheet.json").is_file():
            return result_from_directory(request.name, output)
        raise CorpusBuildError(
            "exists",
            f"The folder {output} exists already; choose another name or delete it.",
        )
    if not request.sources and not request.providers:
        raise CorpusBuildError("no_sources", "Give at least one source folder or file.")
    sources, _ = _prepare(request, resume=resume)
    work = request.work_dir
    hook_key = uuid.uuid4().hex
    tracker = _Tracker(progress)
    manifest = corpus_steps.load_manifest(str(work))
    units = manifest["units"]

    def task_progress(stage: str, rank: int, done: int, total: int) -> None:
        tracker.report(rank, done / total if total else 1.0)

    corpus_steps.register_hooks(
        hook_key,
        corpus_steps.Hooks(progress=task_progress, cancelled=cancelled or (lambda: False)),
    )
    try:
        pipelines = stage_pipelines(str(work), request.tokenizer_file, request.options, hook_key)
        filter_weights = [
            float(sum(max(units[index]["size"], 1) for index in task)) for task in manifest["tasks"]
        ]
        for stage in STAGES:
            pipeline, tasks = pipelines[stage]
            weights = filter_weights if stage == "filter" else [1.0] * tasks
            _run_stage(request, stage, pipeline, tasks, tracker, weights, cancelled)
            if stage == "filter":
                _check_something_tajik(request, sources)
        tracker.start("assemble", [1.0], set())
        result = _assemble(request, sources)
        tracker.done = {0}
        tracker.report(None, 1.0)
        return result
    except OSError as error:
        if error.errno == 28:  # ENOSPC
            raise CorpusBuildError(
                "disk_full",
                f"The disk holding {request.corpora_dir} is full. Free some space and run the "
                "same command with --resume: the finished shards are kept.",
            ) from error
        raise
    finally:
        corpus_steps.unregister_hooks(hook_key)


def _check_something_tajik(request: BuildRequest, sources: list[SourceSpec]) -> None:
    steps = _stage_stats(request.work_dir, "filter")
    reader: dict[str, Any] = next((s["stats"] for s in steps if "Soro sources" in s["name"]), {})
    language: dict[str, Any] = next((s["stats"] for s in steps if "language ID" in s["name"]), {})
    read = int(reader.get("total", 0))
    tajik = int(language.get("forwarded", 0))
    if tajik:
        return
    unreadable = sum(int(v) for k, v in reader.items() if k.startswith("unreadable_"))
    files = int(reader.get("files", 0))
    names = ", ".join(source.path for source in sources)
    shutil.rmtree(request.work_dir, ignore_errors=True)
    raise CorpusBuildError(
        "no_tajik",
        f"No Tajik text found in {names}: {files} files, {read} documents read, "
        f"{unreadable} files unreadable, 0 documents in Tajik; nothing was built.",
    )


# --- assembly ---------------------------------------------------------------------------------


def _validation_cut(keys: list[float], options: BuildOptions) -> float:
    """The largest split key that goes to validation (−1: no validation split)."""
    count = len(keys)
    if count < 2:
        return -1.0
    wanted = max(
        round(options.validation_share * count), min(options.min_validation_documents, count // 5)
    )
    wanted = max(1, min(wanted, count - 1))
    return sorted(keys)[wanted - 1]


def _assemble(request: BuildRequest, sources: list[SourceSpec]) -> BuildResult:
    import pyarrow.parquet as pq

    from modelops.corpus.datasheet import build_datasheet, render_datasheet

    work = request.work_dir
    parts = sorted((work / "final").glob("[0-9]*.parquet"))
    keys: list[float] = []
    for part in parts:
        keys.extend(pq.read_table(part, columns=["split_key"]).column(0).to_pylist())
    if not keys:
        shutil.rmtree(work, ignore_errors=True)
        raise CorpusBuildError(
            "nothing_kept",
            "Tajik text was found, but no document passed the quality rules and "
            "deduplication; nothing was built. The datasheet of a larger source will say why.",
        )
    cut = _validation_cut(keys, request.options)
    staging = work / "assembled"
    shutil.rmtree(staging, ignore_errors=True)
    data_dir = staging / "data"
    data_dir.mkdir(parents=True)
    totals: dict[str, dict[str, dict[str, int]]] = {"train": {}, "validation": {}}
    train_files: list[Path] = []
    validation_rows: list[Any] = []
    kept_heap: list[tuple[float, str]] = []
    rng_seed = request.options.seed
    for number, part in enumerate(parts):
        table = pq.read_table(part)
        mask = [key <= cut for key in table.column("split_key").to_pylist()]
        import pyarrow as pa
        import pyarrow.compute as pc

        mask_array = pa.array(mask, type=pa.bool_())
        train = table.filter(pc.invert(mask_array)).drop_columns(["split_key"])
        validation = table.filter(mask_array).drop_columns(["split_key"])
        _add_totals(totals["train"], train)
        _add_totals(totals["validation"], validation)
        if validation.num_rows:
            validation_rows.append(validation)
        if train.num_rows:
            path = data_dir / f".train-{number:05d}.parquet"
            pq.write_table(train, path, compression="zstd")
            train_files.append(path)
            for document_id in train.column("id").to_pylist():
                score = random.Random(f"{rng_seed}-{document_id}").random()
                heapq.heappush(kept_heap, (-score, document_id))
                if len(kept_heap) > SAMPLE_SIZE:
                    heapq.heappop(kept_heap)
    for position, path in enumerate(train_files):
        path.rename(data_dir / f"train-{position:05d}-of-{len(train_files):05d}.parquet")
    if validation_rows:
        import pyarrow as pa

        pq.write_table(
            pa.concat_tables(validation_rows),
            data_dir / "validation-00000-of-00001.parquet",
            compression="zstd",
        )
    kept_ids = {document_id for _, document_id in kept_heap}
    kept_samples = _kept_samples(data_dir, kept_ids)
    checksum = hashlib.sha256()
    for path in sorted(data_dir.glob("*.parquet")):
        checksum.update(path.name.encode())
        checksum.update(_sha256(path).encode())
    datasheet = build_datasheet(
        name=request.name,
        sources=sources,
        stages={stage: _stage_stats(work, stage) for stage in STAGES},
        totals=totals,
        removed=_removed_summary(work, request.options.seed),
        kept_samples=kept_samples,
        problems=_problems(work),
        options=request.options,
        decontamination=json.loads((work / "decontamination.json").read_text(encoding="utf-8")),
        checksum=checksum.hexdigest(),
        manifest=corpus_steps.load_manifest(str(work)),
    )
    _write_json(staging / "datasheet.json", datasheet)
    (staging / "datasheet.md").write_text(render_datasheet(datasheet), encoding="utf-8")
    request.output_dir.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, request.output_dir)
    return result_from_directory(request.name, request.output_dir)


def _add_totals(totals: dict[str, dict[str, int]], table: Any) -> None:
    for source, words, tokens in zip(
        table.column("source").to_pylist(),
        table.column("words").to_pylist(),
        table.column("tokens").to_pylist(),
        strict=True,
    ):
        row = totals.setdefault(source, {"documents": 0, "words": 0, "tokens": 0})
        row["documents"] += 1
        row["words"] += int(words)
        row["tokens"] += int(tokens)


def _kept_samples(data_dir: Path, ids: set[str]) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    samples = []
    for path in sorted(data_dir.glob("train-*.parquet")):
        table = pq.read_table(path, columns=["id", "source", "text"])
        for document_id, source, text in zip(
            table.column("id").to_pylist(),
            table.column("source").to_pylist(),
            table.column("text").to_pylist(),
            strict=True,
        ):
            if document_id in ids:
                samples.append({"id": document_id, "source": source, "text": text[:2000]})
    return sorted(samples, key=lambda row: row["id"])


def _removed_summary(work: Path, seed: int) -> dict[str, Any]:
    """Per step: how many documents were removed, and a sample of the removed ones."""
    summary: dict[str, Any] = {"counts": {}, "sample": []}
    pool: list[dict[str, Any]] = []
    for step_dir in sorted((work / "removed").glob("*")):
        seen = 0
        for sample_file in sorted(step_dir.glob("*.sample.json")):
            data = json.loads(sample_file.read_text(encoding="utf-8"))
            seen += int(data["seen"])
            for row in data["sample"]:
                pool.append({"step": step_dir.name, **row})
        summary["counts"][step_dir.name] = seen
    chooser = random.Random(seed)
    chooser.shuffle(pool)
    summary["sample"] = sorted(pool[:SAMPLE_SIZE], key=lambda row: (row["step"], row["id"]))
    return summary


def removed_ids(work_dir: Path, step: str) -> Iterator[str]:
    """Every id a step removed (read before the work folder is discarded)."""
    for path in sorted((Path(work_dir) / "removed" / step).glob("*.ids")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield line.rstrip("\n")


def _problems(work: Path) -> list[dict[str, str]]:
    problems: list[dict[str, str]] = []
    for path in sorted((work / "problems").glob("*.json")):
        problems += json.loads(path.read_text(encoding="utf-8"))
    return problems


def result_from_directory(name: str, directory: Path) -> BuildResult:
    datasheet = json.loads((directory / "datasheet.json").read_text(encoding="utf-8"))
    return BuildResult(
        name=name,
        directory=directory,
        documents=int(datasheet["totals"]["documents"]),
        words=int(datasheet["totals"]["words"]),
        tokens=int(datasheet["totals"]["tokens"]),
        checksum=str(datasheet["checksum"]),
        datasheet=datasheet,
        sources=datasheet["sources"],
    )


def discard_work(request: BuildRequest) -> None:
    """Remove the work folder of a finished build (once it is registered)."""
    shutil.rmtree(request.work_dir, ignore_errors=True)
    with contextlib.suppress(OSError):
        request.work_dir.parent.rmdir()  # only when no other build is under way


__all__ = [
    "STAGES",
    "BuildRequest",
    "build",
    "discard_work",
    "removed_ids",
    "result_from_directory",
    "stage_pipelines",
]
