"""Measure the distributions the corpus thresholds come from, on text this machine has.

``python -m modelops.corpus.thresholds [EXTRA_SOURCE ...]`` prints, per sample group,
the language model's verdicts and the percentiles of every share a rule looks at, and how
many documents each rule would remove with the defaults. Groups:

- ``tajik-textbooks``: the demo textbooks, one document per page (good Tajik);
- ``tajik-russian-letters``: the same pages typed on a Russian keyboard (ҳ→х, ҷ→ч,
  қ→к, ғ→г, ӯ→у, ӣ→и) and normalised with an empty lexicon, as text from outside the
  platform would be;
- ``tajik-catalogs``: sentences of Tajik translation catalogs (Django's, and any EXTRA
  source given: a Firefox language pack, a folder of .po files);
- ``russian`` and ``english``: Django's Russian catalog sentences and English source
  strings, grouped into documents of about 120 words;
- ``tajik-word-lists``: the retrieval lexicon's words, 200 a document (Tajik, but no prose).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from modelops.corpus import text as measures
from modelops.corpus.sources import catalog_strings, sentences_like
from modelops.corpus.types import QualityThresholds

ROOT = Path(__file__).resolve().parents[2]


def _group(strings: list[str], words_per_document: int = 120) -> list[str]:
    documents, current, size = [], [], 0
    for string in strings:
        current.append(string)
        size += measures.word_count(string)
        if size >= words_per_document:
            documents.append("\n".join(current))
            current, size = [], 0
    if current and size >= 50:
        documents.append("\n".join(current))
    return documents


def textbook_pages() -> list[str]:
    pages = []
    for path in sorted((ROOT / "tutoring" / "data" / "textbooks").glob("*.md")):
        content = re.sub(r"\A---\n.*?\n---\n", "", path.read_text(encoding="utf-8"), flags=re.S)
        for page in re.split(r"<!--\s*page\s+\d+\s*-->", content):
            page = re.sub(r"^#+\s*", "", page, flags=re.M).strip()
            if measures.word_count(page) >= 50:
                pages.append(page)
    return pages


def russified(pages: list[str]) -> list[str]:
    from modelops.corpus.steps import normalize_document
    from tutoring.retrieval import normalize

    table = str.maketrans({"ҳ": "х", "ҷ": "ч", "қ": "к", "ғ": "г", "ӯ": "у", "ӣ": "и",
                           "Ҳ": "Х", "Ҷ": "Ч", "Қ": "К", "Ғ": "Г", "Ӯ": "У", "Ӣ": "И"})  # fmt: skip
    saved = normalize.default_lexicon
    normalize.default_lexicon = lambda: normalize.EMPTY_LEXICON  # type: ignore[assignment]
    try:
        return [normalize_document(page.translate(table)) for page in pages]
    finally:
        normalize.default_lexicon = saved  # type: ignore[assignment]


def _django_catalogs(language: str) -> list[Path]:
    spec = importlib.util.find_spec("django")  # its catalogs are data: Django is not imported
    if spec is None or not spec.submodule_search_locations:
        return []
    root = Path(next(iter(spec.submodule_search_locations)))
    return sorted(root.glob(f"**/locale/{language}/LC_MESSAGES/*.po"))


def catalog_documents(paths: list[Path]) -> list[str]:
    strings: list[str] = []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in (".po", ".mo", ".ftl", ".xpi"))
        else:
            files = [path]
        for file in files:
            if file.suffix == ".xpi":
                import zipfile

                with zipfile.ZipFile(file) as archive:
                    for member in sorted(archive.namelist()):
                        if member.endswith((".ftl", ".po", ".mo")):
                            strings += sentences_like(catalog_strings(member, archive.read(member)))
            else:
                strings += sentences_like(catalog_strings(file.name, file.read_bytes()))
    return _group(list(dict.fromkeys(strings)))


def english_documents() -> list[str]:
    strings = []
    for path in _django_catalogs("ru"):
        strings += re.findall(r'^msgid "(.+)"$', path.read_text(encoding="utf-8"), flags=re.M)
    return _group(sentences_like(list(dict.fromkeys(strings))))


def word_list_documents() -> list[str]:
    from tutoring.retrieval.normalize import LEXICON_PATH

    words = [
        line.split("\t")[0]
        for line in LEXICON_PATH.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    return [" ".join(words[i : i + 200]) for i in range(0, len(words) - 199, 200)]


def _percentiles(values: list[float]) -> str:
    if not values:
        return "—"
    ordered = sorted(values)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(share * (len(ordered) - 1) + 0.5))]

    return f"p5 {at(0.05):.3f}  p50 {at(0.5):.3f}  p95 {at(0.95):.3f}"


def _datatrove_verdicts(documents: list[str]) -> Counter[str]:
    from datatrove.data import Document

    from modelops.corpus import steps

    thresholds = QualityThresholds()
    filters: list[steps.BaseFilter] = [
        steps.TajikGopherQuality(thresholds),
        steps.TajikGopherRepetition(thresholds),
        steps.TajikFineWebQuality(thresholds),
        steps.TajikShareFilter(thresholds),
    ]
    verdicts: Counter[str] = Counter()
    for number, text in enumerate(documents):
        document = Document(text=text, id=str(number), metadata={})
        for step in filters:
            result = step.filter(document)
            kept, reason = result if isinstance(result, tuple) else (result, None)
            if not kept:
                verdicts[str(reason)] += 1
                break
        else:
            verdicts["kept"] += 1
    return verdicts


def report(name: str, documents: list[str], out: Callable[[str], None] = print) -> None:
    from modelops.llm.langid import detect_language

    out(f"\n== {name}: {len(documents)} documents")
    if not documents:
        return
    detected = [detect_language(text) for text in documents]
    languages = Counter(language for language, _ in detected)
    out("language ID: " + ", ".join(f"{lang} {count}" for lang, count in languages.most_common(6)))
    out("tg score (when tg):        " + _percentiles([s for lang, s in detected if lang == "tg"]))
    profiles = [measures.profile(text) for text in documents]
    from modelops.corpus.steps import TajikWordTokenizer

    tokenizer = TajikWordTokenizer()
    alpha = []
    for text in documents:
        tokens = tokenizer.word_tokenize(text)
        alpha.append(sum(any(c.isalpha() for c in t) for t in tokens) / max(len(tokens), 1))
    rule = measures.RussianLetterRule()
    rescued = sum(
        rule.applies(lang, profile)
        for (lang, _), profile in zip(detected, profiles, strict=True)
        if lang != "tg"
    )
    not_tg = sum(lang != "tg" for lang, _ in detected)
    out(f"Russian-letter rule keeps {rescued} of {not_tg} not called tg")
    rows = [
        ("words", [float(p.words) for p in profiles]),
        ("mean word length", [p.mean_word_length for p in profiles]),
        ("stop-word share", [p.stop_word_share for p in profiles]),
        ("stop words, Russian letters", [p.tajik_stop_keys_share for p in profiles]),
        ("Russian stop-word share", [p.russian_stop_share for p in profiles]),
        ("words with ц щ ы ь", [p.russian_letter_words for p in profiles]),
        ("words with ғ ӣ қ ӯ ҳ ҷ", [p.tajik_letter_words for p in profiles]),
        ("alphabetic word share", alpha),
        ("digit share", [p.digit_share for p in profiles]),
        ("symbol share", [p.symbol_share for p in profiles]),
    ]
    for label, values in rows:
        out(f"{label:<28} {_percentiles(values)}")
    verdicts = _datatrove_verdicts(documents)
    out("quality rules: " + ", ".join(f"{key} {value}" for key, value in verdicts.most_common()))


def main(argv: list[str]) -> int:
    pages = textbook_pages()
    extra = [Path(arg) for arg in argv]
    groups = [
        ("tajik-textbooks", pages),
        ("tajik-russian-letters", russified(pages)),
        ("tajik-catalogs", catalog_documents(_django_catalogs("tg") + extra)),
        ("russian", catalog_documents(_django_catalogs("ru"))),
        ("english", english_documents()),
        ("tajik-word-lists", word_list_documents()),
    ]
    for name, documents in groups:
        report(name, documents)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
