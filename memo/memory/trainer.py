"""Memory training on TRL's `SFTTrainer`: the pieces memo adds to the standard trainer.

- `EpochDataset`: a `datasets.Dataset` of fixed slots whose transform renders each slot as this epoch's
  tokenized example (`memo.memory.epochs`), already in the memory's prompt format (`encode_example`), with labels
  -100 on the prompt: completion-only loss on exactly the text the memory is asked with;
- `LengthGroupedEpochSampler`: length-grouped batches (transformers' `group_by_length` idea: shuffle, sort within
  windows, shuffle the batches) that are a pure function of (seed, epoch), so a resumed run replays the epoch
  it stopped in batch for batch;
- `MemoryTrainer.compute_loss`: cross-entropy from logits at answer positions only, through the model's own
  `logits_to_keep` (a boolean mask): the output projection over the vocabulary is never formed at prompt
  positions, on any device;
- `RecallCallback`: after each epoch, teacher-forced recall of the eval sample (and its held-out paraphrases) and
  abstention on unseen names; keeps the best epoch's weights, stops early on target or plateau, and writes its
  state into every checkpoint so a resumed run continues the same history;
- `ProgressCallback`: the trainer's progress through `memo.progress.Progress` (library code never prints).

Multi-process runs (`accelerate launch`, `torchrun`) are the trainer's own: transformers' `TrainingArguments`
reads the launcher's environment and shards the batches across processes.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Callable, Sequence

import torch
from transformers import TrainerCallback
from trl import SFTTrainer

from ..paths import atomic_write_json
from ..progress import Progress, Task
from .prompt import encode_example

MEMO_STATE = "memo_state.json"  # the RecallCallback's state in a checkpoint; written last, so it marks a complete one


Example = tuple[list[int], list[int], "int | None"]  # input_ids, labels, index of the pair trained in its own wording


class EpochDataset:
    """The slots of every epoch and their tokenized examples for the current epoch.

    `render(epoch, known)` gives the (question, answer, pair index or None) of every slot of `epoch` (the same
    count every epoch; `memo.memory.epochs.epoch_pairs`); `known` is, per pair, whether the memory answered it
    exactly at its last training pass, as it stood when the epoch began. Examples longer than `max_length`
    tokens fall back to the slot's epoch-0 example, or are dropped when that is too long too (`dropped_too_long`).
    """

    def __init__(self, tokenizer, render: Callable[[int, "list[bool] | None"], list[tuple[str, str, int | None]]],
                 max_length: int, pairs: int):
        self.tokenizer, self.render, self.max_length = tokenizer, render, max_length
        first = self._encode(render(0, None))
        self.slots = [i for i, (x, _, _) in enumerate(first) if len(x) <= max_length]
        self.dropped_too_long = len(first) - len(self.slots)
        self._first = first
        self.epoch = 0
        self.known: list[bool] = [False] * pairs  # per pair: answered exactly at its last training pass
        self.known_at_start: list[bool] | None = None  # `known` when the current epoch began (what rendered it)
        self.observed: dict[int, bool] = {}  # this epoch's training passes on this process: pair -> exact
        self._cache: tuple[int, list[Example]] = (0, first)

    def _encode(self, rows) -> list[Example]:
        return [(*encode_example(self.tokenizer, q, a), i) for q, a, i in rows]

    def start_epoch(self, epoch: int, known_at_start: list[bool] | None = None) -> None:
        """Make `epoch` current; its examples follow from `known_at_start` (default: the pairs known now)."""
        if epoch == self.epoch and self.known_at_start is not None and known_at_start is None:
            return  # already started (a resumed run restores the epoch before the trainer begins it)
        self.epoch = epoch
        self.known_at_start = list(self.known) if known_at_start is None else list(known_at_start)

    def examples(self) -> list[Example]:
        """(input_ids, labels, pair index) of every kept slot in the current epoch."""
        if self._cache[0] != self.epoch:
            self._cache = (self.epoch, self._encode(self.render(self.epoch, self.known_at_start)))
        out = self._cache[1]
        return [out[i] if len(out[i][0]) <= self.max_length else self._first[i] for i in self.slots]

    def observe(self, slots: Sequence[int], exact: Sequence[bool]) -> None:
        """Record whether each trained slot's answer was exact (argmax at every answer position) in its pass."""
        rows = self.examples()
        for slot, hit in zip(slots, exact):
            pair = rows[slot][2]
            if pair is not None:
                self.observed[pair] = bool(hit)

    def merged_observations(self, accelerator) -> dict[int, bool]:
        """This epoch's observations of every process (a collective: every process must call it)."""
        seen = torch.full((len(self.known),), -1, dtype=torch.long, device=accelerator.device)
        for pair, hit in self.observed.items():
            seen[pair] = int(hit)
        merged = accelerator.gather(seen.unsqueeze(0)).amax(0).tolist()
        return {i: bool(m) for i, m in enumerate(merged) if m >= 0}

    def end_epoch(self, accelerator) -> None:
        """Merge every process's observations of this epoch into `known`."""
        for pair, hit in self.merged_observations(accelerator).items():
            self.known[pair] = hit
        self.observed = {}

    def as_hf_dataset(self):
        """A `datasets.Dataset` of slot numbers whose transform returns this epoch's input_ids and labels."""
        import datasets

        ds = datasets.Dataset.from_dict({"slot": list(range(len(self.slots)))})

        def transform(batch: dict) -> dict:
            rows = self.examples()
            return {"input_ids": [rows[i][0] for i in batch["slot"]], "labels": [rows[i][1] for i in batch["slot"]],
                    "slot": list(batch["slot"])}

        ds.set_transform(transform)
        return ds

    def collate(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        """The data collator: padded tensors plus each row's slot number."""
        batch = collate([(r["input_ids"], r["labels"]) for r in rows], self.tokenizer.pad_token_id)
        batch["slot"] = torch.tensor([r["slot"] for r in rows])
        return batch


def length_grouped_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Batches (lists of indices) of similar lengths in a random order fixed by (seed, epoch).

    Indices are shuffled, sorted by length within windows of 16 batches, cut into batches, and the batches
    shuffled; a short last batch goes last so that re-cutting the flat order into `batch_size` chunks (what a
    DataLoader does) gives back the same batches.
    """
    rng = random.Random(seed * 1000 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 16
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    full = [b for b in batches if len(b) == batch_size]
    rng.shuffle(full)
    return full + [b for b in batches if len(b) < batch_size]


class LengthGroupedEpochSampler(torch.utils.data.Sampler):
    """The flat index order of `length_grouped_batches` for the dataset's current epoch."""

    def __init__(self, data: EpochDataset, batch_size: int, seed: int):
        self.data, self.batch_size, self.seed = data, batch_size, seed

    def __len__(self) -> int:
        return len(self.data.slots)

    def __iter__(self):
        lengths = [len(x) for x, _, _ in self.data.examples()]
        return iter([i for b in length_grouped_batches(lengths, self.batch_size, self.seed, self.data.epoch)
                     for i in b])


def answer_positions(labels: torch.Tensor) -> torch.Tensor:
    """Boolean mask (batch, seq) of the positions whose logits predict an answer token (labels shifted by one)."""
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = labels[:, 1:] != -100
    return keep


def answer_logits(model, input_ids, attention_mask, labels) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits at answer positions (n, vocab), their target tokens (n,)), rows in (example, position) order."""
    keep = answer_positions(labels)
    out = model(input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=keep, use_cache=False)
    return out.logits, labels[:, 1:][labels[:, 1:] != -100]


def exact_answers(model, tokenizer, pairs: Sequence[tuple[str, str]], device="cpu",
                  batch_size: int = 16) -> list[bool]:
    """Per (question, answer) pair: would greedy decoding reproduce the answer exactly?

    Checked teacher-forced, one forward pass per batch instead of token-by-token generation: greedy decoding
    emits the answer exactly iff the argmax at every answer position (end-of-turn included) is the answer's
    token. `model` is a causal LM (transformers or peft) whose forward takes `logits_to_keep`.
    """
    encoded = [encode_example(tokenizer, q, a) for q, a in pairs]
    out: list[bool] = []
    with torch.no_grad():
        for start in range(0, len(encoded), batch_size):
            rows = encoded[start : start + batch_size]
            batch = collate(rows, tokenizer.pad_token_id)
            labels = batch["labels"].to(device)
            logits, targets = answer_logits(model, batch["input_ids"].to(device), batch["attention_mask"].to(device),
                                            labels)
            hit = logits.argmax(-1) == targets
            per_row = (labels[:, 1:] != -100).sum(1).tolist()
            out += [bool(h.all()) for h in torch.split(hit, per_row)]
    return out


def collate(rows: Sequence[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded input_ids, attention_mask and labels (-100 on padding) for (input_ids, labels) rows."""
    length = max(len(x) for x, _ in rows)
    ids = torch.full((len(rows), length), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), length), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    for r, (x, y) in enumerate(rows):
        ids[r, : len(x)] = torch.tensor(x)
        labels[r, : len(y)] = torch.tensor(y)
        mask[r, : len(x)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


class MemoryTrainer(SFTTrainer):
    """`SFTTrainer` with memo's epoch data, length-grouped epoch sampler and answer-only loss."""

    def __init__(self, *args, epoch_data: EpochDataset, **kwargs):
        self.epoch_data = epoch_data
        self.tokens_seen = 0  # non-padding tokens of every process, summed
        self.padded_tokens = 0  # tokens the model computed over (padding included), every process
        super().__init__(*args, **kwargs)

    def _get_train_sampler(self, train_dataset=None):
        return LengthGroupedEpochSampler(self.epoch_data, self.args.per_device_train_batch_size, self.args.seed)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        slots = inputs.pop("slot", None)
        logits, targets = answer_logits(model, inputs["input_ids"], inputs["attention_mask"], inputs["labels"])
        total = torch.nn.functional.cross_entropy(logits.float(), targets, reduction="sum")
        # As SFTTrainer: normalised by the answer tokens of the whole (accumulated, all-process) batch.
        num_tokens = targets.numel() if num_items_in_batch is None else num_items_in_batch
        loss = total / torch.as_tensor(num_tokens).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes
        if model.training:
            mode = "train"
            counts = torch.tensor([inputs["attention_mask"].sum().item(), inputs["attention_mask"].numel()],
                                  device=inputs["input_ids"].device)
            seen, padded = self.accelerator.gather_for_metrics(counts.unsqueeze(0)).sum(0).tolist()
            self.tokens_seen += int(seen)
            self.padded_tokens += int(padded)
            with torch.no_grad():
                hit = logits.argmax(-1) == targets
                accuracy = hit.float().mean().item() if targets.numel() else 0.0
                if slots is not None:
                    per_row = (inputs["labels"][:, 1:] != -100).sum(1).tolist()
                    self.epoch_data.observe(slots.tolist(), [bool(h.all()) for h in torch.split(hit, per_row)])
            self._metrics[mode]["mean_token_accuracy"].append(accuracy)
            self._metrics[mode]["num_tokens"] = [self.tokens_seen]
        return (loss, logits) if return_outputs else loss


def _score(metrics: dict) -> tuple[float, float]:
    """How epochs rank: recall first, then abstention on unseen names (a memory that knows as much but bluffs
    less is better)."""
    return metrics["recall"] or 0.0, metrics.get("abstention_rate") or 0.0


class RecallCallback(TrainerCallback):
    """Per-epoch recall check, best-epoch weights, early stopping, and their state in every checkpoint.

    `groups` maps a metric name to the (question, answer) pairs it is the exact-answer rate of ("recall" first).
    With no "recall" pairs (eval_size 0) every epoch runs and the last one is kept.
    """

    def __init__(self, *, data: EpochDataset, tokenizer, groups: dict[str, list[tuple[str, str]]], cfg,
                 steps_per_epoch: int, started: float, progress: Progress, accelerator):
        self.data, self.tokenizer, self.groups, self.cfg = data, tokenizer, groups, cfg
        self.accelerator = accelerator
        self.steps_per_epoch, self.started, self.progress = steps_per_epoch, started, progress
        self.state = {"history": [], "best": None, "stale": 0, "resumed_at": [], "epoch_losses": []}
        self.best_params: dict[str, torch.Tensor] | None = None
        self.resume_from: tuple[Path, int] | None = None  # (checkpoint, process rank) when the run resumes
        self.last_save = started

    # -- resume ---------------------------------------------------------------------------------------------
    def restore(self, checkpoint: Path, rank: int, model) -> None:
        """Continue from the callback state saved in `checkpoint` (see `on_save`)."""
        self.state = json.loads((checkpoint / MEMO_STATE).read_text())
        data = self.state.pop("data")
        self.data.known, self.data.observed = data["known"], {int(k): v for k, v in data["observed"].items()}
        self.data.start_epoch(data["epoch"], data["known_at_start"])
        best = checkpoint / f"best-rank{rank}.pt"
        if best.is_file():
            self.best_params = torch.load(best)
        elif self.state["best"] is not None:  # the best epoch was the checkpoint's own weights (saved once)
            self.best_params = self._copy(model)

    @staticmethod
    def _copy(model) -> dict[str, torch.Tensor]:
        return {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}

    def _best_is_current(self, global_step: int) -> bool:
        best = self.state["best"]
        return best is not None and global_step % self.steps_per_epoch == 0 and \
            best["optimizer_steps"] == global_step

    # -- events ---------------------------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.resume_from is not None:  # the trainer has loaded the checkpoint's weights by now
            self.restore(*self.resume_from, model)
            self.state["resumed_at"].append(state.global_step)

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.data.start_epoch(state.global_step // self.steps_per_epoch)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.state["epoch_losses"].append(logs["loss"])

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        epoch = state.global_step // self.steps_per_epoch
        self.data.end_epoch(self.accelerator)
        losses = self.state["epoch_losses"]
        metrics = {"epoch": epoch, "optimizer_steps": state.global_step,
                   "train_loss": sum(losses) / len(losses) if losses else None, **self.evaluate(model, args.device),
                   "seconds": round(time.time() - self.started, 1)}
        self.state["epoch_losses"] = []
        self.state["history"].append(metrics)
        checked = bool(self.groups.get("recall"))
        if not checked or self.state["best"] is None or _score(metrics) > _score(self.state["best"]):
            self.state["best"], self.state["stale"] = metrics, 0
            # Without a recall check every epoch is the newest best: the final weights are kept as they are.
            self.best_params = self._copy(model) if checked else None
        elif self.state["best"]["recall"] > 0:  # a plateau needs a level: slow starters (LoRA) are not cut off at 0
            self.state["stale"] += 1
        reached = checked and metrics["recall"] >= self.cfg.target_recall and \
            (metrics.get("abstention_rate") if metrics.get("abstention_rate") is not None else 1.0) \
            >= self.cfg.target_abstention
        if reached or (checked and self.state["stale"] >= self.cfg.patience):
            control.should_training_stop = True
        last = control.should_training_stop or epoch >= self.cfg.max_epochs
        # No checkpoint after the last epoch (nothing to resume then); otherwise one at the epoch end when
        # checkpoint_minutes have passed since the previous one (or `checkpoint_every` asks for this step anyway).
        if last:
            control.should_save = False
        elif time.time() - self.last_save >= 60 * self.cfg.checkpoint_minutes:
            control.should_save = True
        shown = ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float) and k != "seconds")
        self.progress.log(f"epoch {epoch}: {shown}")

    def on_save(self, args, state, control, **kwargs):
        from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

        self.last_save = time.time()
        checkpoint = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        rank = args.process_index
        if self.best_params is not None and not self._best_is_current(state.global_step):
            torch.save(self.best_params, checkpoint / f"best-rank{rank}.pt")
        observed = self.data.merged_observations(self.accelerator)
        if args.should_save:
            data = {"epoch": self.data.epoch, "known": self.data.known, "known_at_start": self.data.known_at_start,
                    "observed": observed}
            atomic_write_json(checkpoint / MEMO_STATE, {**self.state, "data": data})

    def evaluate(self, model, device) -> dict:
        """Recall of the eval sample and its paraphrases, and abstention on unseen names, checked teacher-forced.

        Every process checks every pair, so sharded models (FSDP, ZeRO-3) run the same forward passes everywhere.
        """
        metrics: dict = {"recall": None}
        if model is None:
            return metrics
        was_training = model.training
        model.eval()
        for name, pairs in self.groups.items():
            if pairs:
                metrics[name] = sum(exact_answers(model, self.tokenizer, pairs, device)) / len(pairs)
        model.train(was_training)
        return metrics

    def restore_best(self, model) -> None:
        """Put the best epoch's weights back (when a later epoch was worse)."""
        best, history = self.state["best"], self.state["history"]
        if self.best_params is None or best is None or best["epoch"] == history[-1]["epoch"]:
            return
        with torch.no_grad():
            for n, p in model.named_parameters():
                if n in self.best_params:
                    p.copy_(self.best_params[n].to(p.device))


