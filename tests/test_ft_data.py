"""Training data: record validation with line numbers, synthetic cited QA in the inference
layout, and chat-template tokenization whose labels are hand-checked on a word-level tokenizer.

`tiny_tokenizer` is shared with the SFT and DPO tests (one token per word or punctuation
mark, ChatML template, EOS = <|im_end|>), so every label position can be read off by eye.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from finetune.data import (
    IGNORE_INDEX, ChatTemplateError, SFTExample, TrainingDataError, cited_qa_examples, encode_pair, encode_reply,
    encode_sft, knowledge_base_examples, load_preference_jsonl, load_sft_jsonl, pad_batch, parse_sft,
    read_jsonl, parse_preference, records_sha256, render_prompt,
)
from knowledge.types import Chunk, Document

CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIALS = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]
WORDS = ("system user assistant you answer from sources what is night train about when did come out salt roads "
         "a an film podcast in 2003 2020 it came by conductor solves murder history of the trade i couldn't find "
         "that yes no good bad [ ] 1 . ? , : '").split()


def tiny_tokenizer(template: str = CHATML):
    """A word-level fast tokenizer over WORDS; unknown words become <unk>."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS + list(dict.fromkeys(WORDS)))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>",
                                  eos_token="<|im_end|>", additional_special_tokens=["<|im_start|>"])
    tok.chat_template = template
    return tok


def chat(*turns: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": r, "content": c} for r, c in turns]


def catalog_chunk(doc_id: str, title: str, kind: str, year: int, description: str, **meta) -> Chunk:
    genres = meta.pop("genres", ["drama"])
    text = f"{title} ({kind}, {year}; {', '.join(genres)})\n{description}"
    return Chunk(id=f"{doc_id}#0", doc_id=doc_id, text=text, span=(0, len(text)),
                 metadata={"title": title, "type": kind, "year": year, "genres": genres, "chunk_index": 0, **meta})


CHUNKS = [
    catalog_chunk("film_1", "Night Train", "film", 2003, "A conductor solves a murder on an overnight train to Vienna. "
                  "It was shot in winter.", genres=["crime", "mystery"], creators=["Ada Roe"]),
    catalog_chunk("pod_1", "Salt Roads", "podcast", 2020, "Why salt? A podcast about the long history of the salt "
                  "trade across the Sahara.", genres=["history"]),
    catalog_chunk("art_1", "Todo sobre redes", "article", 2026, "Un ensayo sobre los algoritmos que aprenden hoy.",
                  language="es", genres=["science"]),
]


# -- labels, by hand ---------------------------------------------------------------------------------

def test_labels_mask_everything_but_the_reply_and_eos_by_hand():
    tok = tiny_tokenizer()
    enc = encode_sft(tok, SFTExample(tuple(chat(("user", "what is night train about?"),
                                                 ("assistant", "a film [1].")))))
    tokens = tok.convert_ids_to_tokens(list(enc.input_ids))
    # prompt: <|im_start|> user … ? <|im_end|> <|im_start|> assistant  (11 tokens; newlines are whitespace here)
    # reply:  a film [ 1 ] . <|im_end|>  (7 tokens; the template's final "\n" is not generated, not trained)
    assert tokens == ["<|im_start|>", "user", "what", "is", "night", "train", "about", "?", "<|im_end|>",
                      "<|im_start|>", "assistant", "a", "film", "[", "1", "]", ".", "<|im_end|>"]
    assert enc.labels[:11] == (IGNORE_INDEX,) * 11
    assert enc.labels[11:] == enc.input_ids[11:]
    assert tok.convert_ids_to_tokens(list(enc.labels[11:]))[-1] == tok.eos_token


def test_only_the_last_assistant_turn_is_a_target():
    tok = tiny_tokenizer()
    enc = encode_sft(tok, SFTExample(tuple(chat(("system", "you answer from sources"), ("user", "what is it?"),
                                                ("assistant", "a podcast."), ("user", "when did it come out?"),
                                                ("assistant", "in 2020.")))))
    tokens = tok.convert_ids_to_tokens(list(enc.input_ids))
    trained = [t for t, label in zip(tokens, enc.labels) if label != IGNORE_INDEX]
    assert trained == ["in", "2020", ".", "<|im_end|>"]  # the earlier "a podcast." is context


def test_eos_is_appended_when_the_template_writes_none():
    tok = tiny_tokenizer("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }} {% endfor %}"
                         "{% if add_generation_prompt %}assistant: {% endif %}")
    enc = encode_reply(tok, chat(("user", "yes?")), "no.")
    assert tok.convert_ids_to_tokens([t for t in enc.labels if t != IGNORE_INDEX]) == ["no", ".", "<|im_end|>"]


def test_a_template_that_is_not_prefix_stable_is_refused():
    # renders the generation prompt differently from a finished assistant turn
    tok = tiny_tokenizer("{% for m in messages %}{{ m['content'] }} {% endfor %}"
                         "{% if add_generation_prompt %}assistant : {% endif %}")
    with pytest.raises(ChatTemplateError, match="prefix"):
        encode_reply(tok, chat(("user", "yes?")), "no.")


def test_prompt_is_rendered_exactly_as_inference_renders_it():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from assistant.llm.hf import HFLLM

    tok = tiny_tokenizer()
    example = cited_qa_examples(CHUNKS[:1], per_item=1, refusal_share=0.0)[0]
    prompt = list(example.messages[:-1])
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=1, vocab_size=len(tok)))
    inference = HFLLM(model, tok, model_id="tiny", fingerprint="tiny")
    assert render_prompt(tok, prompt) == inference.apply_chat_template(prompt) \
        == tok.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    enc = encode_sft(tok, example)
    n_prompt = enc.labels.index(next(t for t in enc.labels if t != IGNORE_INDEX))
    assert list(enc.input_ids[:n_prompt]) == inference._encode(inference.apply_chat_template(prompt))[0].tolist()


