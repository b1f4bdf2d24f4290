"""Asking a memory: batched greedy answers in the training prompt format, with optional citations.

A citation is a training reflection close to the question and its answer; it is shown as a source only when its
cosine similarity reaches `CITATION_MIN_SIMILARITY` for the artifact's embedder, a threshold calibrated on
held-out data (bench/citation_threshold.py; docs/BENCHMARKS.md, "Citations"): an answer the memory made up
usually has no reflection that close, and then gets no source rather than a misleading one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..paths import read_jsonl
from ..formats import EMBEDDINGS_FILE, REFLECTIONS_FILE
from .artifact import read_manifest, reflection_text, verify_artifact
from ..records import is_abstention
from .prompt import end_of_turn, format_prompt
from .store import resolve_artifact

#: Cosine similarity ("question answer" against a reflection's "question answer") below which a reflection is not
#: shown as a source, per embedder. Fitted (best F1 of shown vs right citations) on half of the MuSiQue sample and
#: checked on the other half by bench/citation_threshold.py; the run and its precision/recall are in
#: docs/BENCHMARKS.md under "Citations".
CITATION_MIN_SIMILARITY = {"minilm": 0.688}


@dataclass
class Citation:
    """A training reflection close to a question and its answer, and the documents it came from."""

    doc_id: str | None
    chunk_ids: list[str]
    question: str
    answer: str
    score: float


@dataclass
class MemoryAnswer:
    """One memory answer: the question, the generated answer text, whether it is an abstention
    (`memo.records.is_abstention`: "I don't know."), and its citations (empty unless asked for)."""

    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)


def generate_answers(
    model, tokenizer, questions: Sequence[str], *, batch_size: int = 16, max_new_tokens: int = 128,
    synced_gpus: bool = False,
) -> list[str]:
    """Greedy answers in the memory prompt format; the one generation routine for training evals and ask()."""
    import torch

    stop_ids = {tokenizer.eos_token_id}
    eot = tokenizer(end_of_turn(tokenizer), add_special_tokens=False)["input_ids"]
    if len(eot) == 1:
        stop_ids.add(eot[0])
    tokenizer.padding_side = "left"
    order = sorted(range(len(questions)), key=lambda i: len(questions[i]))
    out = [""] * len(questions)
    device = next(model.parameters()).device
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        enc = tokenizer([format_prompt(tokenizer, questions[i]) for i in idx], return_tensors="pt", padding=True,
                        add_special_tokens=False).to(device)
        with torch.inference_mode():
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, temperature=None, top_p=None,
                                 top_k=None, pad_token_id=tokenizer.pad_token_id, eos_token_id=sorted(stop_ids),
                                 synced_gpus=synced_gpus)
        for row, i in zip(gen[:, enc["input_ids"].shape[1] :], idx):
            out[i] = tokenizer.decode(row, skip_special_tokens=True).strip()
    return out


class MemoryModel:
    """A trained memory, ready to answer. Load with `MemoryModel.load(path)` (a store or a version directory);
    ask with `ask(questions)`; `cite` finds the training reflections near a text; `export_merged` writes a LoRA
    memory as full weights. Format and recipe: docs/MEMORY.md."""

    def __init__(self, path: Path, model, tokenizer, manifest: dict):
        self.path = path
        self.model = model
        self.tokenizer = tokenizer
        self.manifest = manifest
        self._reflections: list[dict] | None = None
        self._embeddings: np.ndarray | None = None

    @classmethod
    def load(cls, path: str | Path, *, verify: bool = True, device: str | None = None) -> "MemoryModel":
        """Load a memory, ready to answer.

        Parameters:
            path: a memory store (its `current` version is loaded) or a version directory (`memo.json` inside).
            verify: check every file against the sha256 the manifest records first (reads every byte once);
                False only reads the manifest.
            device: a torch device string; default "cuda" when available, else "cpu". Weights load in bf16 on
                CUDA and in fp32 otherwise.

        A LoRA memory (manifest `kind` "lora") is a peft adapter: it is loaded over its base, from the path the
        manifest records, or from the manifest's base spec when that path is gone (`PeftModel.from_pretrained`).
        Returns a MemoryModel with `path` (the version directory), `model` (transformers / peft, in eval mode),
        `tokenizer` and `manifest` (the `memo.json` dict).

        Raises MemoryNotFoundError (a FileNotFoundError) when `path` holds no memory, CorruptMemoryError (a
        ValueError) for an unreadable manifest or a file that is missing or does not match its hash, LLMError
        when a LoRA memory's base cannot be found, and transformers' / peft's own errors (OSError) for weights
        they cannot read.
        """
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        artifact = resolve_artifact(path)
        manifest = verify_artifact(artifact) if verify else read_manifest(artifact)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        tokenizer = AutoTokenizer.from_pretrained(artifact)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if manifest["kind"] == "lora":
            from peft import PeftModel

            base_path = Path(manifest["base"]["path"])
            if not (base_path / "config.json").is_file():
                from ..llm import resolve_local_model

                base_path = resolve_local_model(manifest["base"]["spec"])
            base = AutoModelForCausalLM.from_pretrained(base_path, dtype=dtype)
            model = PeftModel.from_pretrained(base, artifact)
        else:
            model = AutoModelForCausalLM.from_pretrained(artifact, dtype=dtype)
        return cls(artifact, model.to(device).eval(), tokenizer, manifest)

    def ask(
        self, questions: Sequence[str], *, citations: bool = False, top_k: int = 3, max_new_tokens: int = 128,
        batch_size: int = 16,
    ) -> list[MemoryAnswer]:
        """Answer each question from the memory's weights alone, flagging "I don't know." answers.

        Decoding is greedy, in the prompt format the memory was trained in (`memo.memory.prompt`), batched
        (`batch_size` questions per `generate` call, shortest first) and stopped at the end of the turn or after
        `max_new_tokens` tokens. Returns one `MemoryAnswer` per question, in input order: `question`, `answer`
        (text), `abstained` (`memo.records.is_abstention`) and `citations`.

        With `citations`, each answer lists the source documents of the `top_k` training reflections nearest to
        the question and answer together (`memo.embed` vectors, cosine similarity), those at least
        `CITATION_MIN_SIMILARITY` close: where the answer most likely comes from. One `Citation` per source
        document of such a reflection (`doc_id`, `chunk_ids`, the reflection's `question` and `answer`, `score`),
        nearest first. An abstention, or an answer no reflection is that close to, gets none. Raises ValueError
        when citations are asked of a memory whose embedder has no calibrated threshold, or with `top_k` under 1
        (see `cite`).
        """
        answers = generate_answers(self.model, self.tokenizer, list(questions), batch_size=batch_size,
                                   max_new_tokens=max_new_tokens)
        results = [MemoryAnswer(q, a, is_abstention(a)) for q, a in zip(questions, answers)]
        if citations:
            for result, cites in zip(results, self.cite([f"{r.question} {r.answer}" for r in results], top_k)):
                result.citations = [] if result.abstained else cites
        return results

    def cite(self, texts: Sequence[str], top_k: int = 3, min_similarity: float | None = None) -> list[list[Citation]]:
        """The `top_k` nearest training reflections of each text with a cosine similarity of at least
        `min_similarity` (default: `CITATION_MIN_SIMILARITY` of the artifact's embedder), one Citation per source
        document, nearest first. ValueError when the embedder has no calibrated threshold and none is given, or
        when `top_k` is under 1."""
        from ..embed import embed

        if top_k < 1:
            raise ValueError(f"top_k must be at least 1 (reflections to cite per answer), got {top_k}")

        embedder = self.manifest["citations"]["embedder"]
        if min_similarity is None:
            min_similarity = CITATION_MIN_SIMILARITY.get(embedder)
            if min_similarity is None:
                raise ValueError(f"no calibrated citation threshold for the embedder {embedder!r}: pass min_similarity "
                                 "(bench/citation_threshold.py measures one)")
        rows, matrix = self._citation_index()
        if not rows:
            return [[] for _ in texts]
        scores = embed(list(texts), name=embedder) @ matrix.T
        out = []
        for row_scores in scores:
            cites = []
            for j in np.argsort(-row_scores)[:top_k]:
                if row_scores[j] < min_similarity:
                    break
                r = rows[j]
                for doc in r.get("doc_ids") or [None]:
                    cites.append(Citation(doc, list(r.get("chunk_ids", [])), r["question"], r["answer"],
                                          float(row_scores[j])))
            out.append(cites)
        return out

    def _citation_index(self) -> tuple[list[dict], np.ndarray]:
        if self._reflections is None:
            self._reflections = read_jsonl(self.path / REFLECTIONS_FILE)
            file = self.path / EMBEDDINGS_FILE
            if file.is_file():
                self._embeddings = np.load(file)
            else:  # an artifact written without embeddings: compute them once
                from ..embed import embed

                self._embeddings = embed([reflection_text(r) for r in self._reflections])
        return self._reflections, self._embeddings

    def export_merged(self, output: str | Path) -> Path:
        """Write a LoRA memory as merged full weights (a plain HF model dir with the same prompt format)."""
        if self.manifest["kind"] != "lora":
            raise ValueError(f"{self.path} is already a full memory; copy the directory instead")
        out = Path(output)
        from ..paths import atomic_dir

        self.model = self.model.merge_and_unload()  # same answers; the adapter is folded into the weights
        with atomic_dir(out, "config.json") as tmp:  # an earlier export (an HF model folder) is replaced
            self.model.save_pretrained(tmp, safe_serialization=True)
            self.tokenizer.save_pretrained(tmp)
        return out
