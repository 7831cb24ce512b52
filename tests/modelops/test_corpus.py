"""Whole builds of small real folders: layout, deduplication, decontamination, PII, the
datasheet, resume after an interruption, refused resumes, a full disk, non-Tajik input."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from modelops.corpus import BuildOptions, BuildRequest, CorpusBuildError, SourceSpec, build
from modelops.corpus.thresholds import textbook_pages

BENCHMARK = (
    Path(__file__).resolve().parents[2] / "modelops" / "data" / "benchmarks" / "tajik_suite.jsonl"
)
from tests.modelops.test_corpus_filters import RUSSIAN  # noqa: E402

ENGLISH_HTML = (
    "<html><head><title>News</title></head><body><nav>Home | About | Contact</nav><article>"
    + "".join(
        f"<p>The city council met on Monday to discuss the new park, item {i}. Residents asked "
        "for more trees, benches and a playground, and the mayor promised an answer soon.</p>"
        for i in range(6)
    )
    + "</article><footer>Copyright</footer></body></html>"
)


def make_sources(root: Path) -> Path:
    """A folder like a small crawl: Tajik pages (Markdown, HTML, JSONL), an exact and a
    near duplicate, Russian and English pages, a page quoting a benchmark item, a page
    with an e-mail address, and a damaged PDF."""
    source = root / "src"
    source.mkdir(parents=True)
    pages = textbook_pages()[:26]
    for number, page in enumerate(pages[:20]):
        (source / f"page-{number:02d}.md").write_text(page, encoding="utf-8")
    shutil.copy(source / "page-00.md", source / "zz-copy-of-page-00.md")
    words = pages[1].split(" ")
    words[10] = "тағйир"
    (source / "zz-near-page-01.md").write_text(" ".join(words), encoding="utf-8")
    paragraphs = "".join(f"<p>{line}</p>" for line in pages[20].split("\n") if line.strip())
    (source / "article.html").write_text(
        f"<html><body><nav>Асосӣ | Хабарҳо</nav><article>{paragraphs}</article></body></html>",
        encoding="utf-8",
    )
    rows = [{"body": pages[21]}, {"body": pages[22]}, {"title": "бе матн"}]
    (source / "rows.jsonl").write_text(
        "\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8"
    )
    (source / "russian.txt").write_text(RUSSIAN, encoding="utf-8")
    (source / "english.html").write_text(ENGLISH_HTML, encoding="utf-8")
    item = json.loads(BENCHMARK.read_text(encoding="utf-8").splitlines()[1])
    answer = item["choices"][item["answer"]]
    (source / "quiz.md").write_text(
        pages[23] + f"\n\nСаволи имтиҳон: {item['question']} Ҷавоб: {answer}.", encoding="utf-8"
    )
    (source / "contact.md").write_text(
        pages[24] + "\n\nБарои маълумот ба нишонии maktab@example.tj нависед.", encoding="utf-8"
    )
    (source / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    return source


def request(
    root: Path, name: str, sources: Path, tokenizer_dir: Path, **options: object
) -> BuildRequest:
    return BuildRequest(
        name=name,
        corpora_dir=root / "corpora",
        sources=[SourceSpec("src", str(sources), text_field="body")],
        tokenizer_file=str(tokenizer_dir / "tokenizer.json"),
        benchmark_paths=[str(BENCHMARK)],
        options=BuildOptions(**options),  # type: ignore[arg-type]
    )


def rows(directory: Path, split: str) -> list[dict[str, object]]:
    found = []
    for path in sorted((directory / "data").glob(f"{split}-*.parquet")):
        found += pq.read_table(path).to_pylist()
    return found


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("corpus")
    sources = make_sources(root)
    result = build(request(root, "small", sources, tokenizer_dir))
    return root, result


def test_the_layout_is_a_datasets_dataset(built: tuple[Path, object], tmp_path: Path) -> None:
    import datasets

    root, _ = built
    directory = root / "corpora" / "small"
    assert sorted(path.name for path in (directory / "data").iterdir()) == [
        "train-00000-of-00001.parquet",
        "validation-00000-of-00001.parquet",
    ]
    loaded = datasets.load_dataset(str(directory), cache_dir=str(tmp_path / "hf"))
    assert sorted(loaded) == ["train", "validation"]
    assert loaded["train"].column_names == ["id", "text", "source", "words", "tokens"]
    again = datasets.load_dataset(
        "parquet", data_dir=str(directory / "data"), cache_dir=str(tmp_path / "hf")
    )
    assert again["train"].num_rows == loaded["train"].num_rows


def test_kept_removed_and_why(built: tuple[Path, object]) -> None:
    root, result = built
    directory = root / "corpora" / "small"
    train, validation = rows(directory, "train"), rows(directory, "validation")
    kept = {row["id"] for row in train + validation}
    # 20 pages + the HTML article + 2 JSONL rows + the e-mail page; the copy, the near
    # duplicate, the quiz (benchmark item), Russian, English and the PDF are gone.
    expected = {f"src/page-{n:02d}.md" for n in range(20)} | {
        "src/article.html",
        "src/rows.jsonl:1",
        "src/rows.jsonl:2",
        "src/contact.md",
    }
    assert kept == expected
    assert not {row["id"] for row in train} & {row["id"] for row in validation}
    # 24 kept: 2% is 0, so the split is min(50, 24 // 5) = 4 documents.
    assert len(validation) == 4
    contact = next(row for row in train + validation if row["id"] == "src/contact.md")
    assert "[email]" in contact["text"] and "maktab@example.tj" not in contact["text"]
    assert all(row["source"] == "src" and row["tokens"] > row["words"] > 50 for row in train)
    datasheet = result.datasheet  # type: ignore[attr-defined]
    steps = {step["step"]: step for step in datasheet["steps"]}
    assert steps["language ID (tg, offline)"]["reasons"] == {"not_tajik": 2}
    assert steps["benchmark decontamination"]["reasons"] == {"contaminated": 1}
    assert steps["exact duplicates"]["removed"] == 1
    assert steps["near duplicates (MinHash)"]["removed"] == 1
    assert steps["PII scrubbing (replaces, removes nothing)"]["notes"]["replaced_email"] == 1
    assert datasheet["read"]["unreadable"] == {"corrupt": 1}
    assert datasheet["read"]["skipped_rows"] == {"no_text_field": 1}
    assert datasheet["totals"]["documents"] == 24 == result.documents  # type: ignore[attr-defined]
    assert datasheet["sources"][0]["documents"] == 24
    assert datasheet["sources"][0]["tokens"] == sum(
        int(row["tokens"]) for row in train + validation
    )
    assert len(datasheet["kept_examples"]) == 20
    assert {row["step"] for row in datasheet["removed_examples"]} == {
        "language",
        "decontamination",
        "exact_duplicate",
        "near_duplicate",
    }
    markdown = (directory / "datasheet.md").read_text(encoding="utf-8")
    for heading in ("## Sources", "## What each step removed", "## 20 random kept documents"):
        assert heading in markdown
    assert json.loads((directory / "datasheet.json").read_text())["checksum"] == result.checksum  # type: ignore[attr-defined]


def test_resume_after_an_interruption_gives_the_same_corpus(
    tmp_path: Path, tokenizer_dir: Path
) -> None:
    # Shards of about 8 kB: several tasks, so some finish before the "kill".
    reference = build(
        request(
            tmp_path / "ref",
            "again",
            make_sources(tmp_path / "ref"),
            tokenizer_dir,
            shard_bytes=8_000,
        )
    )
    sources = make_sources(tmp_path)
    small = request(tmp_path, "again", sources, tokenizer_dir, shard_bytes=8_000)
    calls = []

    def kill_midway(stage: str, fraction: float) -> None:
        calls.append(fraction)
        if fraction > 0.4:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        build(small, progress=kill_midway)
    work = small.work_dir
    finished = sorted((work / "logs" / "filter" / "completions").iterdir())
    assert finished and not small.output_dir.exists()
    first_shard = work / "filtered" / "00000.jsonl.gz"
    stamp = first_shard.stat().st_mtime_ns

    with pytest.raises(CorpusBuildError) as refused:
        build(small)
    assert refused.value.code == "exists" and "--resume" in refused.value.message
    changed = request(
        tmp_path, "again", sources, tokenizer_dir, shard_bytes=8_000, minhash_ngrams=4
    )
    with pytest.raises(CorpusBuildError) as different:
        build(changed, resume=True)
    assert different.value.code == "arguments_changed"
    assert "options.minhash_ngrams" in different.value.message

    build(small, resume=True)
    assert first_shard.stat().st_mtime_ns == stamp  # a finished shard is not redone
    for split in ("train", "validation"):
        assert rows(small.output_dir, split) == rows(reference.directory, split)


def test_a_full_disk_keeps_the_finished_shards(tmp_path: Path, tokenizer_dir: Path) -> None:
    sources = make_sources(tmp_path)
    job = request(tmp_path, "disk", sources, tokenizer_dir)

    def disk_fills(stage: str, fraction: float) -> None:
        # A full disk cannot be made here; the error the writer would get is raised instead.
        if stage.startswith("removing near duplicates"):
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(CorpusBuildError) as full:
        build(job, progress=disk_fills)
    assert full.value.code == "disk_full" and "--resume" in full.value.message
    assert (job.work_dir / "logs" / "filter" / "completions" / "00000").is_file()
    assert build(job, resume=True).documents == 24


def test_a_source_without_tajik_builds_nothing(tmp_path: Path, tokenizer_dir: Path) -> None:
    source = tmp_path / "foreign"
    source.mkdir()
    (source / "russian.txt").write_text(RUSSIAN, encoding="utf-8")
    (source / "english.html").write_text(ENGLISH_HTML, encoding="utf-8")
    job = request(tmp_path, "foreign", source, tokenizer_dir)
    with pytest.raises(CorpusBuildError) as nothing:
        build(job)
    assert nothing.value.code == "no_tajik"
    assert "No Tajik text found" in nothing.value.message
    assert "nothing was built" in nothing.value.message
    assert not job.output_dir.exists() and not job.work_dir.exists()