def test_pairs_share_prompt_ids_and_pad_batch_masks_padding():
    tok = tiny_tokenizer()
    pair = parse_preference({"prompt": "what is salt roads?", "chosen": "a podcast [1].", "rejected": "a film.",
                             "source": "expert:ann", "created": "2026-11-22"})
    chosen, rejected = encode_pair(tok, pair)
    n = sum(1 for t in chosen.labels if t == IGNORE_INDEX)
    assert chosen.input_ids[:n] == rejected.input_ids[:n]
    batch = pad_batch([chosen, rejected], tok.pad_token_id)
    assert batch["input_ids"].shape == (2, len(chosen))                      # chosen is the longer one
    assert batch["attention_mask"][1].sum().item() == len(rejected)
    assert (batch["labels"][1, len(rejected):] == IGNORE_INDEX).all()


# -- synthetic cited QA --------------------------------------------------------------------------------

def test_cited_qa_examples_are_well_formed_and_use_the_inference_prompt():
    from assistant.prompts import build_messages

    examples = cited_qa_examples(CHUNKS, per_item=4, refusal_share=0.0, seed=1)
    assert {e.source.rsplit(":", 1)[-1] for e in examples} == {"film_1", "pod_1", "art_1"}
    for e in examples:
        assert parse_sft(e.to_json()) == e                                   # the SFT record format round-trips
        question = e.messages[-2]["content"].rsplit("Question: ", 1)[-1]
        chunk = next(c for c in CHUNKS if c.doc_id == e.source.rsplit(":", 1)[-1])
        assert list(e.messages[:-1]) == build_messages(question, [chunk])
        answer = e.messages[-1]["content"]
        sentences = [s for s in answer.split("[1].") if s.strip()]
        assert answer.endswith("[1].") and len(sentences) == answer.count("[1]")  # every sentence cites [1]
        assert chunk.metadata["title"] in answer and str(chunk.metadata["year"]) in chunk.text
    about = next(e for e in examples if e.messages[-2]["content"].endswith("What is Night Train about?"))
    assert about.messages[-1]["content"] == ("Night Train is a 2003 film [1]. A conductor solves a murder on an "
                                             "overnight train to Vienna [1].")
    # "Why salt?" is a question, not a statement; the Spanish article gets no English paraphrase
    assert not any(e.messages[-2]["content"].endswith("What is Todo sobre redes about?") for e in examples)
    assert cited_qa_examples(CHUNKS, per_item=4, refusal_share=0.0, seed=1) == examples  # deterministic


