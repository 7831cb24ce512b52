"""Tajik text normalisation shared by indexing and querying.

:func:`normalize_tajik` makes the many ways one Tajik word reaches us (typed on a Russian
keyboard, pasted from a PDF, OCR'd from a scan) into one string: Unicode NFC, no invisible
characters, words broken at line ends joined again, whitespace collapsed, Latin letters
that look Cyrillic mapped to Cyrillic, and Russian letters typed for the Tajik ones
(х for ҳ, ч for ҷ, к for қ, г for ғ, у for ӯ, и for ӣ) corrected where a lexicon of Tajik
word forms says which word was meant. :func:`tokenize_tajik` turns the result into the
words of the lexical index.

The lexicon is ``lexicon.txt`` next to this module, built from the demo textbooks and the
demo curriculum; rebuild it after they change with
``python -m tutoring.retrieval.normalize build-lexicon``.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path

LEXICON_PATH = Path(__file__).with_name("lexicon.txt")

# Russian letter typed for the Tajik one (a Russian keyboard has no ҳ ҷ қ ғ ӯ ӣ).
_TAJIK_FOR_RUSSIAN = {"х": "ҳ", "ч": "ҷ", "к": "қ", "г": "ғ", "у": "ӯ", "и": "ӣ"}
_RUSSIAN_FOR_TAJIK = {tajik: russian for russian, tajik in _TAJIK_FOR_RUSSIAN.items()}
_RUSSIFY = str.maketrans(_RUSSIAN_FOR_TAJIK)

# Latin letters that are drawn like a Cyrillic letter in ordinary fonts. Only these are
# mapped, and only inside a word that also has Cyrillic letters: "CO" in "CO₂" stays Latin.
_CYRILLIC_FOR_LATIN = {
    "a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у", "k": "к",
    "ë": "ё", "ī": "ӣ", "ū": "ӯ",
    "A": "А", "B": "В", "C": "С", "E": "Е", "H": "Н", "K": "К", "M": "М", "O": "О",
    "P": "Р", "T": "Т", "X": "Х", "Y": "У", "Ë": "Ё", "Ī": "Ӣ", "Ū": "Ӯ",
}  # fmt: skip
_FROM_LATIN = str.maketrans(_CYRILLIC_FOR_LATIN)

# Letters of the Tajik alphabet; a word with any other Cyrillic letter (ц щ ы ь) is
# Russian and never enters the lexicon.
TAJIK_ALPHABET = frozenset("абвгғдеёжзиӣйкқлмнопрстуӯфхҳчҷшъэюя")

_STOP_WORDS_TEXT = """
    ва дар ба аз ки бо он ин як ҳам то барои чун чӣ ё на мебошад аст буд шуд
    низ ҳар агар аммо вале зеро пас худ онҳо инҳо мо шумо ман ту ӯ вай онро инро
    ҳамин ҳамон бе сӯи рӯи назди баъд пеш лекин балки ҳатто танҳо бошад буда шуда
    мешавад мекунад намояд дорад ҳаст нест бар
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())

_SOFT_HYPHEN = "\u00ad"
# Characters that end a line, mapped to "\n"; U+2029 (paragraph separator) and form feed
# (a page break in plain text) end a paragraph.
_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x1c\x1d\x1e\x85\u2028]")
_PARAGRAPH_BREAKS = re.compile(r"[\x0c\u2029]")
_LETTER = r"[^\W\d_]"
# A word as the mappings see it: letters, with any combining marks that follow them, so
# that composing (NFC) after a letter changes never moves a word boundary.
_MARKS = "\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_WORD = re.compile(rf"(?:{_LETTER}|[{_MARKS}])+")
# A hyphen (ASCII, U+2010 or U+2011) at the end of a line between two words.
_HYPHEN_AT_LINE_END = r"[-\u2010\u2011][ \t]*\n[ \t]*"
_LINE_END_HYPHEN = re.compile(
    rf"({_LETTER}+){_HYPHEN_AT_LINE_END}({_LETTER}+)|([^\s]){_HYPHEN_AT_LINE_END}(?=\S)"
)
_TOKEN = re.compile(r"[^\W_]+")


