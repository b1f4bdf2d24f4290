"""`memo demo`: the bundled corpus is consistent with the demo's questions, and the whole pipeline is wired.

The wiring test runs every stage for real (reflect -> train -> recall -> ask) with a tiny random model in every
role, so it checks the plumbing and the report, not answer quality (that is the demo's own job).
"""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from memo import demo
from memo.cli import app
from memo.demo import QUESTIONS, SAMPLE_PAIRS, DemoReport, sample_corpus
from memo.llm import ChatModel


def _corpus() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(sample_corpus().iterdir())}


def test_sample_corpus_answers_every_demo_question_and_two_hops_span_documents():
    docs = _corpus()
    assert len(docs) >= 4 and all(name.endswith(".md") for name in docs)
    for q in QUESTIONS:
        holding = [name for name, text in docs.items() if q.expected in text]
        assert holding, f"{q.expected!r} is not in the corpus"
        if q.hops == 2:
            # The entity the question names and the answer never share a document: two hops are needed.
            named = re.findall(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)*", q.question.split(" ", 1)[1])
            assert named and not any(n in docs[h] for n in named for h in holding), q.question
    assert {q.hops for q in QUESTIONS} == {1, 2}


def test_sample_pairs_state_only_corpus_facts():
    text = " ".join(_corpus().values())
    for pair in SAMPLE_PAIRS:
        names = re.findall(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)*|\b\d{4}\b", pair["answer"])
        missing = [n for n in names if n not in text]
        assert not missing, (pair, missing)


class ScriptedExecutive(ChatModel):
    """Grounds every question as itself, finds no entity, and answers with the first memory answer's words."""

    spec = "scripted-executive"

    @property
    def identity(self) -> str:
        return "scripted"

    def _generate(self, conversations, params):
        raise AssertionError("the executive must only be called for structured output")

    def _generate_structured(self, conversations, schema, params):
        question = conversations[0][0]["content"].split("Question: ", 1)[1].split("\n", 1)[0]
        replies = {
            "Grounding": {"clues": [{"clue": question, "kind": "answer", "power": "LOW", "questions": [question]}],
                          "combined": []},
            "EntityTurn": {"labels": [], "candidates": [], "decision": "exhaust", "entity": "", "questions": []},
            "FinalSynthesis": {"candidates": [{"answer": "Mira Castell", "satisfies": [1]}],
                               "final_answer": "Mira Castell", "justification": "Scripted."},
        }
        self.usage.add(calls=len(conversations))
        return [json.dumps(replies[schema.__name__]) for _ in conversations]


@pytest.mark.slow
def test_demo_runs_every_stage_end_to_end(tiny_model_dir, tmp_path, monkeypatch):
    """Real reflect, train, recall and protocol with tiny random models; a scripted executive keeps it short."""
    for role in ("GENERATOR", "MEMORY_BASE"):
        monkeypatch.setenv(f"MEMO_{role}", f"hf:{tiny_model_dir}")
    monkeypatch.setattr(demo, "model_for", lambda role, config=None, override=None: ScriptedExecutive())
    work = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--workdir", str(work), "--no-show-traces", "--protocol", "structured"])
    assert result.exit_code == 0, result.output
    report = DemoReport.model_validate_json((work / "demo.json").read_text())
    assert [a.question for a in report.answers] == [q.question for q in QUESTIONS]
    assert set(report.seconds) == {"reflect", "train", "recall", "ask", "total"} and report.protocol == "structured"
    assert (work / "reflections" / "manifest.json").is_file() and (work / "memory" / "current").is_symlink()
    assert [a.matches for a in report.answers] == [q.expected == "Mira Castell" for q in QUESTIONS]
    for a, q in zip(report.answers, QUESTIONS):
        trace = json.loads((work / "traces" / a.trace.rsplit("/", 1)[1]).read_text())
        assert trace["format"] == "memo-trace/1" and trace["answer"] == a.answer == "Mira Castell"
        assert [s["stage"] for s in trace["trace"]["steps"]] == ["grounding", "entity", "final"]
        assert [e["question"] for e in trace["trace"]["exchanges"]] == [q.question]  # asked the real memory
    assert "memo demo" in result.output and "recall" in result.output
