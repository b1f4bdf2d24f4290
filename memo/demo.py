"""`memo demo`: the whole product on a bundled corpus of invented facts, offline, with the embedded models.

corpus (memo/data/sample_corpus: four short documents no model can know) -> `memo.reflect.reflect()` ->
`memo.memory.train()` -> recall of the memory on its reflections -> single- and two-hop questions answered by
the executive through a protocol (`DEFAULT_PROTOCOL` unless told otherwise). The models are the config's roles
(generator, memory_base, executive), the embedded model unless memo.toml or MEMO_* variables say otherwise.
Everything lands in one work directory:

    memo-demo/
      reflections/      the reflection dataset (docs/REFLECTIONS.md)
      memory/           the memory store (docs/MEMORY.md)
      traces/q1.json    one trace per question (docs/EXECUTIVE.md)
      demo.json         the report: timings per phase, recall, answers and whether they match

Re-running reuses the finished memory and the response cache (pass `fresh=True` to start over).
"""

from __future__ import annotations

import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Callable

from pydantic import BaseModel

from .config import Config, load_config
from .executive import DEFAULT_PROTOCOL, PROTOCOLS, AskResult, ExecutiveSettings, LocalMemory, ask
from .llm import ChatModel, model_for
from .paths import atomic_write_text
from .progress import Progress, or_silent
from .records import normalize_text


class DemoQuestion(BaseModel):
    question: str
    expected: str
    hops: int


QUESTIONS = [
    DemoQuestion(question="Who founded Veltrona Labs?", expected="Mira Castell", hops=1),
    DemoQuestion(question="Who is the rector of the Arvik Institute?", expected="Tomas Brell", hops=1),
    DemoQuestion(question="In which village was the founder of Veltrona Labs born?", expected="Marrowby", hops=2),
    DemoQuestion(question="Who is the mayor of the town where Veltrona Labs is based?", expected="Ines Okafor", hops=2),
]

#: The sample corpus's facts as question/answer pairs: a memory can be trained on them without the reflection
#: step (the executive's real-run test and benchmark do, to stay fast).
SAMPLE_PAIRS = [
    {"question": "Who founded Veltrona Labs?", "answer": "Mira Castell founded Veltrona Labs in 2011."},
    {"question": "When was Veltrona Labs founded?", "answer": "Veltrona Labs was founded in 2011."},
    {"question": "Where is Veltrona Labs based?", "answer": "Veltrona Labs is based in the harbour town of Quessel."},
    {"question": "What was the first product of Veltrona Labs?",
     "answer": "The first product of Veltrona Labs was the Halden cell, a salt-water battery."},
    {"question": "Which company did Mira Castell found?", "answer": "Mira Castell founded Veltrona Labs."},
    {"question": "Where was Mira Castell born?", "answer": "Mira Castell was born in the village of Marrowby."},
    {"question": "When was Mira Castell born?", "answer": "Mira Castell was born in 1979."},
    {"question": "Where did Mira Castell study?", "answer": "Mira Castell studied chemistry at the Arvik Institute."},
    {"question": "Who is the rector of the Arvik Institute?", "answer": "The rector of the Arvik Institute is Tomas Brell."},
    {"question": "In which city is the Arvik Institute?", "answer": "The Arvik Institute is in the city of Lorn."},
    {"question": "Who is the mayor of Quessel?", "answer": "The mayor of Quessel is Ines Okafor."},
    {"question": "What race does Quessel hold every August?", "answer": "Quessel holds the Lantern Regatta every August."},
]

#: Smaller stage budgets than the paper's 7 / 8 turns: the embedded 135M executive rarely gains from more turns
#: and the demo has to stay within minutes on a 2-core CPU. Any setting can be passed to `run_demo`.
DEMO_SETTINGS = ExecutiveSettings(entity_turns=2, answer_turns=2, max_tokens=320, memory_max_tokens=64)


class DemoAnswer(BaseModel):
    question: str
    expected: str
    hops: int
    answer: str
    matches: bool
    degraded: list[str] = []
    seconds: float
    trace: str