def _is_invisible(char: str) -> bool:
    """Format characters (zero-width space/joiners, word joiner, BOM, bidi controls, soft
    hyphen), control characters other than a line break, and variation selectors."""
    if char == "\n":
        return False
    category = unicodedata.category(char)
    if category in ("Cf", "Cc"):
        return True
    code = ord(char)
    return code == 0x034F or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF


@cache
def _invisible_pattern() -> re.Pattern[str]:
    """One character class of every invisible character but the soft hyphen (handled
    apart), as ranges; built once, in about a second."""
    ranges: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if char == _SOFT_HYPHEN or not _is_invisible(char):
            continue
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    parts = [
        re.escape(chr(start)) + ("" if start == end else "-" + re.escape(chr(end)))
        for start, end in ranges
    ]
    return re.compile("[" + "".join(parts) + "]")


def _is_cyrillic(char: str) -> bool:
    return "\u0400" <= char <= "\u052f" or "\u1c80" <= char <= "\u1c8f"


def _russify(word: str) -> str:
    """The word as typed on a Russian keyboard: the key under which the lexicon files it."""
    return word.translate(_RUSSIFY)


class Lexicon:
    """Known Tajik word forms (lowercase) with their frequencies in the source texts."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self.counts: dict[str, int] = dict(counts)
        by_key: dict[str, list[str]] = {}
        for word in self.counts:
            by_key.setdefault(_russify(word), []).append(word)
        self._by_key = {
            key: tuple(sorted(words, key=lambda w: (-self.counts[w], w)))
            for key, words in by_key.items()
        }

    def __contains__(self, word: object) -> bool:
        return word in self.counts

    def __len__(self) -> int:
        return len(self.counts)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Lexicon:
        """Count the Tajik word forms of ``texts`` (normalised without a lexicon)."""
        counts: Counter[str] = Counter()
        for text in texts:
            normal = normalize_tajik(text, lexicon=EMPTY_LEXICON).lower()
            counts.update(
                word
                for word in _TOKEN.findall(normal)
                if all(char in TAJIK_ALPHABET for char in word)
            )
        return cls(counts)

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        counts: dict[str, int] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line or line.startswith("#"):
                continue
            word, _, count = line.partition("\t")
            counts[word] = int(count or 1)
        return cls(counts)

    def save(self, path: Path, *, header: str = "") -> None:
        lines = [f"# {line}" for line in header.splitlines()]
        lines += [
            f"{word}\t{count}"
            for word, count in sorted(self.counts.items(), key=lambda item: item[0])
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def tajik_form(self, word: str) -> str | None:
        """The Tajik word that ``word`` (lowercase, not itself in the lexicon) was meant to
        be when some of its Russian letters stand for Tajik ones, or None.

        A lexicon word reachable by replacing letters wins (the most frequent; none when
        two tie), except that a final "и" after a known stem stays the ezafe ("шарқи" is
        шарқ + и, not шарқӣ). Failing that, a known stem plus a Tajik ending ("хукуматхо"
        → ҳукумат + ҳо); an ending written correctly is kept as written.
        """
        whole = self._reachable(word)
        if word.endswith("и") and len(word) > 3:
            stem = self._known_stem(word[:-1])
            if stem is not None and (whole is None or whole.endswith("ӣ")):
                return stem + "и" if stem + "и" != word else None
        if whole is not None:
            return whole
        for length in range(min(len(word) - 3, _LONGEST_SUFFIX), 0, -1):
            written = word[-length:]
            suffixes = _SUFFIXES_BY_KEY.get(_russify(written))
            if not suffixes:
                continue
            stem = self._known_stem(word[:-length])
            if stem is None:
                continue
            if written in suffixes:
                suffix: str | None = written
            else:
                suffix = next((s for s in suffixes if _reaches(written, s)), None)
            if suffix is not None and stem + suffix != word:
                return stem + suffix
        # The plural ending is Tajik whatever the stem: "элементхои" → "элементҳои".
        plural = _PLURAL.search(word)
        if plural is not None and plural.start() >= 3:
            return word[: plural.start()] + "ҳ" + word[plural.start() + 1 :]
        return None

    def _known_stem(self, stem: str) -> str | None:
        """A stem to which an ending is added; a final ӣ is written и before an ending
        ("тоҷикӣ" + "ро" → "тоҷикиро")."""
        known = stem if stem in self.counts else self._reachable(stem)
        if known is not None and known.endswith("ӣ"):
            return known[:-1] + "и"
        return known

    def _reachable(self, word: str) -> str | None:
        candidates = [
            candidate
            for candidate in self._by_key.get(_russify(word), ())
            if candidate != word and _reaches(word, candidate)
        ]
        if not candidates:
            return None
        if len(candidates) > 1 and self.counts[candidates[0]] == self.counts[candidates[1]]:
            return None
        return candidates[0]


def _reaches(written: str, tajik: str) -> bool:
    """Whether ``tajik`` is ``written`` with some Russian letters made Tajik."""
    return len(written) == len(tajik) and all(
        ours == theirs or _TAJIK_FOR_RUSSIAN.get(ours) == theirs
        for ours, theirs in zip(written, tajik, strict=True)
    )


# Noun and adjective endings (plural, ezafe, object marker, possessive, comparative) that
# a known stem may carry in a text although the lexicon only saw the stem.
_SUFFIXES_TEXT = (
    "ҳо ҳои ҳоро ҳое ҳоеро ҳоям ҳоят ҳояш ҳоямон ҳоятон ҳояшон ҳояшро ҳоятонро ҳоямонро "
    "и ӣ ии иро ие ро он они онро ён ёни гон гони вон ам ат аш амон атон ашон ашро ю у ву "
    "тар тари тарин тарини гӣ гии"
)
_SUFFIXES = _SUFFIXES_TEXT.split()
_SUFFIXES_BY_KEY: dict[str, tuple[str, ...]] = {}
for _suffix in _SUFFIXES:
    _SUFFIXES_BY_KEY[_russify(_suffix)] = (*_SUFFIXES_BY_KEY.get(_russify(_suffix), ()), _suffix)
_LONGEST_SUFFIX = max(map(len, _SUFFIXES))
_PLURAL = re.compile(r"хо(?:и|ро|е|еро|я[мтш]|я[мтш]он)?\Z")


EMPTY_LEXICON = Lexicon({})


@cache
def default_lexicon() -> Lexicon:
    """The packaged lexicon (empty, with a warning-free fallback, if the file is absent)."""
    if not LEXICON_PATH.is_file():
        return EMPTY_LEXICON
    return Lexicon.load(LEXICON_PATH)


def _fix_word(word: str, lexicon: Lexicon) -> str:
    letters = [char for char in word if char.isalpha()]
    if not any(_is_cyrillic(char) for char in letters):
        return word
    if not all(_is_cyrillic(char) for char in letters):
        if not all(_is_cyrillic(char) or char in _CYRILLIC_FOR_LATIN for char in letters):
            return word  # a mixed word that is not a look-alike typo ("HTMLфайл")
        word = unicodedata.normalize("NFC", word.translate(_FROM_LATIN))
    lower = word.lower()
    if len(lower) != len(word) or lower in lexicon or not lexicon.counts:
        return word
    tajik = lexicon.tajik_form(lower)
    if tajik is None:
        return word
    fixed = "".join(
        new.upper() if old.isupper() else new for old, new in zip(word, tajik, strict=True)
    )
    return unicodedata.normalize("NFC", fixed)


def _join_line_end_hyphen(match: re.Match[str], lexicon: Lexicon) -> str:
    left, right, other = match.group(1), match.group(2), match.group(3)
    if left is None:  # a number range or similar broken after its hyphen: keep the hyphen
        return f"{other}-"
    joined = left + right
    if joined.lower() in lexicon:
        return joined
    if left.lower() in lexicon and right.lower() in lexicon:
        return f"{left}-{right}"  # two known words: a compound ("миллию-ҳудудӣ")
    # A word broken by typesetting continues in lowercase; "Осиёи-\nМиёна" is a compound.
    return joined if right[0].islower() else f"{left}-{right}"


def _collapse_whitespace(text: str, *, keep_paragraphs: bool) -> str:
    text = re.sub(r"[^\S\n]+", " ", text)
    if keep_paragraphs:
        text = re.sub(r" *\n[ \n]*", lambda m: "\n\n" if m.group().count("\n") > 1 else " ", text)
        text = re.sub(r" {2,}", " ", text)
        return text.strip()
    return re.sub(r"\s+", " ", text).strip()


def normalize_tajik(
    text: str, *, keep_paragraphs: bool = False, lexicon: Lexicon | None = None
) -> str:
    """Normalise Tajik text for indexing, querying and display.

    Unicode NFC; soft hyphens, zero-width and other invisible characters removed; words
    hyphenated at line ends joined; whitespace collapsed to single spaces (paragraph breaks
    kept as "\\n\\n" when ``keep_paragraphs``); Latin look-alike letters inside Cyrillic
    words made Cyrillic; Russian letters typed for Tajik ones corrected when the corrected
    word is in ``lexicon`` (default: the packaged one) and the word as written is not.
    Idempotent: normalising twice gives what normalising once gave.
    """
    if lexicon is None:
        lexicon = default_lexicon()
    text = _LINE_BREAKS.sub("\n", text)
    text = _PARAGRAPH_BREAKS.sub("\n\n", text)
    text = re.sub(r"[^\S\n]", " ", text)
    text = _invisible_pattern().sub("", text)
    # A soft hyphen at a line end marks where a word was broken: join it.
    text = re.sub(r"\u00ad *\n *", "", text).replace(_SOFT_HYPHEN, "")
    text = unicodedata.normalize("NFC", text)
    text = _LINE_END_HYPHEN.sub(lambda match: _join_line_end_hyphen(match, lexicon), text)
    text = _collapse_whitespace(text, keep_paragraphs=keep_paragraphs)
    text = _WORD.sub(lambda match: _fix_word(match.group(), lexicon), text)
    return unicodedata.normalize("NFC", text)


def tokenize_tajik(
    text: str, *, lexicon: Lexicon | None = None, keep_stop_words: bool = False
) -> list[str]:
    """The words of ``text`` for the lexical index: normalised, lowercased, split into runs
    of letters and digits, without stop words (unless ``keep_stop_words``)."""
    normal = normalize_tajik(text, lexicon=lexicon).lower()
    tokens = _TOKEN.findall(normal)
    return tokens if keep_stop_words else [token for token in tokens if token not in STOP_WORDS]


# --- building the packaged lexicon ---------------------------------------------------


def _curriculum_texts(data: object) -> Iterator[str]:
    """Tajik strings of the curriculum YAML: every string value except ``*_ru``/``*_en``
    translations and codes."""
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and (key.endswith(("_ru", "_en")) or key == "code"):
                continue
            yield from _curriculum_texts(value)
    elif isinstance(data, list):
        for item in data:
            yield from _curriculum_texts(item)
    elif isinstance(data, str):
        yield data


def demo_sources(root: Path) -> list[Path]:
    """The files the packaged lexicon is built from, relative to the project ``root``."""
    textbooks = sorted((root / "tutoring" / "data" / "textbooks").glob("*.md"))
    return [*textbooks, root / "soro_web" / "curriculum" / "data" / "demo_curriculum.yaml"]


def build_lexicon(sources: Iterable[Path]) -> Lexicon:
    """A lexicon from Markdown/text files and curriculum YAML files."""
    import yaml

    texts: list[str] = []
    for path in sources:
        content = path.read_text(encoding="utf-8")
        if path.suffix in (".yaml", ".yml"):
            texts.extend(_curriculum_texts(yaml.safe_load(content)))
        else:
            # Markdown: the front matter's keys and HTML comments are not Tajik words.
            content = re.sub(r"\A---\n.*?\n---\n", "", content, flags=re.DOTALL)
            texts.append(re.sub(r"<!--.*?-->", " ", content, flags=re.DOTALL))
    return Lexicon.from_texts(texts)


def main(argv: list[str]) -> int:
    if argv[:1] != ["build-lexicon"]:
        print("usage: python -m tutoring.retrieval.normalize build-lexicon", file=sys.stderr)
        return 2
    root = Path(__file__).resolve().parents[2]
    sources = demo_sources(root)
    lexicon = build_lexicon(sources)
    header = (
        "Tajik word forms (lowercase) and their counts, built by\n"
        "`python -m tutoring.retrieval.normalize build-lexicon` from:\n"
        + "\n".join(str(path.relative_to(root)) for path in sources)
    )
    lexicon.save(LEXICON_PATH, header=header)
    print(f"{len(lexicon)} word forms written to {LEXICON_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
