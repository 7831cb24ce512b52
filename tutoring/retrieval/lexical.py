"""Lexical retrieval: BM25 (``bm25s``) over Tajik-aware terms, with a phrase boost.

Texts and queries go through the same ``tokenize_tajik`` (normalise, lowercase, split words,
drop stop words), so a query typed with Russian look-alike letters still finds the Tajik word;
then through an analyzer (``tutoring.retrieval.morphology``: by default a light suffix
stripper, so ``китобҳоро`` finds ``китоб``). Lexical search carries Tajik where multilingual
embedding models cannot.

Phrases: each pair of neighbouring terms is indexed too, as one more term ("исмоил сомон"):
neighbours in the text (a stop word between two words breaks the pair), and neither a
question word nor an auxiliary verb (``NO_PHRASE``: "кадом шаҳр", "сохт шуд" say nothing).
A query's pairs score by BM25 like words, times ``phrase_weight``, on top of its words'
scores, so passages with the query's words side by side ("Исмоили Сомонӣ") rank above
passages with the same words apart ("Исмоил ... 16 сомонӣ").

Index format 1 (before analyzers and phrases) still loads and is searched as it was built:
surface words, no phrases. ``manage.py build_index`` rebuilds it in the current format.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from tutoring.retrieval.morphology import DEFAULT_ANALYZER, NO_ANALYZER, Analyzer, analyzer_for
from tutoring.retrieval.types import Hit

Tokenizer = Callable[[str], list[str]]

FORMAT = 2
# Pair terms score this many times their BM25 on top of the words' scores (docs/retrieval.md).
PHRASE_WEIGHT = 1.0
# A query of at most this many words is a phrase the user typed ("Исмоили Сомонӣ"), not a
# question: its pairs weigh at least SHORT_QUERY_PHRASE_WEIGHT, so passages with the words
# side by side rank above passages with the same words apart.
SHORT_QUERY_WORDS = 3
SHORT_QUERY_PHRASE_WEIGHT = 3.0

# bm25s's defaults (Lucene's BM25 variant).
K1 = 1.5
B = 0.75


# Words that make no phrase with their neighbour (as typed or as stemmed): question words
# and auxiliary/light verbs.
_NO_PHRASE_WORDS = """
    кадом кадомҳо кадомҳоянд чанд кай куҷо куҷост кист чист чаро кӣ чиро киро чӣ гуна тавр
    қадар шуд шав кард кун буд бош дор дошт гард гардид намуд ёфт гашт дод ҳаст мегӯянд
