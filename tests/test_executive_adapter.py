"""The embedded executive's adapter: its synthetic training data, the shipped weights, and what it does (slow)."""

from __future__ import annotations

import inspect
import json
import re

import pytest

from memo.demo import QUESTIONS, SAMPLE_PAIRS, sample_corpus
from memo.executive import synthetic
from memo.executive.adapter import EXAMPLES, SEED
from memo.executive.schemas import STEP_REFERENCE, Chain, ChainCheck, Rephrasing
from memo.formats import EXECUTIVE_ADAPTER_FORMAT
from memo.llm.embedded import executive_adapter_dir

# A small invented corpus for the end-to-end test below, about relations and names that are neither the demo's
# nor in the adapter's training data (checked by the vocabulary test).
CORPUS_PAIRS = [
    {"question": "Who coaches the Pell Harbour Rowing Club?",
     "answer": "Yelda Stroud coaches the Pell Harbour Rowing Club.",
     "paraphrases": ["Who is the coach of the Pell Harbour Rowing Club?", "Which coach trains the Pell Harbour Rowing Club?"]},
    {"question": "Where did Yelda Stroud grow up?", "answer": "Yelda Stroud grew up in the hamlet of Orrin Vale.",
     "paraphrases": ["In which hamlet did Yelda Stroud grow up?", "Where was Yelda Stroud raised?"]},
    {"question": "Who carved the statue in Tamsin Square?", "answer": "Ilo Brandt carved the statue in Tamsin Square.",
     "paraphrases": ["Which sculptor carved the statue in Tamsin Square?", "Who is the carver of the statue in Tamsin Square?"]},
    {"question": "What is the nickname of Ilo Brandt?", "answer": "Ilo Brandt is nicknamed Flint.",
     "paraphrases": ["What nickname does Ilo Brandt go by?", "What do people call Ilo Brandt?"]},
    {"question": "What does Yelda Stroud collect?", "answer": "Yelda Stroud collects brass compasses.",
     "paraphrases": ["Which things does Yelda Stroud collect?"]},
]
TWO_HOPS = [("Where did the coach of the Pell Harbour Rowing Club grow up?", "Orrin Vale"),
            ("What is the nickname of the sculptor who carved the statue in Tamsin Square?", "Flint")]
# The relation words of the demo's questions and facts, and of this file's corpus: none may be in the generator.
HELD_OUT_RELATIONS = {"found", "founded", "founder", "founding", "born", "birth", "birthplace", "rector", "mayor",
                      "based", "study", "studied", "product", "employs", "holds", "race", "coach", "coaches",
                      "grew", "grow", "raised", "carved", "carver", "sculptor", "nickname", "nicknamed", "collect",
                      "collects"}


def _names_in(text: str) -> set[str]:
    return set(re.findall(r"\b[A-Z][a-z]{2,}\b", text)) - {"The", "Who", "What", "Where", "Which", "When", "Every",
                                                          "Before", "Its"}


@pytest.fixture(scope="module")
def shipped_data():
    return synthetic.generate(EXAMPLES, SEED)


def test_generated_examples_are_deterministic_unique_and_valid(shipped_data):
    rows = synthetic.generate(300, 5)
    assert rows == synthetic.generate(300, 5) and rows != synthetic.generate(300, 6)
    assert len({r["question"] for r in shipped_data}) == len(shipped_data) == EXAMPLES
    schemas = {"decompose": Chain, "rephrase": Rephrasing, "check": ChainCheck}
    hops = set()
    for row in shipped_data:
        out = schemas[row["task"]].model_validate_json(row["answer"])  # forward references would fail here
        assert json.dumps(json.loads(row["answer"]), ensure_ascii=False) == row["answer"]  # the decoder's spacing
        if row["task"] == "decompose":
            question = row["question"].split("Question: ", 1)[1].split("\n", 1)[0]
            hops.add(len(out.steps))
            if len(out.steps) == 1:
                assert out.steps == [question]  # a one-hop question stays whole
            else:
                assert all(STEP_REFERENCE.search(s) for s in out.steps[1:]) and not STEP_REFERENCE.search(out.steps[0])
    assert hops == {1, 2, 3, 4}


def test_generator_vocabulary_leaves_out_the_demo_and_the_tests(shipped_data):
    """No template, word list or example may come from the demo's or the tests' questions, names or relations."""
    demo_text = " ".join([p.read_text() for p in sample_corpus().iterdir()] + [q.question for q in QUESTIONS]
                         + [p["question"] + " " + p["answer"] for p in SAMPLE_PAIRS])
    test_text = " ".join(p["question"] + " " + p["answer"] + " " + " ".join(p["paraphrases"]) for p in CORPUS_PAIRS)
    names = _names_in(demo_text) | _names_in(test_text) | _names_in(" ".join(q for q, _ in TWO_HOPS))
    assert {"Veltrona", "Marrowby", "Quessel", "Stroud", "Tamsin"} <= names
    source = inspect.getsource(synthetic)
    data = "\n".join(r["question"] + r["answer"] for r in shipped_data)
    assert not names & set(re.findall(r"[A-Za-z]+", source + data))
    # Relation wordings: anywhere in the generator's source, and in lower case in its data (invented names such as
    # "Race" may spell a word by chance).
    assert not HELD_OUT_RELATIONS & {w.lower() for w in re.findall(r"[A-Za-z]+", source)}
    assert not HELD_OUT_RELATIONS & set(re.findall(r"\b[a-z]+\b", data))


def test_shipped_adapter_is_small_fp16_and_matches_its_manifest():
    import hashlib

    from safetensors import safe_open

    adapter = executive_adapter_dir()
    manifest = json.loads((adapter / "manifest.json").read_text())
    assert manifest["format"] == EXECUTIVE_ADAPTER_FORMAT and manifest["base"]["spec"] == "embedded"
    assert manifest["data"]["examples"] == EXAMPLES and manifest["data"]["seed"] == SEED
    for name, info in manifest["files"].items():
        assert hashlib.sha256((adapter / name).read_bytes()).hexdigest() == info["sha256"], name
    weights = adapter / "adapter_model.safetensors"
    assert weights.stat().st_size < 5 * 2**20
    with safe_open(weights, "pt") as f:
        assert {str(f.get_tensor(k).dtype) for k in f.keys()} == {"torch.float16"}


@pytest.mark.slow
def test_embedded_executive_answers_a_two_hop_question_about_an_unseen_corpus(tmp_path, embedded_dir):
    from memo.executive import LocalMemory, ask
    from memo.llm import model_for
    from memo.memory import train
    from memo.paths import atomic_write_jsonl

    atomic_write_jsonl(tmp_path / "pairs.jsonl", CORPUS_PAIRS)
    train(tmp_path / "pairs.jsonl", tmp_path / "mem")
    memory = LocalMemory(tmp_path / "mem")
    executive = model_for("executive")  # the embedded model with its adapter, as the default config has it
    assert "-executive-" in executive.identity
    answered = []
    for question, expected in TWO_HOPS:
        result = ask(memory, question, executive, "chain")
        print(f"\n{question} -> {result.answer!r} (expected {expected}); steps "
              f"{[s.decision for s in result.trace.steps]}; degraded {result.degraded}")
        answered.append(expected.lower() in result.answer.lower())
    assert any(answered)
