"""Multiple-choice scoring by log-likelihood, with lm-evaluation-harness's definitions.

For an item with prompt ``context`` and choices ``c_i``, each request is
``(context, " " + c_i)`` (lm-eval's ``target_delimiter`` is one space). The pair is encoded
as lm-eval's ``HFLM._encode_pair`` does: trailing whitespace of the context moves to the
continuation, the context and the whole string are encoded (with BOS, as lm-eval does for
Gemma), and the continuation's tokens are the whole encoding's tail past the context's
length. The score of a choice is the sum of the log-probabilities of those tokens.

``acc`` picks the argmax of the sums; ``acc_norm`` the argmax of ``sum / len(c_i)``, where
``len`` counts the CHARACTERS of the choice string as ``doc_to_choice`` returns it, without
the leading space (lm_eval/api/task.py:
``completion_len = np.array([float(len(i)) for i in choices])``). Characters, not bytes:
a Cyrillic letter is one character and two UTF-8 bytes. Ties go to the first choice, as
``np.argmax`` does.

Speed: the requests of a batch go through the model as one tree of tokens, so the prompt
that all choices of an item share (and few-shot examples that all items share) is computed
once; a custom attention mask lets each token see only the earlier tokens of its own
sequence, at its own position, so every log-probability is the one a separate forward pass
gives (up to float rounding). Log-probabilities are computed only at the positions that
predict a continuation token, each position once, as the target logit minus the
log-sum-exp over the vocabulary, from the final hidden states (the full
``[batch, length, vocabulary]`` logits are never built).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from modelops.evaluation.benchmarks import BenchmarkItem

QUESTION_LABEL = "Савол"
ANSWER_LABEL = "Ҷавоб"
TARGET_DELIMITER = " "
FEWSHOT_DELIMITER = "\n\n"


def build_prompt(
    item: BenchmarkItem,
    examples: Sequence[BenchmarkItem] = (),
    *,
    description: str = "",
) -> str:
    """The Tajik cloze prompt for ``item``, after K solved ``examples``::

        Савол: <example question>
        Ҷавоб: <its correct choice>

        Савол: <question>
        Ҷавоб:

    The choice is scored as the continuation ``" " + choice``, so the prompt ends at the colon.
    """
    shots = [
        f"{QUESTION_LABEL}: {example.question}\n{ANSWER_LABEL}:"
        f"{TARGET_DELIMITER}{example.choices[example.answer]}"
        for example in examples
    ]
    body = FEWSHOT_DELIMITER.join([*shots, f"{QUESTION_LABEL}: {item.question}\n{ANSWER_LABEL}:"])
    return f"{description}{body}" if description else body


def _token_ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode_pair(
    tokenizer: Any,
    context: str,
    continuation: str,
    *,
    add_bos: bool = True,
    context_cache: dict[str, list[int]] | None = None,
) -> tuple[list[int], list[int]]:
    """``(context_ids, continuation_ids)`` exactly as lm-eval's ``_encode_pair``.

    ``context_cache`` keeps the context's encoding between the choices of one prompt."""
    bos = [tokenizer.bos_token_id] if add_bos and tokenizer.bos_token_id is not None else []
    if context == "":
        # lm-eval scores an empty context against the prefix token alone.
        return bos, _token_ids(tokenizer, continuation)
    spaces = len(context) - len(context.rstrip())
    if spaces:
        continuation = context[-spaces:] + continuation
        context = context[:-spaces]
    whole = bos + _token_ids(tokenizer, context + continuation)
    if context_cache is None:
        context_ids = bos + _token_ids(tokenizer, context)
    else:
        if context not in context_cache:
            context_cache[context] = bos + _token_ids(tokenizer, context)
        context_ids = context_cache[context]
    return context_ids, whole[len(context_ids) :]


@dataclass(frozen=True)
class LogLikelihood:
    total: float  # sum of the continuation tokens' log-probabilities
    token_count: int
    is_greedy: bool  # every continuation token is the model's argmax