"""
NO_PHRASE = frozenset(_NO_PHRASE_WORDS.split())


def _default_tokenizer() -> Tokenizer:
    # Imported when first needed: normalize.py is its own module with its own tests.
    from tutoring.retrieval.normalize import tokenize_tajik

    return tokenize_tajik


def _words_with_gaps(text: str) -> list[str | None]:
    """The words of ``text`` in order, a stop word replaced by None (a gap)."""
    from tutoring.retrieval.normalize import STOP_WORDS, tokenize_tajik

    return [
        None if word in STOP_WORDS else word for word in tokenize_tajik(text, keep_stop_words=True)
    ]


class LexicalIndex:
    """A BM25 index of texts under the caller's integer ids."""

    def __init__(
        self,
        model: object,
        ids: np.ndarray,
        tokenizer: Tokenizer | None = None,
        *,
        analyzer: str = NO_ANALYZER,
        phrases: bool = False,
        phrase_weight: float = PHRASE_WEIGHT,
    ) -> None:
        self.model = model
        self.ids = np.asarray(ids, dtype=np.int64)
        self._default_tokens = tokenizer is None
        self.tokenizer = tokenizer or _default_tokenizer()
        self.analyzer_name = analyzer
        self.analyze: Analyzer = analyzer_for(analyzer)
        self.phrases = phrases
        self.phrase_weight = phrase_weight
        self._position_of = {int(chunk_id): position for position, chunk_id in enumerate(ids)}

    def terms(self, text: str) -> tuple[list[str], list[str], list[str]]:
        """The words of ``text`` (as typed, normalised), their terms, and the phrase terms
        (pairs of neighbouring terms; none when the index has no phrases)."""
        if self.phrases and self._default_tokens:
            gapped = _words_with_gaps(text)
            surface = [word for word in gapped if word is not None]
        else:
            surface = self.tokenizer(text)
            gapped = list(surface)
        words = self.analyze(surface)
        pairs: list[str] = []
        if self.phrases:
            term_of = iter(words)
            sequence = [None if word is None else (word, next(term_of)) for word in gapped]
            for left, right in itertools.pairwise(sequence):
                if left is None or right is None:
                    continue
                if NO_PHRASE.intersection((*left, *right)):
                    continue
                pairs.append(f"{left[1]} {right[1]}")
        return surface, words, pairs

    @classmethod
    def build(
        cls,
        texts: Sequence[str],
        ids: Sequence[int] | np.ndarray | None = None,
        *,
        tokenizer: Tokenizer | None = None,
        analyzer: str = DEFAULT_ANALYZER,
        phrases: bool = True,
        phrase_weight: float = PHRASE_WEIGHT,
        k1: float = K1,
        b: float = B,
    ) -> LexicalIndex:
        """Index ``texts``; ``ids`` (unique) default to the positions 0..n-1."""
        import bm25s

        index = cls(
            None,
            np.zeros(0, dtype=np.int64),
            tokenizer,
            analyzer=analyzer,
            phrases=phrases,
            phrase_weight=phrase_weight,
        )
        ids_array = np.arange(len(texts)) if ids is None else np.asarray(ids, dtype=np.int64)
        if len(ids_array) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(ids_array)} ids")
        if len(np.unique(ids_array)) != len(ids_array):
            raise ValueError("ids must be unique")
        model = bm25s.BM25(k1=k1, b=b)
        # An empty document list would make bm25s fail; one empty token keeps the shapes valid.
        documents = [[*terms[1], *terms[2]] for terms in map(index.terms, texts)]
        model.index(documents or [[""]], show_progress=False)
        return cls(
            model,
            ids_array,
            tokenizer,
            analyzer=analyzer,
            phrases=phrases,
            phrase_weight=phrase_weight,
        )

    def __len__(self) -> int:
        return len(self.ids)

    def search(
        self, query: str, k: int = 10, allowed_ids: Iterable[int] | None = None
    ) -> list[Hit]:
        """The ``k`` best chunks for ``query`` (only those sharing a word with it), best first,
        optionally only among ``allowed_ids``; each hit names the query words it contains (a
        word counts when its stem is in the chunk: "китобҳо" matches "китоб")."""
        if k <= 0 or len(self) == 0:
            return []
        # Unique query terms in query order; repeats would only double a word's weight.
        surface, words, pairs = self.terms(query)
        query_tokens = list(dict.fromkeys(words))
        # A hit names the query's words as typed (normalised), not their stems.
        word_for_term: dict[str, str] = {}
        for term, word in zip(words, surface, strict=True):
            word_for_term.setdefault(term, word)
        vocabulary: dict[str, int] = self.model.vocab_dict  # type: ignore[attr-defined]
        token_ids = [vocabulary[token] for token in query_tokens if token in vocabulary]
        if not token_ids:
            return []
        scores = self.model.get_scores(token_ids)  # type: ignore[attr-defined]
        pair_ids = [vocabulary[pair] for pair in dict.fromkeys(pairs) if pair in vocabulary]
        phrase_weight = self.phrase_weight
        if phrase_weight and len(words) <= SHORT_QUERY_WORDS:
            phrase_weight = max(phrase_weight, SHORT_QUERY_PHRASE_WEIGHT)
        if pair_ids and phrase_weight:
            phrase_scores = self.model.get_scores(pair_ids)  # type: ignore[attr-defined]
            scores = scores + phrase_weight * phrase_scores
        if allowed_ids is not None:
            positions = np.fromiter(
                (
                    self._position_of[int(chunk_id)]
                    for chunk_id in allowed_ids
                    if int(chunk_id) in self._position_of
                ),
                dtype=np.int64,
            )
            candidates = positions[scores[positions] > 0]
        else:
            candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        # Best first; ties by position so results are stable across runs.
        candidates = candidates[np.lexsort((candidates, -scores[candidates]))]
        matched = self._matched_tokens(query_tokens, candidates)
        return [
            Hit(
                chunk_id=int(self.ids[position]),
                score=float(scores[position]),
                matched=tuple(word_for_term[term] for term in matched[int(position)]),
            )
            for position in candidates
        ]

    def _matched_tokens(
        self, query_tokens: list[str], positions: np.ndarray
    ) -> dict[int, tuple[str, ...]]:
        """For each position, the query tokens its document contains, in query order."""
        index = self.model.scores  # type: ignore[attr-defined]
        vocabulary: dict[str, int] = self.model.vocab_dict  # type: ignore[attr-defined]
        matched: dict[int, list[str]] = {int(position): [] for position in positions}
        for token in query_tokens:
            token_id = vocabulary.get(token)
            if token_id is None:
                continue
            postings = index["indices"][index["indptr"][token_id] : index["indptr"][token_id + 1]]
            for position in positions[np.isin(positions, postings)]:
                matched[int(position)].append(token)
        return {position: tuple(tokens) for position, tokens in matched.items()}

    def save(self, directory: str | Path) -> None:
        """Write the bm25s files and ``ids.npy`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save(str(directory / "bm25"))  # type: ignore[attr-defined]
        np.save(directory / "ids.npy", self.ids)
        meta = {
            "format": FORMAT,
            "count": len(self),
            "analyzer": self.analyzer_name,
            "phrases": self.phrases,
        }
        (directory / "lexical.json").write_text(json.dumps(meta))

    @classmethod
    def load(
        cls, directory: str | Path, *, tokenizer: Tokenizer | None = None, mmap: bool = False
    ) -> LexicalIndex:
        """Read an index written by ``save``; ``tokenizer`` must be the one it was built with.
        The analyzer and phrases are those it was built with (format 1: none, no phrases)."""
        import bm25s

        directory = Path(directory)
        meta_path = directory / "lexical.json"
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        model = bm25s.BM25.load(str(directory / "bm25"), mmap=mmap, show_progress=False)
        return cls(
            model,
            np.load(directory / "ids.npy"),
            tokenizer,
            analyzer=meta.get("analyzer", NO_ANALYZER),
            phrases=bool(meta.get("phrases", False)),
        )
