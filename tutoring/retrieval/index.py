"""Index shards: one per textbook edition, so adding or replacing a book rebuilds only it.

A shard is a directory with a BM25 index (``lexical/``), optionally a FAISS index of the
passages' vectors (``dense/``), and ``shard.json`` naming the encoder. It is written to a
temporary directory beside its place and renamed into it, so a reader never sees half of
one. Searching several shards merges their lexical hits by BM25 score and their dense hits
by cosine similarity, then fuses the two rankings by reciprocal rank.
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from tutoring.retrieval.fusion import reciprocal_rank_fusion
from tutoring.retrieval.types import Hit

NO_ENCODER = "none"
# The dense list only breaks near-ties and fills in after the lexical hits: on the tuning
# part of the labelled Tajik set any dense weight from 0.05 up (BM25 at 2) lowered hit@1
# (0.878 -> 0.795 at 0.05, 0.635 at 0.5, 0.609 at 1), and 0.02 changed nothing
# (docs/retrieval.md). It still finds passages for a query that shares no word with them.
FUSION_WEIGHTS = (2.0, 0.02)
# Each list contributes this many candidates per shard before fusion.
CANDIDATES = 50


def indexed_text(heading_path: Sequence[str], text: str) -> str:
    """What is indexed for a passage: its heading path, then its text (headings carry the
    topic words a question uses, e.g. "Исмоили Сомонӣ")."""
    headings = " › ".join(heading for heading in heading_path if heading)
    return f"{headings}\n\n{text}" if headings else text


@lru_cache(maxsize=4)
def encoder_for(spec: str) -> Any:
    """One encoder per process and spec (models are loaded once)."""
    from tutoring.retrieval.dense import encoder_from_spec

    return encoder_from_spec(spec)


# Encoding a query is most of a search's time (the Universal Sentence Encoder: tens of ms of
# CPU), and students of one class search the same words; the last few thousand queries' vectors
# are kept per process (512 floats, 2 KB each: 8 MB at most). benchmarks/load.py measures it.
QUERY_CACHE_SIZE = 4096


@lru_cache(maxsize=QUERY_CACHE_SIZE)
def query_embedding(encoder_name: str, query: str) -> Any:
    """The query's unit vector under ``encoder_name`` (cached per process; read-only)."""
    vector = encoder_for(encoder_name).encode([query], is_query=True)[0]
    vector.setflags(write=False)  # shared between requests: nobody may change it
    return vector


def build_shard(
    directory: Path,
    ids: Sequence[int],
    texts: Sequence[str],
    *,
    encoder_name: str = NO_ENCODER,
    progress: Callable[[float], None] | None = None,
) -> str:
    """Write the shard for ``texts`` (under the caller's ``ids``) to ``directory``.
    Returns the encoder used."""
    from tutoring.retrieval.lexical import LexicalIndex

    report = progress or (lambda fraction: None)
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    partial = directory.with_name(f".{directory.name}.{uuid.uuid4().hex}.partial")
    try:
        LexicalIndex.build(list(texts), list(ids)).save(partial / "lexical")
        report(0.2)
        if encoder_name != NO_ENCODER:
            from tutoring.retrieval.dense import DenseIndex

            encoder = encoder_for(encoder_name)
            vectors = []
            batch = 32
            for start in range(0, len(texts), batch):
                vectors.append(encoder.encode(list(texts[start : start + batch]), is_query=False))
                report(0.2 + 0.75 * min(1.0, (start + batch) / max(1, len(texts))))
            import numpy as np

            DenseIndex.build(np.vstack(vectors), list(ids)).save(partial / "dense")
        (partial / "shard.json").write_text(
            json.dumps({"format": 1, "encoder": encoder_name, "count": len(texts)})
        )
        if directory.exists():
            shutil.rmtree(directory)
        partial.rename(directory)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    report(1.0)
    forget_shard(directory)
    return encoder_name


@dataclass
class Shard:
    lexical: Any
    dense: Any | None
    encoder: str


_LOCK = threading.Lock()
# Bounded, least recently used first out: replaced editions are dropped from the cache by the
# process that replaces them; other processes forget them here, or when their files go.
_MAX_SHARDS = 256
_SHARDS: OrderedDict[Path, Shard] = OrderedDict()


def load_shard(directory: Path) -> Shard | None:
    """The shard at ``directory`` (cached per process), or None if it is not there."""
    directory = Path(directory).resolve()
    meta_path = directory / "shard.json"
    if not meta_path.is_file():
        forget_shard(directory)
        return None
    with _LOCK:
        if directory in _SHARDS:
            _SHARDS.move_to_end(directory)
            return _SHARDS[directory]
    from tutoring.retrieval.lexical import LexicalIndex

    meta = json.loads(meta_path.read_text())
    dense = None
    if (directory / "dense").is_dir():
        from tutoring.retrieval.dense import DenseIndex

        dense = DenseIndex.load(directory / "dense")
    shard = Shard(
        lexical=LexicalIndex.load(directory / "lexical"),
        dense=dense,
        encoder=meta.get("encoder", NO_ENCODER),
    )
    with _LOCK:
        _SHARDS[directory] = shard
        while len(_SHARDS) > _MAX_SHARDS:
            _SHARDS.popitem(last=False)
    return shard


def forget_shard(directory: Path) -> None:
    with _LOCK:
        _SHARDS.pop(Path(directory).resolve(), None)


def search_shards(
    directories: Sequence[Path], query: str, *, encoder_name: str = NO_ENCODER, limit: int = 10
) -> list[Hit]:
    """Hybrid search over several shards: best ``limit`` passages, fused."""
    shards = [shard for shard in map(load_shard, directories) if shard is not None]
    lexical: list[Hit] = []
    for shard in shards:
        lexical.extend(shard.lexical.search(query, CANDIDATES))
    lexical.sort(key=lambda hit: -hit.score)
    rankings = [lexical[:CANDIDATES]]
    dense_shards = [s for s in shards if s.dense is not None and s.encoder == encoder_name]
    if encoder_name != NO_ENCODER and dense_shards:
        query_vector = query_embedding(encoder_name, query)
        dense: list[Hit] = []
        for shard in dense_shards:
            assert shard.dense is not None
            dense.extend(shard.dense.search(query_vector, CANDIDATES))
        dense.sort(key=lambda hit: -hit.score)
        rankings.append(dense[:CANDIDATES])
    if len(rankings) == 1:
        return rankings[0][:limit]
    return reciprocal_rank_fusion(rankings, limit=limit, weights=FUSION_WEIGHTS)