def _continuation_logprobs(
    model: Any,
    hidden: torch.Tensor,
    targets: torch.Tensor,
    chunk: int,
    rows: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities of ``targets`` and whether each is the argmax, from the final
    hidden states at the positions that predict them (``hidden[rows[i]]`` predicts
    ``targets[i]``; one row may predict several targets). The vocabulary-wide work is done
    once per row, a ``chunk`` of rows at a time."""
    head = model.get_output_embeddings()
    softcap = getattr(model.config, "final_logit_softcapping", None)
    if rows is None:
        rows = torch.arange(targets.shape[0], device=targets.device)
    logprobs = torch.empty(targets.shape[0], dtype=torch.float32, device=targets.device)
    greedy = torch.empty(targets.shape[0], dtype=torch.bool, device=targets.device)
    for start in range(0, hidden.shape[0], chunk):
        logits = head(hidden[start : start + chunk]).float()
        if softcap:
            logits = torch.tanh(logits / softcap) * softcap
        here = ((rows >= start) & (rows < start + logits.shape[0])).nonzero().squeeze(1)
        local, target = rows[here] - start, targets[here]
        normalizer = torch.logsumexp(logits, dim=-1)
        logprobs[here] = logits[local, target] - normalizer[local]
        greedy[here] = logits.argmax(dim=-1)[local] == target
    return logprobs, greedy


@dataclass
class _TokenTree:
    """Token sequences merged on their common prefixes: one node per distinct prefix.

    A node's logits depend only on the tokens of its prefix, so all choices of a prompt
    (and every prompt with the same few-shot examples) share the work on their common
    tokens. Nodes are numbered so that a parent precedes its children."""

    tokens: list[int]
    parents: list[int]
    depths: list[int]
    # For each sequence, the nodes whose logits predict its continuation tokens.
    predictors: list[list[int]]

    @classmethod
    def of(cls, sequences: Sequence[tuple[list[int], int]]) -> _TokenTree:
        tree = cls(tokens=[], parents=[], depths=[], predictors=[])
        children: dict[tuple[int, int], int] = {}
        for tokens, continuation_length in sequences:
            node, path = -1, []
            # The last token is only predicted, never fed to the model.
            for token in tokens[:-1]:
                child = children.get((node, token))
                if child is None:
                    child = children[(node, token)] = len(tree.tokens)
                    tree.tokens.append(token)
                    tree.parents.append(node)
                    tree.depths.append(tree.depths[node] + 1 if node >= 0 else 0)
                node = child
                path.append(node)
            tree.predictors.append(path[len(path) - continuation_length :])
        return tree

    def attention_mask(self, sliding_window: int | None) -> torch.Tensor:
        """``[nodes, nodes]``: a node attends to itself and its ancestors, the tokens
        before it in its own sequence, and within ``sliding_window`` positions if given."""
        size = len(self.tokens)
        visible = torch.zeros((size, size), dtype=torch.bool)
        for node, parent in enumerate(self.parents):
            if parent >= 0:
                visible[node] = visible[parent]
            visible[node, node] = True
        if sliding_window is not None:
            depths = torch.tensor(self.depths)
            visible &= (depths[:, None] - depths[None, :]) < sliding_window
        return visible


def _tree_attention_mask(model: Any, tree: _TokenTree) -> torch.Tensor | dict[str, torch.Tensor]:
    """The 4D mask the model's attention layers take for ``tree``: boolean for sdpa,
    additive for eager, and one per layer type when the sliding-window layers see less."""
    config = model.config
    window = getattr(config, "sliding_window", None)
    layer_types = set(getattr(config, "layer_types", None) or ())
    if layer_types and "sliding_attention" not in layer_types:
        window = None
    if window is not None and max(tree.depths) < window:
        window = None  # no sequence reaches past the window: every layer sees all of it
    if window is not None and len(layer_types) > 1:
        masks = {
            kind: tree.attention_mask(window if kind == "sliding_attention" else None)
            for kind in layer_types
        }
    else:
        masks = {"": tree.attention_mask(window)}
    parameter = next(model.parameters())
    if config._attn_implementation == "eager":
        masks = {
            kind: torch.zeros(mask.shape, dtype=parameter.dtype).masked_fill(
                ~mask, torch.finfo(parameter.dtype).min
            )
            for kind, mask in masks.items()
        }
    masks = {kind: mask[None, None].to(parameter.device) for kind, mask in masks.items()}
    return masks.get("", masks)


@torch.inference_mode()
def loglikelihoods(
    model: Any,
    tokenizer: Any,
    requests: Sequence[tuple[str, str]],
    *,
    batch_size: int = 32,
    max_length: int | None = None,
    add_bos: bool = True,
    vocabulary_chunk: int = 256,
) -> list[LogLikelihood]:
    """Score ``(context, continuation)`` pairs, ``batch_size`` requests per forward pass
    through the transformer layers.

    ``max_length`` truncates from the left, as lm-eval does, keeping the last
    ``max_length + 1`` tokens of context and continuation together.

    With sdpa or eager attention, the requests of a batch go through the model as one
    token tree: their common prefixes (the prompt that all choices share, few-shot
    examples that all prompts share) are computed once, and a custom attention mask lets
    each token see only the tokens before it in its own sequence, at its own position.
    Other attention implementations take right-padded rows, one per request.
    """
    encoded: list[tuple[list[int], int]] = []  # (context + continuation, continuation length)
    context_cache: dict[str, list[int]] = {}
    for context, continuation in requests:
        context_ids, continuation_ids = encode_pair(
            tokenizer, context, continuation, add_bos=add_bos, context_cache=context_cache
        )
        if not continuation_ids:
            raise ValueError(f"the continuation {continuation!r} encodes to no tokens")
        tokens = context_ids + continuation_ids
        if max_length is not None:
            tokens = tokens[-(max_length + 1) :]
        if len(tokens) <= len(continuation_ids):
            raise ValueError(
                f"the continuation {continuation!r} has no context token to follow; "
                "score it with add_bos=True"
            )
        encoded.append((tokens, len(continuation_ids)))

    scorer = getattr(model, "score_continuations", None)
    if scorer is not None:  # a GGUF export: modelops.llm.llamacpp.GgufCausalLM
        return [
            LogLikelihood(total=total, token_count=count, is_greedy=greedy)
            for (total, greedy), (_tokens, count) in zip(scorer(encoded), encoded, strict=True)
        ]
    device = next(model.parameters()).device
    decoder = model.get_decoder()
    as_tree = model.config._attn_implementation in ("sdpa", "eager")
    # Sorted by tokens, requests with a common prefix are neighbours and share a batch.
    order = sorted(range(len(encoded)), key=lambda index: encoded[index][0])
    if not as_tree:
        order.sort(key=lambda index: -len(encoded[index][0]))
    results: list[LogLikelihood | None] = [None] * len(encoded)
    # The output layer reads its whole vocabulary-sized matrix however few positions it
    # scores, so the positions of several batches wait here and go through it together,
    # up to ``vocabulary_chunk`` at a time.
    waiting_hidden: list[torch.Tensor] = []
    waiting_rows: list[int] = []  # for each continuation token, its row in the waiting hidden
    waiting_targets: list[int] = []
    waiting_requests: list[int] = []

    def score_waiting() -> None:
        token_logprobs, token_greedy = _continuation_logprobs(
            model,
            torch.cat(waiting_hidden),
            torch.tensor(waiting_targets, device=device),
            vocabulary_chunk,
            torch.tensor(waiting_rows, device=device),
        )
        offset = 0
        for index in waiting_requests:
            count = encoded[index][1]
            results[index] = LogLikelihood(
                total=float(token_logprobs[offset : offset + count].sum()),
                token_count=count,
                is_greedy=bool(token_greedy[offset : offset + count].all()),
            )
            offset += count
        for waiting in (waiting_hidden, waiting_rows, waiting_targets, waiting_requests):
            waiting.clear()

    waiting_positions = 0
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        if as_tree:
            trees = [_TokenTree.of([encoded[index] for index in batch])]
            paths = [(0, nodes) for nodes in trees[0].predictors]
        else:
            trees = [_TokenTree.of([encoded[index]]) for index in batch]
            paths = [(row, tree.predictors[0]) for row, tree in enumerate(trees)]
        width = max(len(tree.tokens) for tree in trees)
        input_ids = torch.zeros((len(trees), width), dtype=torch.long)
        position_ids = torch.zeros((len(trees), width), dtype=torch.long)
        padding_mask = torch.zeros((len(trees), width), dtype=torch.long)
        for row, tree in enumerate(trees):
            input_ids[row, : len(tree.tokens)] = torch.tensor(tree.tokens)
            position_ids[row, : len(tree.tokens)] = torch.tensor(tree.depths)
            padding_mask[row, : len(tree.tokens)] = 1
        mask = _tree_attention_mask(model, trees[0]) if as_tree else padding_mask.to(device)
        hidden = decoder(
            input_ids=input_ids.to(device),
            position_ids=position_ids.to(device),
            attention_mask=mask,
        ).last_hidden_state
        # The positions that predict some continuation token, each once.
        predicting = sorted({(row, node) for row, nodes in paths for node in nodes})
        if waiting_positions and waiting_positions + len(predicting) > vocabulary_chunk:
            score_waiting()
            waiting_positions = 0
        slot = {position: waiting_positions + number for number, position in enumerate(predicting)}
        for (row, nodes), index in zip(paths, batch, strict=True):
            tokens, continuation_length = encoded[index]
            waiting_rows.extend(slot[(row, node)] for node in nodes)
            waiting_targets.extend(tokens[-continuation_length:])
            waiting_requests.append(index)
        waiting_hidden.append(
            hidden[
                torch.tensor([row for row, _ in predicting], device=device),
                torch.tensor([node for _, node in predicting], device=device),
            ]
        )
        waiting_positions += len(predicting)
    if waiting_requests:
        score_waiting()
    return [result for result in results if result is not None]


@dataclass(frozen=True)
class ItemScore:
    item_id: str
    answer: int
    loglikelihoods: tuple[float, ...]
    choice_lengths: tuple[int, ...]  # characters of each choice, without the leading space
    prediction: int  # argmax of the sums: lm-eval's acc
    prediction_norm: int  # argmax of sum / characters: lm-eval's acc_norm

    @property
    def is_correct(self) -> bool:
        return self.prediction == self.answer

    @property
    def is_correct_norm(self) -> bool:
        return self.prediction_norm == self.answer


def _argmax(values: Sequence[float]) -> int:
    return max(range(len(values)), key=lambda index: (values[index], -index))


def score_choices(
    item_id: str, answer: int, choices: Sequence[str], sums: Sequence[float]
) -> ItemScore:
    """acc and acc_norm predictions from the choices' log-likelihood sums."""
    lengths = tuple(len(choice) for choice in choices)
    return ItemScore(
        item_id=item_id,
        answer=answer,
        loglikelihoods=tuple(sums),
        choice_lengths=lengths,
        prediction=_argmax(sums),
        prediction_norm=_argmax(
            [total / length for total, length in zip(sums, lengths, strict=True)]
        ),
    )


def score_items(
    model: Any,
    tokenizer: Any,
    items: Sequence[BenchmarkItem],
    *,
    examples: Sequence[BenchmarkItem] = (),
    description: str = "",
    prompt: Callable[[BenchmarkItem], str] | None = None,
    batch_size: int = 32,
    max_length: int | None = None,
) -> list[ItemScore]:
    """Score every item's choices and return lm-eval's acc and acc_norm predictions.

    The prompt is :func:`build_prompt` with the K-shot ``examples`` unless ``prompt`` is given.
    """
    build = prompt or (lambda item: build_prompt(item, examples, description=description))
    requests: list[tuple[str, str]] = []
    for item in items:
        context = build(item)
        requests.extend((context, f"{TARGET_DELIMITER}{choice}") for choice in item.choices)
    scored = loglikelihoods(
        model, tokenizer, requests, batch_size=batch_size, max_length=max_length
    )
    results, offset = [], 0
    for item in items:
        sums = [result.total for result in scored[offset : offset + len(item.choices)]]
        offset += len(item.choices)
        results.append(score_choices(item.id, item.answer, item.choices, sums))
    return results