def test_refusal_examples_show_another_item_and_cite_nothing():
    from assistant.prompts import REFUSAL_TEXT

    examples = cited_qa_examples(CHUNKS, per_item=2, refusal_share=0.99, seed=3)
    refusals = [e for e in examples if e.source.startswith("synthetic:refusal:")]
    assert refusals
    for e in refusals:
        asked, shown = e.source.split(":")[2:]
        assert asked != shown and e.messages[-1]["content"] == REFUSAL_TEXT
        assert '<source id="1">' in e.messages[-2]["content"]


def test_synthetic_preference_pairs_prefer_the_cited_supported_answer():
    from assistant.prompts import REFUSAL_TEXT, build_messages
    from finetune.data import cited_preference_pairs, parse_preference

    pairs = cited_preference_pairs(CHUNKS, refusal_share=0.0, seed=0, created="2026-11-22")
    assert len(pairs) == 3                                                  # one per item
    kinds = {p.source.split(":")[2] for p in pairs}
    assert kinds <= {"uncited", "wrong-fact", "over-refusal"} and len(kinds) >= 2
    for p in pairs:
        assert parse_preference(p.to_json()) == p                           # TRL format round-trips
        doc_id = p.source.rsplit(":", 1)[-1]
        chunk = next(c for c in CHUNKS if c.doc_id == doc_id)
        question = p.prompt[-1]["content"].rsplit("Question: ", 1)[-1]
        assert list(p.prompt) == build_messages(question, [chunk])          # the inference prompt
        assert p.chosen.endswith("[1].") and p.chosen != p.rejected
        kind = p.source.split(":")[2]
        if kind == "uncited":
            assert p.rejected == p.chosen.replace(" [1]", "")
        elif kind == "over-refusal":
            assert p.rejected == REFUSAL_TEXT
        else:
            assert "[1]" in p.rejected and chunk.metadata["title"] in p.rejected
    refusals = [p for p in cited_preference_pairs(CHUNKS, refusal_share=0.99, seed=2, created="2026-11-22")
                if p.source.startswith("synthetic:dpo:refusal:")]
    assert refusals
    for p in refusals:
        asked, shown = p.source.split(":")[3:]
        assert asked != shown and p.chosen == REFUSAL_TEXT and "[1]" in p.rejected
        shown_title = next(c.metadata["title"] for c in CHUNKS if c.doc_id == shown)
        assert shown_title in p.prompt[-1]["content"]                       # the passage is the other item's
    assert cited_preference_pairs(CHUNKS, seed=0, created="2026-11-22") == \
        cited_preference_pairs(CHUNKS, seed=0, created="2026-11-22")        # deterministic


def test_knowledge_base_examples_come_from_the_indexed_catalog(cairn_home: Path):
    from knowledge.docstore import DocStore
    from knowledge.home import index_dir

    store = DocStore(index_dir("catalog") / "docstore.sqlite")
    docs = [Document(id=c.doc_id, text=c.text, metadata=c.metadata) for c in CHUNKS]
    store.commit_docs(docs, CHUNKS, np.zeros((len(CHUNKS), 4), dtype=np.float32))
    store.close()
    examples = knowledge_base_examples("catalog", per_item=1, refusal_share=0.0, limit=2)
    assert len(examples) == 2 and all(e.source.startswith("synthetic:cited-qa:") for e in examples)
    with pytest.raises(TrainingDataError, match="kb:catalog"):
        knowledge_base_examples("notes")