class ProgressCallback(TrainerCallback):
    """Optimizer steps, loss and tokens per second on a `memo.progress.Progress` task."""

    def __init__(self, progress: Progress, total_steps: int, steps_per_epoch: int, trainer: MemoryTrainer):
        self.progress, self.total, self.steps_per_epoch, self.trainer = progress, total_steps, steps_per_epoch, trainer
        self.task: Task | None = None
        self.loss = "-"
        self.t0 = time.perf_counter()
        self.tokens0 = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.task = self.progress.task(f"train epoch {state.global_step // self.steps_per_epoch + 1}",
                                       total=self.total, loss="-", tps="-")
        self.task.update(completed=state.global_step)
        self.t0, self.tokens0 = time.perf_counter(), self.trainer.tokens_seen

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.loss = f"{logs['loss']:.3f}"

    def on_step_end(self, args, state, control, **kwargs):
        if self.task is None:
            return
        rate = (self.trainer.tokens_seen - self.tokens0) / max(1e-9, time.perf_counter() - self.t0)
        self.task.update(completed=state.global_step, loss=self.loss, tps=f"{rate:.0f}",
                         description=f"train epoch {(state.global_step - 1) // self.steps_per_epoch + 1}")

    def on_train_end(self, args, state, control, **kwargs):
        if self.task is not None:
            self.task.close()
