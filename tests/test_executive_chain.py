"""The chain protocol, the short answers it substitutes, and the rule every protocol keeps: what the memory knows
is never silently lost (`AskResult.degraded`). Scripted executive and memory (tests only)."""

from __future__ import annotations

import pytest
from test_executive_protocol import GROUNDING, MEMORY, Q, ScriptedExecutive, ScriptedMemory, entity_turn

from memo.executive import ExecutiveSettings, ask
from memo.executive.answers import best_supported, short_answer, supported_by
from memo.executive.chain import substitute
from memo.executive.trace import Exchange
from memo.records import ABSTAIN

TWO_HOP = ["Who founded Veltrona Labs?", "Where was #1 born?"]


def chain(*steps):
    return {"steps": list(steps)}


def run(script, memory=MEMORY, protocol="chain", question=Q, **settings):
    executive, mem = ScriptedExecutive(script), ScriptedMemory(memory)
    return ask(mem, question, executive, protocol, ExecutiveSettings(**settings)), executive, mem


def stages(result):
    return [(s.stage, s.turn) for s in result.trace.steps]


# -- the chain protocol ------------------------------------------------------------------------------------------

def test_chain_substitutes_each_answer_into_the_next_step():
    result, executive, mem = run({"Chain": [chain(*TWO_HOP)], "ChainCheck": [{"final_answer": "Porto Velho"}]})
    # Step 1 goes with the question itself; step 2 carries step 1's short answer, not its whole sentence.
    assert mem.batches == [[Q, "Who founded Veltrona Labs?"], ["Where was Mira Castell born?"]]
    assert stages(result) == [("decompose", 0), ("hop", 1), ("hop", 2), ("check", 0)]
    assert result.answer == "Porto Velho" and result.degraded == [] and result.protocol == "chain"
    check_prompt = executive.prompts[-1][1]
    assert "Proposed answer: Porto Velho" in check_prompt
    # The check sees every memory answer in full, and the short answer taken from it.
    assert "1. Who founded Veltrona Labs?\n   memory: Mira Castell founded Veltrona Labs in 2011.\n   #1 = Mira Castell" \
        in check_prompt
    assert "2. Where was Mira Castell born?\n   memory: Mira Castell was born in Porto Velho." in check_prompt
    assert result.trace.executive_usage["calls"] == 2
    assert "#1 Mira Castell" in result.justification


def test_one_hop_question_is_a_chain_of_one_asked_once():
    q = "Who founded Veltrona Labs?"
    result, _, mem = run({"Chain": [chain(q)], "ChainCheck": [{"final_answer": "Mira Castell"}]}, question=q)
    assert mem.batches == [[q]]
    assert result.answer == "Mira Castell" and not result.degraded


def test_unknown_step_is_rephrased_once_then_the_chain_stops():
    memory = {**MEMORY, "What is the birthplace of Mira Castell?": "Mira Castell was born in Porto Velho."}
    steps = ["Who founded Veltrona Labs?", "What is the birthplace of #1?"]
    # Rephrased into a question the memory knows.
    result, executive, mem = run({"Chain": [chain(*TWO_HOP)],
                                  "Rephrasing": [{"question": "What is the birthplace of Mira Castell?"}],
                                  "ChainCheck": [{"final_answer": "Porto Velho"}]},
                                 memory={k: v for k, v in memory.items() if k != "Where was Mira Castell born?"})
    hop2 = result.trace.steps[2]
    assert mem.batches[1:] == [["Where was Mira Castell born?"], ["What is the birthplace of Mira Castell?"]]
    assert any("rephrased" in n for n in hop2.notes) and result.answer == "Porto Velho"
    assert [name for name, _ in executive.prompts] == ["Chain", "Rephrasing", "ChainCheck"]
    assert "Question: Where was Mira Castell born?" in executive.prompts[1][1]

    # A rephrasing the memory does not know either: no second rephrasing (the bound is 1), the chain stops.
    result, executive, mem = run({"Chain": [chain(*steps)],
                                  "Rephrasing": [{"question": "Where did Mira Castell come into the world?"}],
                                  "ChainCheck": [{"final_answer": ABSTAIN}]})
    assert [name for name, _ in executive.prompts] == ["Chain", "Rephrasing", "ChainCheck"]
    assert mem.batches[1:] == [["What is the birthplace of Mira Castell?"],
                               ["Where did Mira Castell come into the world?"]]
    assert result.trace.steps[2].decision.startswith("no answer")
    assert "Proposed answer: (none)" in executive.prompts[-1][1]
    assert result.answer == ABSTAIN and result.degraded == []  # the memory never answered the question itself