# -- readers ----------------------------------------------------------------------------------------

def write_lines(path: Path, lines: list[object]) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def test_bad_sft_lines_are_reported_with_their_line_numbers(tmp_path: Path):
    good = {"messages": chat(("user", "what is it?"), ("assistant", "a film [1]."))}
    path = write_lines(tmp_path / "sft.jsonl", [
        good,                                                             # 1
        "{not json",                                                      # 2
        "",                                                               # 3 blank: skipped
        {"messages": chat(("user", "what is it?"))},                      # 4 no assistant reply
        {"messages": [{"role": "bot", "content": "hi"}]},                 # 5 unknown role
        {"prompt": "x"},                                                  # 6 not an SFT record
    ])
    records, issues = read_jsonl(path, parse_sft)
    assert len(records) == 1 and [i.line for i in issues] == [2, 4, 5, 6]
    with pytest.raises(TrainingDataError) as err:
        load_sft_jsonl(path)
    message = str(err.value)
    assert "4 bad line(s)" in message
    for line, reason in ((2, "invalid JSON"), (4, "last message must be the assistant reply"),
                         (5, "role"), (6, '"messages"')):
        assert f"{path}:{line}: " in message and reason in message
    write_lines(path, [good, good])
    assert load_sft_jsonl(path)[0].messages[-1]["content"] == "a film [1]."


def test_preference_pairs_are_validated_line_by_line(tmp_path: Path):
    ok = {"prompt": "what is it?", "chosen": "a film [1].", "rejected": "a podcast.", "source": "expert:ann",
          "created": "2026-11-22T08:00:00Z"}
    conversational = {**ok, "prompt": chat(("system", "be brief"), ("user", "what is it?")),
                      "chosen": chat(("assistant", "a film [1]."))}
    path = write_lines(tmp_path / "pairs.jsonl", [
        ok, conversational,
        {**ok, "rejected": ok["chosen"]},                                 # 3 identical replies
        {k: v for k, v in ok.items() if k != "source"},                   # 4 no provenance
        {**ok, "created": "yesterday"},                                   # 5 not a date
        {**ok, "prompt": chat(("user", "hi"), ("assistant", "hello"))},   # 6 prompt ends with the assistant
    ])
    with pytest.raises(TrainingDataError) as err:
        load_preference_jsonl(path)
    message = str(err.value)
    for line, reason in ((3, "identical"), (4, "source"), (5, "'yesterday'"), (6, "end with a user turn")):
        assert f"{path}:{line}: " in message and reason in message
    assert f"{path}:1:" not in message and f"{path}:2:" not in message
    write_lines(path, [ok, conversational])
    first, second = load_preference_jsonl(path)
    assert first.prompt == tuple(chat(("user", "what is it?"))) and second.chosen == "a film [1]."
    assert records_sha256([first]) != records_sha256([second])


def test_empty_or_missing_files_are_clear_errors(tmp_path: Path):
    with pytest.raises(TrainingDataError, match="no records"):
        load_sft_jsonl(write_lines(tmp_path / "empty.jsonl", [""]))
    with pytest.raises(TrainingDataError, match="cannot read"):
        load_sft_jsonl(tmp_path / "missing.jsonl")


@pytest.mark.slow
def test_real_smollm2_tokenizer_trains_on_the_cited_answer_and_im_end(real_model):
    from transformers import AutoTokenizer

    folder = real_model("smollm2-135m")
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=next(folder.glob("*.gguf")).name)
    example = cited_qa_examples(CHUNKS[:1], per_item=1, refusal_share=0.0)[0]
    enc = encode_sft(tok, example)
    target = tok.decode([t for t in enc.labels if t != IGNORE_INDEX])
    assert target == example.messages[-1]["content"] + "<|im_end|>"
    assert 300 < len(enc) < 768  # the inference prompt (rules + demo + one source) fits the default max_len