class DemoReport(BaseModel):
    executive: str
    protocol: str
    seconds: dict[str, float]
    reflections: int
    recall: dict
    answers: list[DemoAnswer]


def sample_corpus() -> Path:
    """The bundled corpus directory (package data)."""
    return Path(str(resources.files("memo") / "data" / "sample_corpus"))


def run_demo(
    workdir: str | Path = "memo-demo",
    executive: str | ChatModel | None = None,
    protocol: str = DEFAULT_PROTOCOL,
    questions: list[DemoQuestion] = QUESTIONS,
    settings: ExecutiveSettings = DEMO_SETTINGS,
    fresh: bool = False,
    config: Config | None = None,
    progress: Progress | None = None,
    on_result: Callable[[DemoQuestion, AskResult], None] | None = None,
) -> DemoReport:
    """Run the whole pipeline on the bundled corpus in `workdir` and return (and save) the report.

    The reflection and training settings come from `config` (memo.toml by default); `executive` overrides the
    executive role and `protocol` names one of `memo.executive.PROTOCOLS`. `progress` hears each phase and
    `on_result` each answered question (the CLI prints its trace). ValueError for an unknown protocol.
    """
    from .memory import MemoryModel, MemoryStore, evaluate_recall, train
    from .reflect import reflect

    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    config = config or load_config()
    progress = or_silent(progress)
    work = Path(workdir)
    if fresh and work.exists():
        shutil.rmtree(work)
    timings: dict[str, float] = {}

    progress.log("1/4 reflect: the generator turns the corpus into question/answer pairs")
    t0 = time.perf_counter()
    manifest = reflect(sample_corpus(), work / "reflections", config.reflect_config(), progress=progress)
    timings["reflect"] = time.perf_counter() - t0
    progress.log(f"{manifest['total']} pairs in {work / 'reflections'}: "
                 + ", ".join(f"{n} {step}" for step, n in manifest["counts"].items()))

    progress.log("2/4 train: the memory learns the pairs")
    t0 = time.perf_counter()
    if MemoryStore(work / "memory").exists():
        progress.log(f"reusing the memory in {work / 'memory'} (fresh=True retrains)")
    else:
        train(work / "reflections", work / "memory", base=config.spec_for("memory_base"),
              config=config.train_config(), progress=progress)
    timings["train"] = time.perf_counter() - t0

    progress.log("3/4 recall: the memory answers its own reflections from its weights")
    t0 = time.perf_counter()
    memory = MemoryModel.load(work / "memory")
    recall = evaluate_recall(memory, work / "reflections")
    timings["recall"] = time.perf_counter() - t0
    progress.log(f"exact recall {recall.exact:.0%} of {recall.count} pairs (answer contains the reference: "
                 f"{recall.contains:.0%})")

    progress.log(f"4/4 ask: the executive questions the memory ({protocol} protocol)")
    model = executive if isinstance(executive, ChatModel) else model_for("executive", config, executive)
    client = LocalMemory(memory)
    answers: list[DemoAnswer] = []
    t0 = time.perf_counter()
    for i, q in enumerate(questions, 1):
        with progress.task(f"question {i}/{len(questions)}") as task:
            result: AskResult = ask(client, q.question, model, protocol, settings,
                                    on_step=lambda s: task.update(description=f"question {i}/{len(questions)}: "
                                                                              f"{s.stage} {s.turn or ''}"))
        trace_path = work / "traces" / f"q{i}.json"
        result.save(trace_path)
        if on_result is not None:
            on_result(q, result)
        answers.append(DemoAnswer(
            question=q.question, expected=q.expected, hops=q.hops, answer=result.answer,
            matches=normalize_text(q.expected) in normalize_text(result.answer), degraded=result.degraded,
            seconds=result.trace.seconds, trace=str(trace_path),
        ))
    timings["ask"] = time.perf_counter() - t0
    timings["total"] = sum(timings.values())

    report = DemoReport(executive=model.spec, protocol=protocol, seconds={k: round(v, 1) for k, v in timings.items()},
                        reflections=recall.count, recall=recall.as_dict(), answers=answers)
    atomic_write_text(work / "demo.json", report.model_dump_json(indent=2) + "\n")
    return report
