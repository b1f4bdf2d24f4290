"""Protocol logic with a scripted executive and a scripted memory (deterministic; tests only)."""

from __future__ import annotations

import json

import pytest

from memo.executive import AskResult, ExecutiveSettings, MemoryClient, MemoryReply, ask, render_tree
from memo.llm import ChatModel, GenParams
from memo.records import ABSTAIN


class ScriptedExecutive(ChatModel):
    """Replies per schema name from a list, in order (the last reply repeats); records every prompt it saw."""

    spec = "scripted-executive"

    def __init__(self, script: dict[str, list]):
        super().__init__()
        self.script = {k: list(v) for k, v in script.items()}
        self.prompts: list[tuple[str, str]] = []

    @property
    def identity(self) -> str:
        return "scripted"

    def _generate(self, conversations, params: GenParams) -> list[str]:
        raise AssertionError("the executive must only be called for structured output")

    def _generate_structured(self, conversations, schema, params) -> list[str]:
        out = []
        for conv in conversations:
            self.prompts.append((schema.__name__, conv[0]["content"]))
            replies = self.script[schema.__name__]
            reply = replies.pop(0) if len(replies) > 1 else replies[0]
            out.append(reply if isinstance(reply, str) else json.dumps(reply))
            self.usage.add(calls=1, prompt_tokens=10, completion_tokens=5)
        return out


class ScriptedMemory(MemoryClient):
    """Answers from a dict (exact question), else "I don't know."; records each batch it received."""

    description = "scripted-memory"

    def __init__(self, facts: dict[str, str]):
        super().__init__()
        self.facts = facts
        self.batches: list[list[str]] = []

    def _ask(self, questions, temperature, max_tokens, seed) -> list[MemoryReply]:
        self.batches.append(list(questions))
        return [MemoryReply(question=q, answer=self.facts.get(q, ABSTAIN), abstained=q not in self.facts)
                for q in questions]

    def asked(self) -> list[str]:
        return [q for b in self.batches for q in b]


Q = "In which city was the founder of Veltrona Labs born?"
GROUNDING = {
    "clues": [
        {"clue": "founder of Veltrona Labs", "kind": "entity", "power": "HIGH",
         "questions": ["Who founded Veltrona Labs?", "Who started a company called Veltrona Labs?",
                       "Which people created Veltrona Labs?"]},
        {"clue": "city of birth", "kind": "answer", "power": "LOW",
         "questions": ["Where was the founder born?", "ignored: LOW clues get one question"]},
    ],
    "combined": ["Who founded Veltrona Labs and where were they born?"],
}
MEMORY = {
    "Who founded Veltrona Labs?": "Mira Castell founded Veltrona Labs in 2011.",
    "Where was Mira Castell born?": "Mira Castell was born in Porto Velho.",
    "Where was Anton Reyes born?": "Anton Reyes was born in Lisbon.",
}


def entity_turn(decision="ask", candidates=(), entity="", questions=(), labels=()):
    return {"labels": [{"n": n, "label": lab, "candidate": c} for n, lab, c in labels],
            "candidates": list(candidates), "decision": decision, "entity": entity, "questions": list(questions)}


def answer_turn(decision="ask", questions=(), answer="", pivot_to="", ratings=(), facts=()):
    return {"role": "intermediate", "target": "birth city", "ratings": [{"n": n, "label": lab} for n, lab in ratings],
            "facts": list(facts), "unknowns": [], "decision": decision, "answer": answer, "pivot_to": pivot_to,
            "questions": list(questions)}


def final(final_answer, candidates=(), justification="Because the memory said so."):
    return {"candidates": [{"answer": a, "satisfies": list(s)} for a, s in candidates],
            "final_answer": final_answer, "justification": justification}


def run(script, memory=MEMORY, protocol="structured", **settings) -> tuple[AskResult, ScriptedExecutive, ScriptedMemory]:
    executive, mem = ScriptedExecutive(script), ScriptedMemory(memory)
    result = ask(mem, Q, executive, protocol, ExecutiveSettings(**settings))
    return result, executive, mem


def stages(result: AskResult) -> list[str]:
    return [s.stage for s in result.trace.steps]


def test_entity_confirmed_in_stage_two_then_answered():
    result, executive, mem = run({
        "Grounding": [GROUNDING],
        "EntityTurn": [entity_turn("confirm", ["Mira Castell"], "Mira Castell",
                                   labels=[(2, "new_candidate", "Mira Castell")])],
        "AnswerTurn": [answer_turn(questions=["Where was Mira Castell born?"]),
                       answer_turn("answer", answer="Porto Velho", ratings=[(8, "relevant")])],
        "FinalSynthesis": [final("Porto Velho", [("Porto Velho", [1, 2])])],
    })
    # Stage 1, one memory batch: the question itself, 3 questions for the HIGH clue, 1 for the LOW clue, and the
    # combination question.
    assert mem.batches[0] == [Q] + GROUNDING["clues"][0]["questions"] + ["Where was the founder born?",
                                                                        GROUNDING["combined"][0]]
    assert stages(result) == ["grounding", "entity", "answer", "answer", "final"]
    assert result.entity == "Mira Castell" and result.entity_confirmed
    assert result.answer == "Porto Velho"
    assert mem.batches[1] == ["Where was Mira Castell born?"]
    # The second stage-3 turn saw the answer to its question, numbered after the six grounding exchanges.
    assert "[7] Q: Where was Mira Castell born?" in executive.prompts[3][1]
    assert result.trace.memory_usage["questions"] == 7
    assert result.trace.executive_usage["calls"] == 5
    final_prompt = executive.prompts[-1][1]
    answers = final_prompt.split("Memory answers:")[1].split("Facts by entity:")[0]
    assert "Mira Castell was born in Porto Velho." in answers and ABSTAIN not in answers


