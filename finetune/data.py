"""Training data for SFT and DPO: records, readers, synthetic cited QA from the knowledge base,
and the one tokenization both trainers use (DESIGN.md §2).

Formats (JSONL, one record a line; TRL's conversational format plus provenance fields):

    SFT         {"messages": [{"role": "system"|"user"|"assistant", "content": "…"}, …], "source": "…"}
                the last message is the assistant reply that is trained on
    preference  {"prompt": "…" | [messages], "chosen": "…" | [{"role": "assistant", …}],
                 "rejected": same shape as chosen, "source": "who/what produced it", "created": ISO date}
                a string prompt is one user turn: cairn always talks through the chat template

Every bad line is reported with its number (`path:line: reason`), all of them at once.

Tokenization follows inference exactly (assistant/llm/hf.py): the prompt is
`apply_chat_template(messages[:-1], add_generation_prompt=True)` as text, tokenized with
`add_special_tokens=False`; the reply is the rest of the full conversation's rendering, cut
after its end-of-turn token (the EOS the model must learn to emit; the template's trailing
newline is never generated, so it is not trained). Prompt tokens are labelled -100:

    tokens   <|im_start|>system … <|im_start|>assistant\\n | Night Train is … [1] . <|im_end|>
    labels   -100 … -100                                  | Night Train is … [1] . <|im_end|>

Only the final assistant turn is a target: earlier assistant turns are context (the
inference prompt's worked demo, chat history) that nobody vouched for.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from knowledge.errors import CairnError
from knowledge.types import Chunk, IngestIssue

IGNORE_INDEX = -100  # label of tokens that are context, not targets (transformers' convention)
ROLES = ("system", "user", "assistant")
MAX_LISTED_ISSUES = 20

Message = dict[str, str]
T = TypeVar("T")


class DataRecordError(CairnError, ValueError):
    """One record that does not have the expected shape (the reader adds file and line)."""


class TrainingDataError(CairnError, ValueError):
    """A data file with bad lines, or a data set that leaves nothing to train on."""


class ChatTemplateError(CairnError, ValueError):
    """A chat template whose rendering of a conversation does not extend its prompt rendering."""


# -- records ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SFTExample:
    """A conversation ending in the assistant reply to learn; `source` says who produced it."""

    messages: tuple[Message, ...]
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"messages": list(self.messages), "source": self.source}


@dataclass(frozen=True)
class PreferencePair:
    """A prompt (as messages) with a preferred and a dispreferred assistant reply."""

    prompt: tuple[Message, ...]
    chosen: str
    rejected: str
    source: str
    created: str

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "prompt": list(self.prompt)}


def _messages(value: Any, field: str) -> tuple[Message, ...]:
    if not isinstance(value, list) or not value:
        raise DataRecordError(f"{field!r} must be a non-empty list of {{\"role\", \"content\"}} messages, "
                              f"got {type(value).__name__}")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, Mapping) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise DataRecordError(f"{field}[{i}] must look like {{\"role\": one of {'/'.join(ROLES)}, "
                                  f"\"content\": \"…\"}}, got {json.dumps(m, default=str)[:80]}")
        out.append({"role": m["role"], "content": m["content"]})
    return tuple(out)


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataRecordError(f"{field!r} must be a non-empty string, got {json.dumps(value, default=str)[:80]}")
    return value


def parse_sft(record: Any) -> SFTExample:
    """An SFT record → SFTExample (raises DataRecordError naming the problem)."""
    if not isinstance(record, Mapping) or "messages" not in record:
        raise DataRecordError('an SFT record needs "messages": [{"role": "user", "content": …}, '
                              '{"role": "assistant", "content": …}]')
    messages = _messages(record["messages"], "messages")
    if messages[-1]["role"] != "assistant":
        raise DataRecordError(f"the last message must be the assistant reply to train on, got role "
                              f"{messages[-1]['role']!r}; append the corrected assistant turn")
    _text(messages[-1]["content"], "messages[-1].content")
    if not any(m["role"] == "user" for m in messages):
        raise DataRecordError("messages have no user turn; the reply must answer something")
    return SFTExample(messages, str(record.get("source", "")))


def _reply(value: Any, field: str) -> str:
    """TRL allows a reply as a string or as [{"role": "assistant", "content": …}]."""
    if isinstance(value, list):
        turns = _messages(value, field)
        if len(turns) != 1 or turns[0]["role"] != "assistant":
            raise DataRecordError(f"{field!r} as a list must hold exactly one assistant message")
        value = turns[0]["content"]
    return _text(value, field)


def parse_preference(record: Any) -> PreferencePair:
    """A preference record → PreferencePair (raises DataRecordError naming the problem)."""
    if not isinstance(record, Mapping):
        raise DataRecordError(f"expected an object with prompt/chosen/rejected/source/created, got "
                              f"{type(record).__name__}")
    missing = [k for k in ("prompt", "chosen", "rejected", "source", "created") if k not in record]
    if missing:
        raise DataRecordError(f"missing field(s) {missing}; a preference pair needs prompt, chosen, rejected, "
                              "source (who produced it) and created (ISO date)")
    prompt = record["prompt"]
    turns = ({"role": "user", "content": _text(prompt, "prompt")},) if isinstance(prompt, str) \
        else _messages(prompt, "prompt")
    if turns[-1]["role"] != "user":
        raise DataRecordError(f"the prompt must end with a user turn, got {turns[-1]['role']!r}")
    chosen, rejected = _reply(record["chosen"], "chosen"), _reply(record["rejected"], "rejected")
    if chosen == rejected:
        raise DataRecordError("chosen and rejected are identical; a pair must prefer one reply over another")
    created = _text(record["created"], "created")
    try:
        dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        raise DataRecordError(f"created={created!r} is no ISO date; write e.g. \"2026-11-22\" or "
                              "\"2026-11-22T08:00:00+00:00\"") from None
    return PreferencePair(turns, chosen, rejected, _text(record["source"], "source"), created)


def read_jsonl(path: str | Path, parse: Callable[[Any], T]) -> tuple[list[T], list[IngestIssue]]:
    """Parse every line of a JSONL file; (records, one issue per bad line). Blank lines are skipped."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainingDataError(f"cannot read training data {path}: {exc}; pass a UTF-8 .jsonl file") from exc
    records, issues = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(parse(json.loads(line)))
        except json.JSONDecodeError as exc:
            issues.append(IngestIssue(str(path), number, f"invalid JSON ({exc.msg} at column {exc.colno})"))
        except DataRecordError as exc:
            issues.append(IngestIssue(str(path), number, str(exc)))
    return records, issues


