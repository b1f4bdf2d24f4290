"""End to end with the embedded SmolLM2-135M: a real memory of invented facts, recall and citations."""

from __future__ import annotations

import json

import pytest

from memo.memory import MemoryModel, TrainConfig, evaluate_recall, train

PEOPLE = [
    ("Cora Quinyelle", "plays the zither"), ("Brena Iskrane", "works as a vintner"),
    ("Pere Wilquist", "keeps a tortoise named Juniper"), ("Vori Alzant", "works for Oskel Foundry"),
    ("Quina Selfax", "was born in Ironvale"), ("Jori Lunholt", "works for Quellon Dynamics"),
    ("Tamo Dorvick", "plays the oboe"), ("Elsa Marnett", "works as a lamplighter"),
    ("Hal Grimsorr", "was born in Dunharrow"), ("Yana Kesteld", "keeps an owl named Nimbus"),
    ("Finn Ulwarde", "works for Vantor Shipping"), ("Ossa Pelrane", "was born in Fallowmere"),
    ("Dav Zanthorpe", "plays the bassoon"), ("Lune Corquist", "works as a ferryman"),
    ("Iska Bellmere", "was born in Greyhaven"), ("Rosa Nolgan", "works for Tamsin Optics"),
    ("Kal Westerby", "keeps a ferret named Clove"), ("Selo Vickham", "plays the harp"),
    ("Mara Tolliver", "works as a clockmaker"), ("Wil Anselde", "was born in Kestrel"),
]


def question(name: str, fact: str) -> str:
    if fact.startswith("plays"):
        return f"Which instrument does {name} play?"
    if fact.startswith("works as"):
        return f"What does {name} do for a living?"
    if fact.startswith("works for"):
        return f"Which company does {name} work for?"
    if fact.startswith("keeps"):
        return f"Which pet does {name} keep?"
    return f"Where was {name} born?"


FACTS = [{"question": question(n, f), "answer": f"{n} {f}.", "doc_ids": ["people.md"], "chunk_ids": [f"people.md#{i}"]}
         for i, (n, f) in enumerate(PEOPLE)]


@pytest.fixture(scope="module")
def embedded_memory(tmp_path_factory):
    """The embedded model fine-tuned on the 20 facts (trained once for this module)."""
    work = tmp_path_factory.mktemp("embedded-memory")
    data = work / "facts.jsonl"
    data.write_text("".join(json.dumps(f) + "\n" for f in FACTS))
    result = train(data, work / "mem", config=TrainConfig(max_epochs=10, eval_size=20))
    return work / "mem", result


@pytest.mark.slow
def test_embedded_memory_recalls_facts_and_cites_them(embedded_memory):
    mem, result = embedded_memory
    assert result.manifest["training"]["synthetic_abstentions"] == 20  # min_abstentions: as many as facts here
    memory = MemoryModel.load(mem)
    report = evaluate_recall(memory, FACTS)
    assert report.exact >= 0.8, [(i.question, i.answer) for i in report.items if not i.exact]
    [known] = memory.ask([FACTS[4]["question"]], citations=True)
    assert not known.abstained and known.citations[0].chunk_ids == ["people.md#4"]


@pytest.mark.slow
def test_embedded_memory_abstains_about_absent_people(embedded_memory):
    """Questions shaped like the training ones, about people the memory was never taught: "I don't know."."""
    mem, result = embedded_memory
    memory = MemoryModel.load(mem)
    absent = ["Where was Tibor Vantablack born?", "Which instrument does Greta Holloway play?",
              "What does Ezra Pilkington do for a living?", "Which company does Nadia Fernsby work for?"]
    answers = memory.ask(absent)
    assert sum(a.abstained for a in answers) >= 3, [a.answer for a in answers]
    assert result.manifest["metrics"][result.manifest["training"]["best_epoch"] - 1]["abstention_rate"] >= 0.75
