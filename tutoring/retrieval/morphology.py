"""Tajik word forms for the lexical index: a light suffix stripper, and named analyzers.

Tajik is agglutinative: one noun appears as ``китоб``, ``китобҳо`` (plural), ``китоби``
(ezafe), ``китобро`` (object), ``китобҳоямонро``; a verb as ``мекунад``, ``кардааст``.
BM25 over surface forms treats each as a different word. :func:`strip_suffixes` removes
the inflectional endings from the end of a (normalised, lowercase) word, outermost first,
for as long as a stem of at least :data:`MIN_STEM` letters is left, and the verb prefixes
``ме-``/``наме-`` in front of a personal ending. It is consistent rather than linguistic:
all forms of a word should meet in one key, even where that key is not a dictionary word
(``бухоро`` and ``бухороро`` both become ``бухо``).

``tajiknlp`` (PyPI, MIT) was measured too (docs/retrieval.md): its rule-based stemmer and
dictionary lemmatiser, through :func:`analyzer_for` (``"tajiknlp-stem"``,
``"tajiknlp-lemma"``), when the package is installed.

An analyzer turns the list of words of a text (normalised, lowercase, stop words removed)
into index terms, one per word. Its name is stored with the lexical index, so that a query
is analysed as the index was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

Analyzer = Callable[[Sequence[str]], list[str]]

NO_ANALYZER = "none"
SUFFIX_ANALYZER = "suffix"
DEFAULT_ANALYZER = SUFFIX_ANALYZER

MIN_STEM = 3

# Noun and adjective endings, stripped outermost first, each group once: the object marker
# (repeatedly: "бухороро" and "бухоро" meet); indefinite -е and ezafe -и; possessives;
# plural; the adjective/abstract -ӣ (-и before another ending); comparative. Longest first
# within a group.
_OBJECT = "ро"
_SUFFIX_GROUPS: tuple[tuple[str, ...], ...] = (
    ("йи", "е", "и"),
    ("амон", "атон", "ашон", "ямон", "ятон", "яшон", "аш", "яш"),
    ("ҳо", "гон", "вон", "ён", "он"),
    ("ӣ", "и"),
    ("тарин", "тар"),
)
# Verbs: "ме-"/"наме-" with a personal ending (мекунад, намешаванд), past plural -анд and the
# perfect -аст after the past stem (карданд, кардааст), the participle -а (карда) and the
# infinitive -ан (кардан).
_PERSONAL_ENDINGS = ("анд", "ад", "ам", "ем", "ед", "ӣ", "и")
_VERB_PREFIXES = ("наме", "ме")
_PAST_STEM_END = ("д", "т")


def _strip_verb(word: str) -> str | None:
    for prefix in _VERB_PREFIXES:
        if word.startswith(prefix):
            rest = word[len(prefix) :]
            for ending in _PERSONAL_ENDINGS:
                if rest.endswith(ending) and len(rest) - len(ending) >= MIN_STEM - 1:
                    return rest[: -len(ending)]
            if rest.endswith(_PAST_STEM_END) and len(rest) >= MIN_STEM + 1:
                return rest  # imperfect: мекард
            return None
    for ending in ("аанд", "аам", "аед", "аем", "аст", "анд", "ан", "а"):
        stem = word[: -len(ending)]
        if word.endswith(ending) and stem.endswith(_PAST_STEM_END) and len(stem) >= MIN_STEM:
            if ending == "аст" and stem.endswith("а"):
                stem = stem[:-1]
            return stem
    if word.endswith("аст") and word[:-3].endswith(("да", "та")) and len(word) >= 7:
        return word[:-4]
    return None


def strip_suffixes(word: str) -> str:
    """The stem of one lowercase Tajik word (digits and short words unchanged)."""
    if len(word) <= MIN_STEM or not word.isalpha():
        return word
    stem = word
    while stem.endswith(_OBJECT) and len(stem) - len(_OBJECT) >= MIN_STEM:
        stem = stem[: -len(_OBJECT)]
    verb = _strip_verb(stem)
    if verb is not None:
        return verb
    for group in _SUFFIX_GROUPS:
        for suffix in group:
            if stem.endswith(suffix) and len(stem) - len(suffix) >= MIN_STEM:
                stem = stem[: -len(suffix)]
                break
    # a participle under a plural: хонандагон -> хонанда -> хонанд, as хонанда itself
    if stem.endswith(("да", "та")) and len(stem) > MIN_STEM + 1:
        stem = stem[:-1]
    return stem


def suffix_analyzer(words: Sequence[str]) -> list[str]:
    return [_cached_strip(word) for word in words]


@cache
def _cached_strip(word: str) -> str:
    return strip_suffixes(word)


def identity_analyzer(words: Sequence[str]) -> list[str]:
    return list(words)


def _tajiknlp_analyzer(kind: str) -> Analyzer:
    """tajiknlp's stemmer (``stem``) or lemmatiser (``lemma``), word by word, cached."""
    method: Callable[[str], str]
    if kind == "stem":
        from tajiknlp.components.stemmers import DictStemmer

        method = DictStemmer().stem
    else:
        from tajiknlp.components.lemmatizers.dictionary import DictLemmatizer

        method = DictLemmatizer().lemmatize

    @cache
    def one(word: str) -> str:
        result = method(word)
        return str(result or word).lower()

    return lambda words: [one(word) for word in words]


@cache
def analyzer_for(name: str) -> Analyzer:
    """The analyzer called ``name``; ValueError for an unknown name."""
    if name == NO_ANALYZER:
        return identity_analyzer
    if name == SUFFIX_ANALYZER:
        return suffix_analyzer
    if name in ("tajiknlp-stem", "tajiknlp-lemma"):
        return _tajiknlp_analyzer(name.removeprefix("tajiknlp-"))
    raise ValueError(f"unknown analyzer {name!r}")