def load_jsonl(path: str | Path, parse: Callable[[Any], T]) -> list[T]:
    """All records of a JSONL file, or TrainingDataError listing every bad line by number
    (training on a silently thinned data set would make runs incomparable)."""
    records, issues = read_jsonl(path, parse)
    if issues:
        listed = "\n".join(f"  {issue}" for issue in issues[:MAX_LISTED_ISSUES])
        more = f"\n  … and {len(issues) - MAX_LISTED_ISSUES} more" if len(issues) > MAX_LISTED_ISSUES else ""
        raise TrainingDataError(f"{len(issues)} bad line(s) in {path}; fix or remove them:\n{listed}{more}")
    if not records:
        raise TrainingDataError(f"{path} holds no records; write one JSON object per line")
    return records


def load_sft_jsonl(path: str | Path) -> list[SFTExample]:
    return load_jsonl(path, parse_sft)


def load_preference_jsonl(path: str | Path) -> list[PreferencePair]:
    return load_jsonl(path, parse_preference)


def records_sha256(records: Iterable[SFTExample | PreferencePair]) -> str:
    """sha256 of the records as canonical JSON, in order: the data identity in provenance."""
    digest = hashlib.sha256()
    for r in records:
        digest.update(json.dumps(r.to_json(), sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n")
    return digest.hexdigest()


# -- synthetic cited QA from the catalog ------------------------------------------------------------

def _a(word: str) -> str:
    """'a 2003 film', 'an 1890s …', 'an action film' (an approximation that fits catalog words)."""
    vowel = word[:1].lower() in "aeio" or word.startswith(("8", "11", "18"))
    return f"an {word}" if vowel else f"a {word}"


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _first_statement(chunk: Chunk) -> str | None:
    """The description's first declarative sentence (5+ words), without its final period."""
    from knowledge.chunking.sentences import sentence_spans

    body = chunk.text.split("\n", 1)[-1]  # line 1 is the "Title (type, year; genres)" header
    for a, b in sentence_spans(body):
        sentence = body[a:b].strip()
        if sentence.endswith(".") and len(sentence.split()) >= 5:
            return sentence[:-1]
    return None


def _qa_pairs(chunk: Chunk) -> list[tuple[str, str]]:
    """(question, cited answer) pairs an item's own passage supports; every sentence cites [1]."""
    m = chunk.metadata
    title, kind, year = m.get("title"), m.get("type"), m.get("year")
    if not (title and kind and year):
        return []
    pairs = [(f"When did {title} come out?", f"{title} came out in {year} [1]."),
             (f"What kind of {kind} is {title}?",
              f"{title} is {_a(_join(m['genres']))} {kind} [1]." if m.get("genres") else "")]
    if m.get("creators"):
        pairs.append((f"Who made {title}?", f"{title} is by {_join(list(m['creators']))} [1]."))
    statement = _first_statement(chunk) if m.get("language", "en") == "en" else None
    if statement:
        pairs.append((f"What is {title} about?", f"{title} is {_a(str(year))} {kind} [1]. {statement} [1]."))
    return [(q, a) for q, a in pairs if a]


def cited_qa_examples(chunks: Iterable[Chunk], *, per_item: int = 2, refusal_share: float = 0.1,
                      seed: int = 0, limit: int | None = None) -> list[SFTExample]:
    """Synthetic SFT examples in the exact message layout of inference (assistant.prompts.
    build_messages: system rules, worked demo, fenced sources, question), one source each.

    For each catalog item (first chunk, which carries its header line) up to `per_item`
    template questions are answered from its passage, citing [1]. A `refusal_share` of the
    examples instead asks about another item than the one shown, and the target is the refusal
    sentence: the model must learn that a passage about something else is no answer."""
    from assistant.prompts import REFUSAL_TEXT, build_messages

    if not 0.0 <= refusal_share < 1.0 or per_item < 1:
        raise TrainingDataError(f"need per_item >= 1 and 0 <= refusal_share < 1, got {per_item}, {refusal_share}")
    rng = random.Random(seed)
    items = [c for c in chunks if c.metadata.get("chunk_index", 0) == 0 and _qa_pairs(c)]
    rng.shuffle(items)
    items = items[:limit] if limit else items
    examples = []
    for i, chunk in enumerate(items):
        pairs = _qa_pairs(chunk)
        for question, answer in rng.sample(pairs, min(per_item, len(pairs))):
            shown, source = chunk, f"synthetic:cited-qa:{chunk.doc_id}"
            if len(items) > 1 and rng.random() < refusal_share:
                shown = items[(i + 1 + rng.randrange(len(items) - 1)) % len(items)]  # any other item
                answer, source = REFUSAL_TEXT, f"synthetic:refusal:{chunk.doc_id}:{shown.doc_id}"
            messages = build_messages(question, [shown])
            examples.append(SFTExample((*messages, {"role": "assistant", "content": answer}), source))
    return examples


PAIR_KINDS = ("uncited", "wrong-fact", "over-refusal")


def cited_preference_pairs(chunks: Iterable[Chunk], *, refusal_share: float = 0.15, seed: int = 0,
                           limit: int | None = None, created: str | None = None) -> list[PreferencePair]:
    """Synthetic DPO pairs over the same prompts as `cited_qa_examples` (inference layout, one
    source): `chosen` is the cited answer the passage supports (or the refusal, when the passage
    is about another item), `rejected` one of the failures the citation verifier and the golden
    set punish, drawn in turn (PAIR_KINDS):

        uncited       the chosen answer with its [n] markers removed
        wrong-fact    the same template answered with another item's fact (year, genres,
                      creators or description) under this title, still citing [1]
        over-refusal  the refusal sentence, although the passage answers the question
        (refusal cases) chosen = the refusal; rejected = the shown item's facts passed off
                      as the asked item's, cited — a confident hallucination

    A stand-in for expert pairs (evals/grading/export.py writes those in the same format):
    no human judged these, `source` says so (`synthetic:dpo:<kind>:<doc_id>`)."""
    from assistant.citations import remove_markers
    from assistant.prompts import REFUSAL_TEXT, build_messages

    if not 0.0 <= refusal_share < 1.0:
        raise TrainingDataError(f"need 0 <= refusal_share < 1, got {refusal_share}")
    rng = random.Random(seed)
    created = created or dt.date.today().isoformat()
    items = [c for c in chunks if c.metadata.get("chunk_index", 0) == 0 and _qa_pairs(c)]
    rng.shuffle(items)
    items = items[:limit] if limit else items
    if len(items) < 2:
        raise TrainingDataError("synthetic preference pairs need at least two catalog items (wrong facts and "
                                "refusals borrow from another item); ingest a catalog first")

    def borrowed(question: str, title: str, other: Chunk) -> str | None:
        """`other`'s answer to the same template question, told about `title`."""
        o = other.metadata["title"]
        for q, a in _qa_pairs(other):
            if q.replace(o, title) == question:
                return a.replace(o, title)
        return None

    pairs = []
    for i, chunk in enumerate(items):
        title = chunk.metadata["title"]
        question, answer = rng.choice(_qa_pairs(chunk))
        other = items[(i + 1 + rng.randrange(len(items) - 1)) % len(items)]
        if rng.random() < refusal_share:
            fake = borrowed(question, title, other)
            if fake and fake != answer:
                pairs.append(PreferencePair(tuple(build_messages(question, [other])), REFUSAL_TEXT, fake,
                                            f"synthetic:dpo:refusal:{chunk.doc_id}:{other.doc_id}", created))
                continue
        kind = PAIR_KINDS[i % len(PAIR_KINDS)]
        rejected = {"uncited": remove_markers(answer), "over-refusal": REFUSAL_TEXT}.get(kind) \
            or borrowed(question, title, other)
        if not rejected or rejected == answer:
            kind, rejected = "uncited", remove_markers(answer)
        pairs.append(PreferencePair(tuple(build_messages(question, [chunk])), answer, rejected,
                                    f"synthetic:dpo:{kind}:{chunk.doc_id}", created))
    return pairs


def knowledge_base_pairs(collection: str = "catalog", **kwargs: Any) -> list[PreferencePair]:
    """`cited_preference_pairs` over the indexed collection of this CAIRN_HOME."""
    from knowledge.index import KnowledgeBase

    if collection != "catalog":
        raise TrainingDataError(f"synthetic preference pairs are generated from catalog items, not {collection!r}")
    kb = KnowledgeBase(collection)
    try:
        return cited_preference_pairs(kb.store.iter_chunks(), **kwargs)
    finally:
        kb.close()


def knowledge_base_examples(collection: str = "catalog", **kwargs: Any) -> list[SFTExample]:
    """`cited_qa_examples` over the indexed collection of this CAIRN_HOME."""
    from knowledge.index import KnowledgeBase

    if collection != "catalog":
        raise TrainingDataError(f"synthetic cited QA is generated from catalog items, not {collection!r}; "
                                "use kb:catalog, or pass expert corrections as a JSONL file")
    kb = KnowledgeBase(collection)
    try:
        examples = cited_qa_examples(kb.store.iter_chunks(), **kwargs)
    finally:
        kb.close()
    if not examples:
        raise TrainingDataError("the catalog index holds no items with title, type and year; "
                                "run `cairn ingest` on a catalog first")
    return examples


# -- tokenization (shared by SFT and DPO) --------------------------------------------------------------

@dataclass(frozen=True)
class EncodedChat:
    """One training sequence. input_ids (T,) = prompt then reply then EOS; labels (T,) are
    input_ids with IGNORE_INDEX on the prompt (so label != -100 is the loss mask)."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.input_ids)


def render_prompt(tokenizer: Any, messages: Sequence[Message]) -> str:
    """The prompt text exactly as inference renders it (HFLLM.apply_chat_template)."""
    return tokenizer.apply_chat_template([dict(m) for m in messages], tokenize=False, add_generation_prompt=True)


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False).input_ids)


def encode_reply(tokenizer: Any, prompt: Sequence[Message], reply: str) -> EncodedChat:
    """Tokenize `prompt` + the assistant `reply`, labelling only the reply and its EOS.

    The prompt is tokenized alone, as at inference, so training sees the very ids the model
    will be prompted with; the reply is what the template writes after it, cut after the
    first EOS (appended if the template writes none)."""
    prompt_text = render_prompt(tokenizer, prompt)
    full = tokenizer.apply_chat_template([*map(dict, prompt), {"role": "assistant", "content": reply}],
                                         tokenize=False)
    if not full.startswith(prompt_text):
        raise ChatTemplateError(
            "the chat template renders the conversation differently from its prompt plus reply "
            f"(prompt ends {prompt_text[-40:]!r}, conversation has {full[len(prompt_text) - 40:len(prompt_text)]!r}); "
            "training needs a template whose generation prompt is a prefix of the rendered turn")
    prompt_ids, reply_ids = _ids(tokenizer, prompt_text), _ids(tokenizer, full[len(prompt_text):])
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ChatTemplateError("the tokenizer has no eos_token; set tokenizer.eos_token to the end-of-turn token")
    reply_ids = reply_ids[:reply_ids.index(eos) + 1] if eos in reply_ids else [*reply_ids, eos]
    return EncodedChat(tuple(prompt_ids + reply_ids), (IGNORE_INDEX,) * len(prompt_ids) + tuple(reply_ids))


def encode_sft(tokenizer: Any, example: SFTExample) -> EncodedChat:
    return encode_reply(tokenizer, example.messages[:-1], example.messages[-1]["content"])


def encode_pair(tokenizer: Any, pair: PreferencePair) -> tuple[EncodedChat, EncodedChat]:
    """(chosen, rejected) sequences sharing the same prompt ids."""
    return encode_reply(tokenizer, pair.prompt, pair.chosen), encode_reply(tokenizer, pair.prompt, pair.rejected)


def pad_batch(rows: Sequence[EncodedChat], pad_id: int) -> dict[str, Any]:
    """Right-pad to the longest row: input_ids, attention_mask and labels, each (B, T)."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r.input_ids)
        labels[i, :len(r)] = torch.tensor(r.labels)
        mask[i, :len(r)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
