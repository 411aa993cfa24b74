"""BERTScore (Zhang et al., 2020, "BERTScore: Evaluating Text Generation with BERT"): greedy
cosine matching of contextual token embeddings, computed with a local encoder folder and an
explicit layer, the conventions of the authors' `bert-score` package without its rescaling
baselines (none exist for our models, DESIGN.md §6):

    x_i, y_j   token embeddings of the candidate and the reference, hidden state of layer
               `num_layers` (0 = the embedding layer), L2-normalised
    P = sum_i w(x_i) max_j x_i·y_j / sum_i w(x_i)       (each candidate token's best match)
    R = sum_j w(y_j) max_i x_i·y_j / sum_j w(y_j)       (each reference token's best match)
    F = 2PR / (P + R)

The weight w is 1 per token, or its IDF over a reference corpus when `idf` is given
(Zhang et al. §3 use -log(df(t) / M) over M references; like `bert-score` we add one to both
counts, idf(t) = log((M + 1) / (df(t) + 1)), so an unseen token is finite; see `idf_table`).
[CLS] and [SEP] get weight 0 so they count nowhere, but, as in `bert-score`, they stay in the
similarity matrix as possible best matches of the other side's tokens. Texts are stripped and
truncated to the model's maximum length. A side with no weighted token scores P = R = F = 0.

One deliberate difference: `bert-score` pads a batch and masks padded similarities to 0, not
-inf, so inside a batch a best match can never be negative (max(cos, 0)), and its result then
depends on what else is in the batch. We keep the paper's plain max, which is what `bert-score`
computes with `batch_size=1`; the two differ only when a token's best cosine is negative
(seen with MiniLM for "x" against a long sentence: 2.4e-4 in R).

The family member is a `BertScorer`: `BertScorer.from_folder(path, num_layers=6)` loads once,
then `scorer(prediction, reference) -> {"bertscore_precision", "bertscore_recall",
"bertscore_f1"}` like every generation metric; `scorer.score_batch` pads and batches.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from knowledge.errors import ModelNotFoundError

from .text import f_measure

# Tokenizers without a recorded limit report a huge sentinel; trust the position table then.
_NO_LIMIT = 1_000_000


def greedy_match(cand: torch.Tensor, ref: torch.Tensor,
                 cand_weights: torch.Tensor, ref_weights: torch.Tensor) -> tuple[float, float, float]:
    """P, R, F of candidate embeddings (m, d) against reference embeddings (n, d), with
    per-token weights (m,) and (n,). Embeddings need not be normalised."""
    cand = torch.nn.functional.normalize(cand.double(), dim=-1)
    ref = torch.nn.functional.normalize(ref.double(), dim=-1)
    sim = cand @ ref.T  # (m, n) cosine similarities
    cand_w, ref_w = cand_weights.double(), ref_weights.double()
    if cand_w.sum() <= 0 or ref_w.sum() <= 0:
        return 0.0, 0.0, 0.0
    precision = float((sim.max(dim=1).values * cand_w).sum() / cand_w.sum())
    recall = float((sim.max(dim=0).values * ref_w).sum() / ref_w.sum())
    return precision, recall, f_measure(precision, recall)


@dataclass(frozen=True)
class IdfTable:
    """Token id -> IDF weight; ids never seen in the corpus get `unseen` = log(M + 1)."""

    by_id: Mapping[int, float]
    unseen: float

    def __getitem__(self, token_id: int) -> float:
        return self.by_id.get(token_id, self.unseen)


def idf_table(references: Sequence[str], tokenizer: Any) -> IdfTable:
    """IDF of every token id over `references` (document frequency: a token repeated in one
    reference counts once). Special tokens occur in every text, so their IDF is log(1) = 0."""
    df: Counter[int] = Counter()
    for text in references:
        df.update(set(_encode(tokenizer, [text], _max_length(tokenizer, None))[0]))
    m = len(references)
    return IdfTable({tid: math.log((m + 1) / (c + 1)) for tid, c in df.items()}, math.log(m + 1))


def _max_length(tokenizer: Any, model: Any | None) -> int:
    limit = int(getattr(tokenizer, "model_max_length", _NO_LIMIT) or _NO_LIMIT)
    if limit >= _NO_LIMIT and model is not None:
        limit = int(model.config.max_position_embeddings)
    return min(limit, _NO_LIMIT)


def _encode(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
    return tokenizer([t.strip() for t in texts], add_special_tokens=True, truncation=True,
                     max_length=max_length)["input_ids"]


def transformer_dir(folder: Path) -> Path:
    """The folder holding the transformer of a sentence-transformers model (its modules.json
    names it; usually the folder itself), or `folder` for a plain transformers model."""
    modules = folder / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text()):
            if module.get("type", "").endswith("models.Transformer"):
                return folder / module.get("path", "")
    return folder


class BertScorer:
    """A loaded encoder + tokenizer and the layer to read; callable as a generation metric."""

    def __init__(self, model: Any, tokenizer: Any, num_layers: int, *, idf: IdfTable | None = None,
                 batch_size: int = 32, device: str = "cpu") -> None:
        depth = int(model.config.num_hidden_layers)
        if not 0 <= num_layers <= depth:
            raise ValueError(f"num_layers={num_layers} is outside this model's 0..{depth} layers; "
                             f"pick a layer in that range (the last, {depth}, if unsure)")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        self.model, self.tokenizer = model.to(device).eval(), tokenizer
        self.num_layers, self.idf, self.batch_size, self.device = num_layers, idf, batch_size, device
        self.max_length = _max_length(tokenizer, model)
        self._zero_ids = {tokenizer.cls_token_id, tokenizer.sep_token_id} - {None}

    @classmethod
    def from_folder(cls, folder: str | Path, num_layers: int, **kwargs: Any) -> "BertScorer":
        """Load a local transformers or sentence-transformers folder, never the network."""
        from transformers import AutoModel, AutoTokenizer

        path = Path(folder).expanduser()
        if not path.is_dir():
            raise ModelNotFoundError(f"BERTScore model folder {path} does not exist; run "
                                     "`cairn models pull minilm` (or mpnet) or pass a local model folder")
        inner = transformer_dir(path)
        model = AutoModel.from_pretrained(inner, local_files_only=True, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(inner, local_files_only=True)
        return cls(model, tokenizer, num_layers, **kwargs)

    def _weights(self, ids: list[int]) -> torch.Tensor:
        return torch.tensor([0.0 if t in self._zero_ids else (self.idf[t] if self.idf else 1.0) for t in ids])

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per text: (token embeddings (len, d) of the chosen layer, token weights (len,))."""
        out: list[tuple[torch.Tensor, torch.Tensor]] = []
        pad = self.tokenizer.pad_token_id or 0
        for start in range(0, len(texts), self.batch_size):
            ids = _encode(self.tokenizer, texts[start:start + self.batch_size], self.max_length)
            width = max(map(len, ids))
            input_ids = torch.tensor([row + [pad] * (width - len(row)) for row in ids], device=self.device)
            mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in ids], device=self.device)
            hidden = self.model(input_ids=input_ids, attention_mask=mask,
                                output_hidden_states=True).hidden_states[self.num_layers]  # (b, width, d)
            out.extend((hidden[i, :len(row)].float().cpu(), self._weights(row)) for i, row in enumerate(ids))
        return out

    def score_batch(self, predictions: Sequence[str], references: Sequence[str]) -> list[dict[str, float]]:
        if len(predictions) != len(references):
            raise ValueError(f"got {len(predictions)} predictions but {len(references)} references; "
                             "pass one reference per prediction")
        # Embed each distinct text once: references are often repeated across predictions.
        unique = list(dict.fromkeys([*predictions, *references]))
        table = dict(zip(unique, self.embed(unique)))
        results = []
        for pred, ref in zip(predictions, references):
            (cand, cand_w), (ref_emb, ref_w) = table[pred], table[ref]
            precision, recall, f1 = greedy_match(cand, ref_emb, cand_w, ref_w)
            results.append({"bertscore_precision": precision, "bertscore_recall": recall, "bertscore_f1": f1})
        return results

    def __call__(self, prediction: str, reference: str) -> dict[str, float]:
        return self.score_batch([prediction], [reference])[0]
