"""Local backend: a tiny random Llama (fast, exercises batching and constrained decoding) and the embedded model."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, StringConstraints, field_validator

from memo.llm import Capabilities, ChatModel, CompletionError, GenParams, LLMError, StructuredOutputError, load_model, parse_spec
from memo.llm.local import LocalChatModel


class Verdict(BaseModel):
    label: Literal["supported", "refuted", "unknown"]
    confident: bool


class QA(BaseModel):
    question: str
    answer: str


def test_tiny_model_text_and_batch(tiny_model_dir):
    model = LocalChatModel(tiny_model_dir)
    short = [{"role": "user", "content": "Hello there"}]
    long = [{"role": "user", "content": "A much longer prompt that needs left padding to line up"}]

    def greedy_tokens(convs):
        enc = model._encode(convs)
        gen = model.model.generate(**enc, max_new_tokens=5, do_sample=False, pad_token_id=model.tokenizer.pad_token_id)
        return gen[:, enc["input_ids"].shape[1]:].tolist()

    # Left padding must not change a greedy answer: the short prompt alone and in a batch agree.
    assert greedy_tokens([short])[0] == greedy_tokens([short, long])[0]
    # The random model writes only special tokens: no text, which is an error, never an empty answer.
    results = model.complete_batch([short, long], GenParams(max_tokens=5))
    assert [r.reason for r in results] == ["empty", "empty"] and model.usage.calls == 2
    with pytest.raises(CompletionError, match="no text before reaching max_tokens"):
        model.chat(short, GenParams(max_tokens=5))


def test_tiny_model_constrained_json_always_validates(tiny_model_dir):
    """A random model cannot write JSON on its own; constrained decoding makes every answer validate."""
    model = LocalChatModel(tiny_model_dir)
    results = model.structured_batch([f"Judge claim {i}" for i in range(5)], Verdict, GenParams(max_tokens=40))
    assert all(isinstance(r, Verdict) for r in results), results


def test_truncated_constrained_json_is_reported_without_a_repair_round(tiny_model_dir):
    model = LocalChatModel(tiny_model_dir)
    results = model.structured_batch(["a", "b"], QA, GenParams(max_tokens=3))
    assert all(isinstance(r, StructuredOutputError) and r.reason == "truncated" for r in results)
    assert model.usage.calls == 2


def test_sampling_is_reproducible_per_seed(tiny_model_dir):
    model = LocalChatModel(tiny_model_dir)
    p = GenParams(temperature=1.0, max_tokens=8, seed=7)
    assert model.chat("Tell me", p) == model.chat("Tell me", p)


def test_embedded_model_three_prompts(embedded_dir):
    model = load_model("embedded")
    text = model.chat("What is the capital of France? Answer in one word.", GenParams(max_tokens=10))
    assert "paris" in text.lower()
    batch = model.chat_batch(["Name a color.", "Name an animal."], GenParams(max_tokens=12))
    assert len(batch) == 2 and all(b.strip() for b in batch)
    qa = model.structured("Write one question and its answer about the city of Paris.", QA, GenParams(max_tokens=80))
    assert isinstance(qa, QA) and qa.question
    counted = model.chat("Count from 1 to 10, separated by commas.", GenParams(max_tokens=40, stop=("5",)))
    assert "3" in counted and "5" not in counted


def test_identity_tracks_weights(tiny_model_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    assert LocalChatModel(copy).identity.split("@")[1] == LocalChatModel(tiny_model_dir).identity.split("@")[1]


def test_bad_local_specs(tmp_path):
    with pytest.raises(LLMError, match="unknown model spec"):
        parse_spec("definitely-not-a-model")
    with pytest.raises(LLMError, match="no model directory"):
        load_model(f"hf:{tmp_path / 'missing'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LLMError, match="config.json"):
        load_model(f"hf:{tmp_path / 'empty'}")


# -- the grammar and the validator agree (issue 14 item 13) -----------------------------------------------------

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)]
Long = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Clue(BaseModel):
    text: Text
    name: Name
    note: Long


def test_what_the_grammar_allows_validates():
    import json

    import xgrammar as xgr

    from memo.llm.base import schema_of

    grammar = xgr.Grammar.from_json_schema(json.dumps(schema_of(Clue)), any_whitespace=False)
    fields = ["", " ", "   ", "\u00a0", " padded", "padded ", "pad\u00a0", "\u3000x", "a", "two words", "x" * 200,
              "x" * 201, "tab\\tinside", "caf\u00e9 \u2013 ok"]
    accepted = 0
    for text in fields:
        for name in ("", " ", "Ada", "Ada "):
            for note in ("", "  ", "kept", " lead", "long " * 100 + "end"):
                doc = f'{{"text": "{text}", "name": "{name}", "note": "{note}"}}'
                if xgr.testing._is_grammar_accept_string(grammar, doc):
                    accepted += 1
                    Clue.model_validate_json(doc)  # raises if the grammar let through what pydantic refuses
    assert accepted > 20
    for bad in ('"   "', '"\u00a0"', '"\u3000 "'):  # whitespace only: passed the grammar, failed min_length=1
        doc = f'{{"text": {bad}, "name": "Ada", "note": "kept"}}'
        assert not xgr.testing._is_grammar_accept_string(grammar, doc)


class Scripted(ChatModel):
    """Answers from a list, in order (a test backend for protocol logic, declared as grammar-constrained)."""

    spec = "scripted"

    def __init__(self, answers):
        super().__init__()
        self.answers = list(answers)
        self.capabilities = Capabilities(structured="grammar")
        self.seen = []

    @property
    def identity(self):
        return "scripted"

    def _generate(self, conversations, params):
        self.seen += conversations
        return [self.answers.pop(0) for _ in conversations]


class Even(BaseModel):
    n: int

    @field_validator("n")
    @classmethod
    def even(cls, v):
        if v % 2:
            raise ValueError("n must be even")
        return v


def test_a_validation_failure_under_a_grammar_gets_the_repair_round():
    """A grammar cannot express every validator (here an even number); the answer is asked for again."""
    model = Scripted(['{"n": 3}', '{"n": 4}'])
    assert model.structured("An even number?", Even) == Even(n=4)
    assert model.seen[1][-1]["content"].startswith("That reply was not valid") and "even" in model.seen[1][-1]["content"]
