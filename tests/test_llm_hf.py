"""The transformers backend on a tiny random LlamaForCausalLM and a word-level tokenizer built
here (no hub files): greedy determinism, streaming, stop sequences, log-probs against the
chain rule, token counting, the chat template, and a peft LoRA adapter saved to tmp_path."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from peft import LoraConfig, get_peft_model  # noqa: E402
from tokenizers import Tokenizer, models, pre_tokenizers  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast  # noqa: E402

from assistant.llm import LLMConfig, LLMConfigError, LLMError, LLMUnsupportedError, load_llm  # noqa: E402
from assistant.llm.hf import HFLLM  # noqa: E402

SPECIALS = ["<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
WORDS = ["the", "film", "alien", "is", "a", "ship", "crew", "yes", "no", "space", "horror", "dark", "night",
         "station", "cat", "robot", "signal", "planet", "egg", "fire", "door", "light", "run", "hide"]
TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} </s> {% endfor %}"
            "{% if add_generation_prompt %}<|assistant|>{% endif %}")
USER = [{"role": "user", "content": "the alien film is a space horror"}]
EOS = SPECIALS.index("</s>")


def build_tiny_model(folder: Path) -> Path:
    """Save a word-level tokenizer with a chat template and a 2-layer random Llama to `folder`."""
    vocab = {token: i for i, token in enumerate(SPECIALS + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.add_special_tokens(SPECIALS)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>",
                                        unk_token="<unk>", pad_token="</s>")
    tokenizer.chat_template = TEMPLATE
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=1, eos_token_id=EOS, pad_token_id=EOS, tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # zero the end-of-turn row (logit 0 < the max of the others) so replies run long
        model.lm_head.weight[EOS] = 0
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def llm(model_dir: Path) -> HFLLM:
    return HFLLM.load(model_dir, dtype="float32", n_threads=1)


def test_greedy_is_deterministic_and_runs_to_max_tokens(llm: HFLLM) -> None:
    first, second = llm.chat(USER, max_tokens=10), llm.chat(USER, max_tokens=10)
    assert first.text == second.text and first.text
    assert (first.finish_reason, first.completion_tokens) == ("length", 10)
    assert first.prompt_tokens == len(llm.tokenizer(llm.apply_chat_template(USER), add_special_tokens=False).input_ids)
    assert set(first.text.split()) <= set(WORDS)
    assert first.timings["decode_tok_s"] is not None and first.timings["ttft_s"] is not None


def test_sampling_with_a_seed_is_reproducible(llm: HFLLM) -> None:
    a = llm.chat(USER, max_tokens=8, temperature=1.5, seed=3)
    b = llm.chat(USER, max_tokens=8, temperature=1.5, seed=3)
    assert a.text == b.text


def test_stream_equals_chat(llm: HFLLM) -> None:
    deltas = list(llm.stream(USER, max_tokens=10))
    final = deltas[-1].completion
    assert final is not None and all(d.text for d in deltas[:-1]) and len(deltas) > 2
    assert "".join(d.text for d in deltas) == final.text == llm.chat(USER, max_tokens=10).text


def test_stop_sequence_cuts_text_in_chat_and_stream(llm: HFLLM) -> None:
    full = llm.chat(USER, max_tokens=12).text
    words = full.split()
    stop = next(w for i, w in enumerate(words) if i >= 2 and w not in " ".join(words[:i]))
    expected = full[: full.find(stop)]
    done = llm.chat(USER, max_tokens=12, stop=[stop])
    assert (done.text, done.finish_reason) == (expected, "stop")
    assert "".join(d.text for d in llm.stream(USER, max_tokens=12, stop=[stop])) == expected


def test_logprobs_are_the_greedy_argmax_with_top_k(llm: HFLLM) -> None:
    done = llm.chat(USER, max_tokens=6, logprobs=3)
    rows = done.token_logprobs
    assert rows is not None and len(rows) == done.completion_tokens == 6
    assert [token for token, _, _ in rows if token not in SPECIALS] == done.text.split()
    for token, logprob, top in rows:
        assert len(top) == 3 and logprob <= 0
        assert logprob == pytest.approx(max(top.values()))  # greedy picks the most likely token
        assert top[token] == pytest.approx(logprob)
    assert llm.chat(USER, max_tokens=2).token_logprobs is None


def test_token_logprob_of_follows_the_chain_rule(llm: HFLLM) -> None:
    rows = llm.chat(USER, max_tokens=2, logprobs=0).token_logprobs
    assert rows is not None
    (w1, lp1, _), (w2, lp2, _) = rows
    other = next(w for w in WORDS if w != w1)
    scores = llm.token_logprob_of(USER, [w1, f"{w1} {w2}", other])
    assert scores[w1] == pytest.approx(lp1, abs=1e-5)
    assert scores[f"{w1} {w2}"] == pytest.approx(lp1 + lp2, abs=1e-5)
    assert scores[other] < scores[w1]  # w1 was the argmax


def test_count_tokens_and_template(llm: HFLLM) -> None:
    assert llm.count_tokens("the film is a ship") == 5
    assert llm.count_tokens("") == 0
    assert llm.apply_chat_template(USER) == "<|user|> the alien film is a space horror </s> <|assistant|>"
    assert llm.fingerprint.startswith("size:") and llm.model_id.startswith("tiny-llama")


def test_closing_a_stream_stops_the_worker(llm: HFLLM) -> None:
    stream = llm.stream(USER, max_tokens=200)
    next(stream)
    stream.close()
    assert not any(t.name == "cairn-hf-generate" for t in threading.enumerate())


def test_constrained_output_is_unsupported(llm: HFLLM) -> None:
    with pytest.raises(LLMUnsupportedError, match="use backend=llamacpp"):
        llm.chat(USER, json_schema={"type": "object"})


def test_lora_adapter_changes_the_model_and_the_fingerprint(model_dir: Path, llm: HFLLM, tmp_path: Path) -> None:
    base = LlamaForCausalLM.from_pretrained(model_dir)
    lora = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj"],
                                           init_lora_weights=False))  # random B: a visible change
    lora.save_pretrained(tmp_path / "adapter")
    with torch.inference_mode():  # what the in-memory peft model says, as the reference
        prompt = llm.tokenizer(llm.apply_chat_template(USER), add_special_tokens=False, return_tensors="pt").input_ids
        expected = torch.log_softmax(lora(input_ids=prompt).logits[0, -1], dim=-1)[WORDS.index("alien") + len(SPECIALS)]

    tuned = HFLLM.load(model_dir, adapter=tmp_path / "adapter")
    assert "+adapter:size:" in tuned.fingerprint
    tuned_lp = tuned.token_logprob_of(USER, ["alien"])["alien"]
    assert tuned_lp == pytest.approx(float(expected), abs=1e-5)
    assert tuned_lp != pytest.approx(llm.token_logprob_of(USER, ["alien"])["alien"], abs=1e-3)


def test_bad_adapter_and_model_paths(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(LLMConfigError, match="no peft adapter folder"):
        HFLLM.load(model_dir, adapter=tmp_path)
    with pytest.raises(LLMError, match="could not load a causal LM"):
        HFLLM.load(tmp_path)


def test_load_llm_with_hf_backend(model_dir: Path) -> None:
    llm = load_llm(LLMConfig(backend="hf", model=str(model_dir), n_threads=1, max_tokens=3, dtype="float32"))
    assert isinstance(llm, HFLLM) and llm.model_id == model_dir.name
    assert llm.chat(USER).completion_tokens == 3