def test_sub_question_is_a_dead_end_after_three_idks():
    repeat = "Who owns the Veltrona patents?"
    result, executive, mem = run({
        "Grounding": [GROUNDING],
        "EntityTurn": [entity_turn(questions=[repeat])] * 4 + [entity_turn("exhaust")],
        "FinalSynthesis": [final(ABSTAIN)],
    }, entity_turns=5)
    assert mem.asked().count(repeat) == 3  # the 4th request was dropped before reaching the memory
    assert any("dropped" in n for s in result.trace.steps for n in s.notes)
    assert repeat in executive.prompts[4][1].split("Dead ends")[1]
    assert result.answer == ABSTAIN


def test_candidate_demoted_after_two_and_eliminated_after_three_targeted_idks():
    asks = [["Did Anton Reyes found Veltrona Labs?"], ["Is Anton Reyes a founder?"], ["Did Anton Reyes start it?"]]
    result, executive, mem = run({
        "Grounding": [GROUNDING],
        "EntityTurn": [entity_turn(candidates=["Anton Reyes", "Mira Castell"], questions=q,
                                   labels=[(2, "new_candidate", "Mira Castell")]) for q in asks]
                      + [entity_turn("exhaust", ["Anton Reyes", "Mira Castell"])],
        "AnswerTurn": [answer_turn("answer", answer="Porto Velho")],
        "FinalSynthesis": [final("Porto Velho", [("Porto Velho", [1, 2])])],
    })
    entity_steps = [s for s in result.trace.steps if s.stage == "entity"]
    assert entity_steps[0].candidates == ["Anton Reyes", "Mira Castell"]
    assert entity_steps[2].candidates == ["Mira Castell", "Anton Reyes"]  # demoted after 2 IDKs despite ranking
    assert entity_steps[3].candidates == ["Mira Castell"]  # eliminated after 3; the executive cannot revive it
    notes = [n for s in result.trace.steps for n in s.notes]
    assert any("demoted" in n for n in notes) and any("eliminated" in n for n in notes)
    assert result.entity == "Mira Castell" and not result.entity_confirmed  # exhaust carries rank-1, unconfirmed


def test_budget_exhausted_carries_rank_one_as_hypothesis():
    result, executive, mem = run({
        "Grounding": [GROUNDING],
        "EntityTurn": [entity_turn(candidates=["Mira Castell", "Anton Reyes"], questions=["Who else?"],
                                   labels=[(2, "new_candidate", "Mira Castell")]),
                       entity_turn(candidates=["Mira Castell", "Anton Reyes"], questions=["Anyone else?"])],
        "AnswerTurn": [answer_turn(questions=["Where was she born?"])],
        "FinalSynthesis": [final("Porto Velho", [("Porto Velho", [1])])],
    }, entity_turns=2, answer_turns=2)
    assert stages(result) == ["grounding", "entity", "entity", "answer", "answer", "final"]
    assert result.entity == "Mira Castell" and not result.entity_confirmed
    assert any("rank-1" in n for n in result.trace.steps[2].notes)
    assert "unconfirmed hypothesis" in executive.prompts[3][1]
    # Stage-3 sub-questions always name the entity.
    assert "Mira Castell: Where was she born?" in mem.asked()
    assert any("answer budget spent" in n for n in result.trace.steps[-2].notes)


def test_no_candidate_goes_straight_to_synthesis():
    result, executive, mem = run({
        "Grounding": [GROUNDING],
        "EntityTurn": [entity_turn("exhaust")],
        "FinalSynthesis": [final(ABSTAIN)],
    }, memory={})
    assert stages(result) == ["grounding", "entity", "final"]
    assert result.entity is None and result.answer == ABSTAIN
    assert any("straight to final synthesis" in n for n in result.trace.steps[1].notes)


def test_pivot_in_stage_three():
    result, executive, mem = run({
        "Grounding": [GROUNDING],
        "EntityTurn": [entity_turn("confirm", ["Mira Castell", "Anton Reyes"], "Mira Castell",
                                   labels=[(2, "new_candidate", "Mira Castell")])],
        "AnswerTurn": [answer_turn("pivot", ["Where was Anton Reyes born?"], pivot_to="Anton Reyes"),
                       answer_turn("answer", answer="Lisbon", ratings=[(7, "relevant")])],
        "FinalSynthesis": [final("Lisbon", [("Lisbon", [1, 2])])],
    })
    pivot = [s for s in result.trace.steps if s.stage == "answer"][0]
    assert pivot.decision.startswith("pivot to Anton Reyes")
    assert result.entity == "Anton Reyes" and not result.entity_confirmed
    assert "Entity: Anton Reyes" in executive.prompts[3][1]
    assert result.answer == "Lisbon"