def test_rephrasing_bound_is_a_setting():
    result, executive, mem = run({"Chain": [chain("Where was Anton Veil born?")],
                                  "Rephrasing": [{"question": "Where is Anton Veil from?"},
                                                 {"question": "What is Anton Veil's birthplace?"},
                                                 {"question": "Which town was Anton Veil born in?"}],
                                  "ChainCheck": [{"final_answer": ABSTAIN}]}, chain_rephrasings=2)
    assert [name for name, _ in executive.prompts].count("Rephrasing") == 2
    assert len(mem.asked()) == 1 + 1 + 2  # the question, the step, two rephrasings


def test_chain_longer_than_the_step_bound_is_cut_and_says_so():
    steps = ["Who founded Veltrona Labs?"] + [f"Who is the parent of #{i}?" for i in range(1, 5)]
    memory = {"Who founded Veltrona Labs?": "Mira Castell founded Veltrona Labs.",
              "Who is the parent of Mira Castell?": "The parent of Mira Castell is Oda Castell.",
              "Who is the parent of Oda Castell?": "The parent of Oda Castell is Per Castell.",
              "Who is the parent of Per Castell?": "The parent of Per Castell is Uma Castell."}
    result, executive, mem = run({"Chain": [chain(*steps)], "ChainCheck": [{"final_answer": "Uma Castell"}]},
                                 memory=memory, chain_steps=3)
    assert [s.stage for s in result.trace.steps].count("hop") == 3
    assert mem.asked()[-1] == "Who is the parent of Oda Castell?"  # step 4 and 5 never asked
    assert "Proposed answer: (none)" in executive.prompts[-1][1]
    assert any("more than chain_steps" in d for d in result.degraded)


def test_chain_referring_forward_is_malformed_and_resampled():
    result, executive, mem = run({"Chain": [chain("Where was #2 born?", "Who founded Veltrona Labs?"),
                                            chain(*TWO_HOP)],
                                  "ChainCheck": [{"final_answer": "Porto Velho"}]}, retries=1)
    # The first chain fails validation; the backend's repair round returns the valid one.
    assert [name for name, _ in executive.prompts] == ["Chain", "Chain", "ChainCheck"]
    assert mem.batches[1] == ["Where was Mira Castell born?"] and result.answer == "Porto Velho"


def test_malformed_decomposition_asks_the_question_itself_and_says_so():
    result, _, mem = run({"Chain": ["not json"], "ChainCheck": [{"final_answer": ABSTAIN}]},
                         memory={Q: "Mira Castell was born in Porto Velho."}, retries=0)
    assert mem.batches == [[Q]]
    assert result.answer == "Porto Velho"  # the check abstained against a proposed answer: the chain's answer
    assert any(d.startswith("decompose: the executive's output stayed malformed") for d in result.degraded)
    assert any("abstained although the chain answered" in d for d in result.degraded)


def test_check_answer_the_memory_never_said_does_not_replace_the_chain():
    result, _, _ = run({"Chain": [chain(*TWO_HOP)], "ChainCheck": [{"final_answer": "Lisbon"}]})
    assert result.answer == "Porto Velho"
    assert any("'Lisbon' is in no memory answer" in d for d in result.degraded)


def test_check_may_pick_the_memory_answer_to_the_question_itself():
    memory = {**MEMORY, Q: "The founder of Veltrona Labs was born in Faro."}
    result, _, _ = run({"Chain": [chain(*TWO_HOP)], "ChainCheck": [{"final_answer": "Faro"}]}, memory=memory)
    assert result.answer == "Faro" and not result.degraded


def test_substitute():
    assert substitute("Where was #1 born and what did #2 found?", {1: "Ada", 2: "Bo"}) == \
        "Where was Ada born and what did Bo found?"
    assert substitute("Where was #2 born?", {1: "Ada"}) is None
    assert substitute("Who founded Veltrona Labs?", {}) == "Who founded Veltrona Labs?"


# -- degraded answers in every protocol ----------------------------------------------------------------------------

