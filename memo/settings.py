"""The settings of each stage: the `[reflect]`, `[train]`, `[executive]` and `[eval]` tables of memo.toml.

`memo.config.Config` holds one of each, validated when memo.toml is loaded; `Config.reflect_config(**overrides)`,
`Config.train_config(...)` and `Config.executive_settings(...)` give them with overrides applied, and every entry
point of the Python API (`reflect`, `train`, `ask`, `add`, `run_demo`) takes one (or builds it from memo.toml when
given none). Each stage re-exports its own (`memo.reflect.ReflectConfig`, `memo.memory.TrainConfig`,
`memo.executive.ExecutiveSettings`, `memo.eval.EvalConfig`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from difflib import get_close_matches
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

D = TypeVar("D")


def from_table(cls: type[D], table: dict[str, Any], **overrides: Any) -> D:
    """An instance of the dataclass `cls` from a memo.toml table (or a manifest's record) plus the non-None
    `overrides`; ValueError naming unknown keys or bad values. Field types are checked by pydantic (lax mode:
    "3" for an int passes, "x" does not; a Literal takes only its values), then the class's own checks run."""
    known = {f.name for f in fields(cls)}
    unknown = set(table) - known
    if unknown:
        raise ValueError("unknown key(s): " + ", ".join(k + closest_key(k, known) for k in sorted(unknown)))
    return TypeAdapter(cls).validate_python({**table, **{k: v for k, v in overrides.items() if v is not None}})


def closest_key(key: str, known) -> str:
    """" (did you mean max_epochs?)" for a misspelt `key` close to one of the `known` keys (difflib), else ""."""
    close = get_close_matches(key, sorted(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def with_overrides(settings: D, **overrides: Any) -> D:
    """A copy of the dataclass `settings` with the non-None `overrides` (validated again)."""
    return replace(settings, **{k: v for k, v in overrides.items() if v is not None})

# -- [reflect] -------------------------------------------------------------------------------------------------

#: The pipeline's steps in run order. "abstention" adds "I don't know." pairs (on by default).
STEPS = ("direct", "indirect", "consolidate", "verify", "entity", "cross_document", "abstention")
PROFILES = ("auto", "full", "rules")


@dataclass
class ReflectConfig:
    """How a corpus is turned into reflections (docs/REFLECTIONS.md); memo.toml's `[reflect]`."""

    profile: str = "auto"  # full (paper prompts, capable generators) | rules (spaCy parse, no generator) | auto
    generator: str | None = None  # model spec; None -> the config's generator role
    steps: tuple[str, ...] = STEPS  # steps left out are skipped ("verify" left out passes pairs through unchecked)
    chunk_tokens: int = 256
    overlap_tokens: int = 32
    seed: int = 0
    temperature: float = 1.1  # extraction sampling in the full profile (paper: 1.1, top_p 0.95)
    top_p: float = 0.95
    samples: int = 1  # extraction samples per chunk and pass (full profile), each with its own seed
    max_fix_attempts: int = 5
    embedder: str = "minilm"
    group_size: int = 4  # largest cross-document group
    group_similarity: float = 0.55  # cosine of document embeddings that links two documents
    grouping_file: str | None = None  # JSON list of lists of document ids / titles / sources
    near_duplicate: float = 0.95  # cosine of question+answer embeddings above which a pair is a duplicate
    abstention_ratio: float = 0.1  # abstention pairs per kept pair
    price_in_per_mtok: float | None = None  # price per million prompt tokens, for --dry-run cost estimates
    price_out_per_mtok: float | None = None

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            renamed = " (the 'compact' profile is now called 'rules')" if self.profile == "compact" else ""
            raise ValueError(f"unknown profile {self.profile!r}{renamed}; choose one of {', '.join(PROFILES)}")
        self.steps = tuple(self.steps)
        unknown = [s for s in self.steps if s not in STEPS]
        if unknown:
            raise ValueError(f"unknown step(s) {', '.join(unknown)}; steps are {', '.join(STEPS)}")
        if self.max_fix_attempts < 1 or self.group_size < 2 or self.samples < 1:
            raise ValueError("max_fix_attempts >= 1, group_size >= 2 and samples >= 1 are required")


# -- [train] ---------------------------------------------------------------------------------------------------

Method = Literal["full", "lora"]
Schedule = Literal["constant", "linear", "cosine"]


@dataclass
class TrainConfig:
    """How a memory is trained (docs/MEMORY.md); memo.toml's `[train]`. Defaults are the fastest recipe measured in
    bench/train_speed.py. A memory's manifest records it (`training.config`; through merges and updates
    `memo.memory.memory_recipe` finds it; `from_table(TrainConfig, table)` reads it back)."""

    method: Method = "full"
    max_epochs: int = 8
    lr: float | None = None  # None: 2e-4 for full, 1e-3 for LoRA
    schedule: Schedule = "linear"
    warmup_ratio: float = 0.05
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    batch_size: int = 8  # pairs per device per optimizer step (before accumulation)
    grad_accum: int = 1
    freeze_embeddings: bool = True  # tied input/output embeddings: a quarter of the small model's weights
    # The first N decoder layers stay as in the base: no backward pass through them. On the 200-fact benchmark,
    # freezing the lower half made steps 1.36x faster but cost 2.5 points of exact and 17 of paraphrase recall.
    freeze_layers: int = 0
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    merge_lora: bool = False  # save merged full weights instead of an adapter
    eval_size: int = 64  # training pairs whose recall is measured after each epoch
    target_recall: float = 1.0  # stop as soon as the eval sample reaches this recall ...
    target_abstention: float = 0.8  # ... and this share of held-out unseen-name questions get "I don't know."
    # ... or after this many epochs without improvement. On the demo's 37 pairs, 2 stopped at a plateau (epochs
    # 4-6: recall 0.79, 0.79, 0.74) with 78% recall; 3 went on to 92% in 49 s more (docs/BENCHMARKS.md).
    patience: int = 3
    abstention_ratio: float = 0.1  # synthesise "I don't know." pairs up to this share when the data has fewer
    # ... and at least this many (never more than there are facts; none when abstention_ratio is 0): on 20 facts,
    # 6 per epoch left the memory bluffing about unseen names (1 of 4 abstained), 20 per epoch taught it (4 of 4).
    min_abstentions: int = 20
    max_length: int = 1024  # longer pairs are dropped (counted in the manifest)
    checkpoint_every: int = 0  # optimizer steps between mid-epoch checkpoints; 0: only at epoch ends
    # Epoch-end checkpoints at most this often (0: after every epoch). One checkpoint of the embedded model is
    # 1.3 GB (weights and AdamW state), seconds to write: a 3-minute build is cheaper to redo than to checkpoint.
    checkpoint_minutes: float = 5.0
    gradient_checkpointing: bool | None = None  # None: on GPU only
    mixed_precision: Literal["no", "bf16", "fp16"] | None = None  # None: bf16 on GPU, fp32 on CPU (bf16 is slow there)
    threads: int | None = None  # CPU threads for torch; None: torch's default (one per core)
    replay_share: float = 0.5  # with `replay` pairs: the share of them trained on each epoch, in rotation
    # Rule rewrites of every training question added to each epoch, drawn afresh each epoch
    # (`memo.memory.epochs.rephrase`): the memory learns the fact, not one wording of the question.
    phrasings: int = 0
    # Pairs the memory already answers exactly (at their last training pass) are reviewed every other epoch; their
    # slots train rewrites of the pairs it does not know yet (`memo.memory.epochs.epoch_pairs`). On the 200-fact
    # benchmark: exact recall 97.0% -> 100%, recall on rephrased questions 59.2% -> 85.0%, one more epoch.
    spaced_repetition: bool = True
    train_modules: Literal["all", "mlp"] = "all"  # "mlp": attention weights stay as in the base
    # False (default): an answer-first answer ("Marrowby. Mira Castell was born in Marrowby.", the form reflections
    # write) is trained as its short fact alone (`memo.records.answer_lead`; other answers whole); True also trains
    # the context sentence. Measured (docs/BENCHMARKS.md): short answers took recall on rephrased questions from
    # 85.0% to 92.2% on the 200-fact benchmark; on the MuSiQue memory the same per-hop accuracy in 0.70x the
    # training time; the demo the same 3 of 4 answers in 0.76x.
    answer_context: bool = False
    report_to: str = "none"  # transformers' Trainer loggers: "none", "tensorboard", "wandb", "all", ...
    seed: int = 0

    def __post_init__(self) -> None:
        least = {"phrasings": 0, "max_epochs": 1, "batch_size": 1, "grad_accum": 1}
        low = [f"{name} must be at least {n}, not {getattr(self, name)}" for name, n in least.items()
               if getattr(self, name) < n]
        if low:
            raise ValueError("; ".join(low))
        if self.train_modules not in ("all", "mlp"):
            raise ValueError(f"train_modules must be 'all' or 'mlp', not {self.train_modules!r}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be above 0, not {self.lr}")
        if not 0 < self.replay_share <= 1:
            raise ValueError(f"replay_share must be above 0 and at most 1 (a share of the old reflections), "
                             f"not {self.replay_share}")

    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else (1e-3 if self.method == "lora" else 2e-4)

    def as_dict(self) -> dict:
        return asdict(self)

# -- [executive] -----------------------------------------------------------------------------------------------

class ExecutiveSettings(BaseModel):
    """Budgets and temperatures of the executive (docs/EXECUTIVE.md); memo.toml's `[executive]`. Defaults are the
    research code's (the MeMo paper's three-stage protocol, arXiv 2605.15156)."""

    model_config = ConfigDict(extra="forbid")

    # Budgets.
    entity_turns: int = Field(7, ge=0, description="stage 2 (entity identification) turns")
    answer_turns: int = Field(8, ge=0, description="stage 3 (answer seeking) turns")
    multi_turns: int = Field(15, ge=1, description="turns of the unstructured `multi` baseline")
    dead_end_idks: int = Field(3, ge=1, description="IDKs after which a sub-question is a dead end")
    demote_idks: int = Field(2, ge=1, description="targeted IDKs in a row that demote a candidate")
    eliminate_idks: int = Field(3, ge=1, description="targeted IDKs in a row that eliminate a candidate")
    questions_per_turn: int = Field(3, ge=1, description="sub-questions one stage-2/3 turn may send")
    grounding_questions: int = Field(12, ge=1, description="cap on stage-1 sub-questions")
    chain_steps: int = Field(4, ge=1, description="longest chain the `chain` protocol asks (MuSiQue: 2-4 hops)")
    chain_rephrasings: int = Field(1, ge=0, description="rephrasings of a chain step that got \"I don't know.\"")
    # Executive temperatures: grounding / entity / answer / final (the research code's 0.4 / 0.4 / 1.0 / 0.3).
    grounding_temperature: float = Field(0.4, ge=0)
    entity_temperature: float = Field(0.4, ge=0)
    answer_temperature: float = Field(1.0, ge=0)
    final_temperature: float = Field(0.3, ge=0)
    # The `chain` protocol's steps (decompose, rephrase, check) parse rather than explore: greedy by default.
    chain_temperature: float = Field(0.0, ge=0)
    # Memory temperatures per stage (0.1 / 0.1 / 0.3).
    memory_grounding_temperature: float = Field(0.1, ge=0)
    memory_entity_temperature: float = Field(0.1, ge=0)
    memory_answer_temperature: float = Field(0.3, ge=0)
    # Executive calls.
    retries: int = Field(2, ge=0, description="new samples after a malformed executive output, before degrading")
    max_tokens: int = Field(512, ge=16, description="output budget of one executive step")
    memory_max_tokens: int = Field(128, ge=8, description="output budget of one memory answer")
    top_p: float = Field(0.95, gt=0, le=1)
    seed: int = 0

# -- [eval] ----------------------------------------------------------------------------------------------------

@dataclass
class EvalConfig:
    """How `memo eval` compares MeMo with its baselines (docs/EVALUATION.md); memo.toml's `[eval]`."""

    top_k: int = 9  # passages the retrieval baselines read (the MeMo paper's evaluation: top-9 documents)
    context_tokens: int = 3072  # most passage tokens one reading prompt holds (oracle and retrieval alike)
    reader_max_tokens: int = 64
    reader_temperature: float = 0.0
    runs: int = 1  # repetitions (paper: mean of 3); each run has its own seed
    distractors: int = 0  # non-evidence documents per evidence document (paper's noise test: 1)
    concurrency: int = 4  # questions in flight per method: one reader batch, or parallel executive sessions
    judge: bool = True  # binary LLM judge through the `judge` role, besides EM / F1 / containment
    embedder: str = "minilm"  # dense retrieval and near-duplicate detection
    seed: int = 0
    # Own-corpus mode (`corpus:DIR`): held-out questions.
    questions_per_document: int = 4
    question_seed: int | None = None  # None: the reflection seed + 1 (never the reflections' own seed)
    question_temperature: float = 0.7
    near_duplicate: float = 0.9  # question cosine at or above which a held-out question counts as a training one

    def __post_init__(self) -> None:
        if self.top_k < 1 or self.runs < 1 or self.distractors < 0 or self.concurrency < 1:
            raise ValueError("top_k >= 1, runs >= 1, distractors >= 0 and concurrency >= 1 are required")
        if self.questions_per_document < 1 or not 0 < self.near_duplicate <= 1 or self.context_tokens < 64:
            raise ValueError("questions_per_document >= 1, 0 < near_duplicate <= 1 and context_tokens >= 64 are required")