def test_malformed_output_is_retried_then_degrades_gracefully():
    # Grounding: one malformed answer and its malformed repair, then a valid one on the retry.
    # Every later step stays malformed: stage 2 stops, stage 3 is skipped, synthesis falls back.
    result, executive, mem = run({
        "Grounding": ["not json", "{still not json", GROUNDING],
        "EntityTurn": ["{}"],
        "FinalSynthesis": ['{"final_answer": 3}'],
    }, retries=1)
    grounding, entity, final_step = result.trace.steps
    assert grounding.attempts == 2 and grounding.error is None
    assert entity.error and entity.attempts == 2 and entity.decision.startswith("malformed")
    assert final_step.error and final_step.decision.startswith("malformed")
    # The best collected evidence survives: the last non-IDK memory answer.
    assert result.answer == "Mira Castell founded Veltrona Labs in 2011."


def test_final_answer_is_the_candidate_covering_most_constraints():
    result, _, _ = run({
        "Grounding": [GROUNDING],
        "EntityTurn": [entity_turn("exhaust")],
        "FinalSynthesis": [final("Lisbon", [("Lisbon", [1, 1, 9]), ("Porto Velho", [1, 2])])],
    }, memory={})
    assert result.answer == "Porto Velho"  # [1, 1, 9] covers one valid constraint, not three
    assert any("replaced" in n for n in result.trace.steps[-1].notes)


def test_single_baseline_decomposes_once():
    result, executive, mem = run({
        "Decomposition": [{"questions": ["Who founded Veltrona Labs?", "Where was Mira Castell born?"]}],
        "Response": [{"final_answer": "Porto Velho", "justification": "Mira Castell founded it."}],
    }, protocol="single")
    assert stages(result) == ["decompose", "respond"]
    assert mem.batches == [[Q, "Who founded Veltrona Labs?", "Where was Mira Castell born?"]]
    assert result.answer == "Porto Velho" and result.protocol == "single"


def test_multi_baseline_stops_at_its_turn_budget():
    result, executive, mem = run({
        "MultiTurn": [{"decision": "ask", "question": "Who founded Veltrona Labs?", "final_answer": "",
                       "justification": ""}],
        "Response": [{"final_answer": "Mira Castell", "justification": "From the memory."}],
    }, protocol="multi", multi_turns=3)
    # Turn 0 asks the question itself, then one question per turn.
    assert stages(result) == ["multi", "multi", "multi", "multi", "respond"]
    assert mem.batches[0] == [Q] and len(mem.batches) == 4 and all(len(b) == 1 for b in mem.batches)
    assert result.answer == "Mira Castell"


def test_multi_baseline_answers_when_ready():
    result, _, mem = run({
        "MultiTurn": [{"decision": "ask", "question": "Who founded Veltrona Labs?", "final_answer": "",
                       "justification": ""},
                      {"decision": "answer", "question": "", "final_answer": "Mira Castell",
                       "justification": "The memory named her."}],
    }, protocol="multi")
    assert stages(result) == ["multi", "multi", "multi"] and result.answer == "Mira Castell"


def test_trace_round_trips_and_renders(tmp_path):
    from rich.console import Console

    from memo.executive import SourceCitation

    class CitingMemory(ScriptedMemory):
        def _ask(self, questions, temperature, max_tokens, seed):
            replies = super()._ask(questions, temperature, max_tokens, seed)
            for r in replies:  # pairs trained from a plain QA file have no document ids
                r.citations = [] if r.abstained else [SourceCitation(doc_id=None, question=r.question, answer=r.answer,
                                                                     score=0.9)]
            return replies

    result = ask(CitingMemory(MEMORY), Q, ScriptedExecutive({
        "Grounding": [GROUNDING],
        "EntityTurn": [entity_turn("confirm", ["Mira Castell"], "Mira Castell")],
        "AnswerTurn": [answer_turn("answer", answer="Porto Velho")],
        "FinalSynthesis": [final("Porto Velho")],
    }), "structured", ExecutiveSettings())
    assert [c.question for c in result.citations] == ["Who founded Veltrona Labs?"]
    result.save(tmp_path / "t.json")
    loaded = AskResult.load(tmp_path / "t.json")
    assert loaded == result and json.loads((tmp_path / "t.json").read_text())["format"] == "memo-trace/1"
    console = Console(record=True, width=120)
    console.print(render_tree(loaded))
    text = console.export_text()
    assert "Who founded Veltrona Labs?" in text and "answer: Porto Velho" in text and "confirm Mira Castell" in text
    assert "source (no document id)" in text


def test_bad_inputs_have_clear_errors():
    with pytest.raises(ValueError, match="unknown protocol"):
        run({}, protocol="chaotic")
    with pytest.raises(ValueError, match="empty"):
        ask(ScriptedMemory({}), "  ", ScriptedExecutive({}))