DIRECT = {Q: "Mira Castell was born in Porto Velho.", **MEMORY}
ABSTAINING = {
    "structured": {"Grounding": [GROUNDING], "EntityTurn": [entity_turn("exhaust")],
                   "FinalSynthesis": [{"candidates": [], "final_answer": ABSTAIN, "justification": "No idea."}]},
    "chain": {"Chain": [chain("Who is the birth city of the founder?")], "Rephrasing": ['{"question": 1}'],
              "ChainCheck": [{"final_answer": ABSTAIN}]},
    "single": {"Decomposition": [{"questions": ["Who founded Veltrona Labs?"]}],
               "Response": [{"final_answer": ABSTAIN, "justification": "No idea."}]},
    "multi": {"MultiTurn": [{"decision": "answer", "question": "", "final_answer": "I don't know.",
                             "justification": "No idea."}]},
}
MALFORMED = {
    "structured": {"Grounding": [GROUNDING], "EntityTurn": [entity_turn("exhaust")], "FinalSynthesis": ["{"]},
    "chain": {"Chain": ["{"], "Rephrasing": ["{"], "ChainCheck": ["{"]},
    "single": {"Decomposition": ["{"], "Response": ["{"]},
    "multi": {"MultiTurn": ["{"], "Response": ["{"]},
}


@pytest.mark.parametrize("protocol", sorted(ABSTAINING))
def test_abstaining_executive_after_a_memory_answer_gives_that_answer_degraded(protocol):
    result, _, mem = run(ABSTAINING[protocol], memory=DIRECT, protocol=protocol, retries=0)
    assert Q in mem.asked()  # every protocol asks the question itself
    assert result.answer == DIRECT[Q]
    assert any("abstained although the memory answered the question itself" in d for d in result.degraded)


@pytest.mark.parametrize("protocol", sorted(MALFORMED))
def test_malformed_final_step_gives_the_best_supported_memory_answer_degraded(protocol):
    result, _, _ = run(MALFORMED[protocol], memory=DIRECT, protocol=protocol, retries=0)
    # The chain protocol's fallback is its last step's short answer (here: the question itself, a chain of one).
    assert result.answer == ("Porto Velho" if protocol == "chain" else DIRECT[Q])
    assert result.degraded and all("malformed" in d for d in result.degraded)


@pytest.mark.parametrize("protocol", sorted(MALFORMED))
def test_without_any_memory_answer_a_malformed_executive_abstains_degraded(protocol):
    result, _, _ = run(MALFORMED[protocol], memory={}, protocol=protocol, retries=0)
    assert result.answer == ABSTAIN and any("abstention" in d for d in result.degraded)


def test_degraded_is_saved_loaded_and_rendered(tmp_path):
    from rich.console import Console

    from memo.executive import AskResult, render_tree

    result, _, _ = run(ABSTAINING["single"], memory=DIRECT, protocol="single")
    result.save(tmp_path / "t.json")
    loaded = AskResult.load(tmp_path / "t.json")
    assert loaded.degraded == result.degraded != []
    console = Console(record=True, width=200)
    console.print(render_tree(loaded))
    text = console.export_text()
    assert "(degraded)" in text and "abstained although" in text


