"""What the serving tests share: a tiny memory trained in the test, two versions of its facts, and a scripted
executive (tests only) whose replies are valid for the structured protocol's schemas (the services under test
are started with protocol="structured")."""

from __future__ import annotations

import json
from pathlib import Path

from memo.llm import ChatModel, GenParams
from memo.memory import TrainConfig, train

VAULTS = "Alpha Bravo Delta Echo Kilo Lima".split()
V1_CODES = "red blue green gold pink gray".split()
V2_CODES = "teal navy lime rose plum jade".split()


def facts(codes: list[str]) -> list[dict]:
    return [{"question": f"What is the code of vault {v}?", "answer": c, "doc_ids": [f"doc-{v.lower()}"],
             "chunk_ids": [f"doc-{v.lower()}#0"]} for v, c in zip(VAULTS, codes)]


# Tiny random models learn at a high rate and need their embeddings trained; no synthetic abstentions.
TINY = TrainConfig(max_epochs=60, batch_size=2, lr=3e-3, freeze_embeddings=False, freeze_layers=0,
                   schedule="constant", warmup_ratio=0.0, abstention_ratio=0.0, eval_size=6, patience=100)


def train_version(store: Path, base_dir: Path, codes: list[str]) -> str:
    """Train the tiny base on the vault facts with `codes` as a new version of `store`; returns its name."""
    data = store.parent / f"facts-{codes[0]}.jsonl"
    data.write_text("".join(json.dumps(f) + "\n" for f in facts(codes)))
    result = train(data, store, base=f"hf:{base_dir}", config=TINY)
    assert result.manifest["metrics"][-1]["recall"] == 1.0, result.manifest["metrics"]
    return result.artifact.name


QUESTION = "Which code opens the vault that Alpha names?"
SCRIPT = {
    "Grounding": {"clues": [{"clue": "vault Alpha", "kind": "entity", "power": "LOW",
                             "questions": ["What is the code of vault Alpha?"]}], "combined": []},
    "EntityTurn": {"labels": [], "candidates": ["vault Alpha"], "decision": "confirm", "entity": "vault Alpha",
                   "questions": []},
    "AnswerTurn": {"role": "subject", "target": "code", "ratings": [], "facts": [], "unknowns": [],
                   "decision": "answer", "answer": "red", "pivot_to": "", "questions": []},
    "FinalSynthesis": {"candidates": [{"answer": "red", "satisfies": [1]}], "final_answer": "red",
                       "justification": "The memory says vault Alpha's code is red."},
}


class ScriptedExecutive(ChatModel):
    """Replies with SCRIPT[schema name] (tests only: it exercises the server, not the protocol's judgement)."""

    spec = "scripted-executive"
    constrained = True

    @property
    def identity(self) -> str:
        return "scripted-executive"

    def _generate(self, conversations, params: GenParams) -> list[str]:
        raise AssertionError("the executive is only asked for structured output")

    def _generate_structured(self, conversations, schema, params) -> list[str]:
        self.usage.add(calls=len(conversations), prompt_tokens=10 * len(conversations),
                       completion_tokens=5 * len(conversations))
        return [json.dumps(SCRIPT[schema.__name__]) for _ in conversations]