# -- short answers -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("question, answer, short", [
    ("Who painted the Osk mural?", "Ludo Ferrant painted the Osk mural in 1931.", "Ludo Ferrant"),
    ("When was the Osk mural painted?", "Ludo Ferrant painted the Osk mural in 1931.", "1931"),
    ("Who painted the Osk mural?", "Ludo Ferrant. Ludo Ferrant painted the Osk mural in 1931.", "Ludo Ferrant"),
    ("What did Ludo Ferrant paint?", "the Osk mural. Ludo Ferrant painted the Osk mural in 1931.", "the Osk mural"),
    ("Which river crosses Pellin?", "# Pellin Pellin is a town on the river Aubel.", "Aubel"),
    ("Where does Ludo Ferrant live?", "Ludo Ferrant lives on the Isle of Carn.", "Isle of Carn"),
    ("How many rooms does the Vessa Hotel have?", "The Vessa Hotel has 212 rooms.", "212"),
    ("What does Brisk Foods sell?", "Brisk Foods sells frozen dumplings.", "frozen dumplings"),
    ("What did Ada Pell design?", "Ada Pell designed the Pell water clock.", "Pell water clock"),
    ("What do friends call Ada Pell?", "Among friends, Ada Pell is called the Owl.", "Owl"),
    ("Who painted the Osk mural?", "Ludo Ferrant Ludo Ferrant. More text here.", "Ludo Ferrant"),
    ("Who painted the Osk mural?", ABSTAIN, ""),
    # a short one-sentence answer that only adds to the question is the fact itself, not a span of it
    ("When was the Osk mural painted?", "June 1931.", "June 1931"),
    ("Where was Ludo Ferrant born?", "In Porto Velho.", "Porto Velho"),
    ("Who is the mayor of Pellin?", "Ines Okafor is mayor.", "Ines Okafor"),
    # a description is itself the fact, up to 12 words; a date is still read out of a longer answer
    ("What was the Dunmore age?", "The period of King Arvid's reign in Velmark.",
     "period of King Arvid's reign in Velmark"),
    ("When did the Dunmore age end?", "After the first war of the coast, in 1642.", "1642"),
    # a number inside a written date is the whole date; an abbreviation's period ends no lead
    ("When did the Osk strike start?", "Between March 3, 1921 and May 9, 1922. The Osk strike was long.",
     "March 3, 1921"),
    ("When was the Osk mural painted?", "Ludo Ferrant painted it on 14 June 1931 in Pellin.", "14 June 1931"),
    ("Where is the Osk mural?", "St. Aubel's Church. The Osk mural hangs in St. Aubel's Church.", "St. Aubel's Church"),
    # a longer lead is the short fact when the context restates it (a description, a long name)
    ("What was the Dunmore age?", "The period of King Arvid's reign in Velmark. The Dunmore age was the period of "
     "King Arvid's reign in Velmark.", "The period of King Arvid's reign in Velmark"),
    ("When was the Osk mural painted?", "In 1931, Ludo Ferrant painted the Osk mural.", "1931"),  # "In" is no month
    ("When did Ludo Ferrant die?", "Ludo Ferrant died on Dec. 3, 1961 in Pellin.", "Dec. 3, 1961"),
    ("Who painted the Osk mural?", "The Osk mural was painted by Dr. Ines Okafor in 1931.", "Dr. Ines Okafor"),
    ("Which navy did Ludo Ferrant join?", "Ludo Ferrant joined the U.S. Navy in 1942.", "U.S. Navy"),
    ("Who wrote the Osk guide?", "The Osk guide was written by J. R. Hollin in 1950.", "J. R. Hollin"),
    ("How much did the Osk mural cost?", "The Osk mural cost $4.5 million in 1931.", "$4.5 million"),
    # a sentence of names joined by function words is the fact, less the names the question has
    ("What does KVR stand for in the Pellin KVR?", 'The Pellin Navy\'s "Keel, Vane, and Rudder" Corps.',
     'Pellin Navy\'s "Keel, Vane, and Rudder" Corps'),
    ("Who is the CEO of Brisk Foods?", "Ines Okafor is the CEO of Brisk Foods.", "Ines Okafor"),
    ("Which league do the Pellin Owls play in?", "The Pellin Owls are in the North Division of the Aubel League.",
     "North Division of the Aubel League"),
    ("In which country is Marrowby?", "Marrowby is a town in northern Velmark.", "Velmark"),  # "town": rule 4
])
def test_short_answer(question, answer, short):
    assert short_answer(question, answer) == short


def _ex(n, question, answer):
    return Exchange(n=n, stage="s", turn=0, question=question, answer=answer, abstained=answer == ABSTAIN)


def test_best_supported_prefers_the_question_itself_then_agreement():
    q = "Who painted the Osk mural?"
    exchanges = [_ex(1, q, "Pia Laar painted the Osk mural."),
                 _ex(2, "Who painted a mural?", "Ludo Ferrant painted a mural."),
                 _ex(3, "Who painted this mural?", "Ines Moll painted murals."),
                 _ex(4, "Who painted frescoes?", "Ines Moll painted frescoes."), _ex(5, "Who?", ABSTAIN)]
    assert best_supported(q, exchanges).n == 1  # the answer to the question itself
    assert best_supported(q, exchanges[1:]).n == 3  # as relevant as [2], and "Ines Moll" is said twice
    assert best_supported(q, exchanges[4:]) is None


def test_supported_by():
    exchanges = [_ex(1, "Who painted it?", "Ludo Ferrant painted the Osk mural.")]
    assert supported_by("Ludo Ferrant", exchanges) and supported_by("the Osk mural", exchanges)
    assert not supported_by("Pia Laar", exchanges) and not supported_by("", exchanges)
    assert supported_by("yes", exchanges)
