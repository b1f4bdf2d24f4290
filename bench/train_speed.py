"""Memory training speed and generalisation: exact recall of 200 invented facts, recall on rephrased questions never
trained on, and abstention, against training wall time, per recipe variant.

The goals (issues 4 and 15): >= 95% exact recall on 200 pairs in <= 3 minutes on a 2-core CPU with the embedded
SmolLM2-135M, and >= 90% recall on rephrased questions. The facts are generated here (deterministic, fictional
people and attributes), so no model can know them beforehand. Each fact has two probe phrasings of its question,
written by hand per attribute and fixed by the seed ("What is the birthplace of X?" for "Where was X born?"): they
are never trained on, and are made differently from any rewriting training does (`TrainConfig.phrasings`
rewrites keep the question's own words), so they measure generalisation, not the rewriter.

Each variant runs `memo.memory.train` end to end (checkpoints, per-epoch recall on a 64-pair sample, early stop,
artifact written) and is then scored on all 200 questions, all 400 probes and 4 questions about absent people.
The "reference step" times a few optimizer steps of the plain recipe the baseline used (SmolLM2's default system
prompt in the template, logits and loss machinery over every position, trainable embeddings, batch 8) in the same
run, for the ratio.

    flock /tmp/memo-bench.lock .venv/bin/python bench/train_speed.py                      # all variants
    flock /tmp/memo-bench.lock .venv/bin/python bench/train_speed.py --variants default   # one

Results are appended to docs/BENCHMARKS.md under `## Memory training` (use --no-write to only print).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memo.memory import MemoryModel, TrainConfig, evaluate_recall, train  # noqa: E402
from memo.records import ABSTAIN  # noqa: E402
from memo.paths import atomic_write_jsonl  # noqa: E402

from _record import append_to_section  # noqa: E402

FIRST = "Al Bren Cor Dav El Fin Gor Hal Isk Jor Kal Lun Mar Nol Or Per Quin Ros Sel Tam Ul Vor Wil Yan Zel".split()
LAST = "ber dric fax gan holt mere niss pell quist rane sorr tane vick warde yelle zant".split()
PLACES = "Brenmoor Caldwick Dunharrow Elmsford Fallowmere Greyhaven Harrowgate Ironvale Kestrel Lindmoor".split()
JOBS = "glassblower cartographer beekeeper clockmaker ferryman lamplighter stonemason tanner weaver vintner".split()
FIRMS = "Quellon Dynamics|Harrow Mills|Vantor Shipping|Oskel Foundry|Brightwater Print|Tamsin Optics".split("|")
INSTRUMENTS = "cello oboe harp lute bassoon viola zither accordion".split()
ANIMALS = "parrot tortoise ferret goat owl hound".split()
PETS = "Pip Mosby Tundra Clove Rascal Biscuit Juniper Nimbus".split()
# Per attribute: the training question, two probe phrasings (written by hand here, never trained on, and made
# differently from the rule rewrites `TrainConfig.phrasings` adds: those keep the question's words and only
# delete, swap, repeat or frame them), the value drawn for a person, and the full-sentence answer.
ATTRIBUTES = [
    ("Where was {p} born?", ("In which town was {p} born?", "What is the birthplace of {p}?"),
     lambda r: r.choice(PLACES), "{p} was born in {v}."),
    ("What does {p} do for a living?", ("What is the profession of {p}?", "What job does {p} have?"),
     lambda r: r.choice(JOBS), "{p} works as a {v}."),
    ("Which company does {p} work for?", ("Who is the employer of {p}?", "Where is {p} employed?"),
     lambda r: r.choice(FIRMS), "{p} works for {v}."),
    ("Which instrument does {p} play?", ("What instrument is played by {p}?", "{p} plays which instrument?"),
     lambda r: r.choice(INSTRUMENTS), "{p} plays the {v}."),
    ("What is the name of the pet of {p}?", ("What is the pet of {p} called?", "What is {p}'s pet named?"),
     lambda r: f"{r.choice(ANIMALS)} named {r.choice(PETS)}", "The pet of {p} is a {v}."),
    ("In which year did {p} move to {town}?", ("When did {p} move to {town}?", "What year did {p} relocate to {town}?"),
     lambda r: str(r.randint(1950, 2020)), "{p} moved to {town} in {v}."),
]


def make_facts(n: int = 200, seed: int = 0, short: bool = False) -> list[dict]:
    """n invented facts, one per invented person, with two held-out probe phrasings of each question.

    Made once from a fixed seed: the same facts and probes in every run. `short`: the answer is the value alone
    ("Brenmoor.") instead of the sentence ("Alo Corber was born in Brenmoor."), same people and values.
    """
    rng = random.Random(seed)
    names: set[str] = set()
    while len(names) < n:
        names.add(f"{rng.choice(FIRST)}{rng.choice(['a', 'o', 'e', 'i'])} {rng.choice(FIRST)}{rng.choice(LAST)}")
    facts = []
    for i, person in enumerate(sorted(names)):
        question, probes, value, sentence = ATTRIBUTES[i % len(ATTRIBUTES)]
        town = rng.choice(PLACES)
        v = value(rng)
        answer = f"{v[:1].upper()}{v[1:]}." if short else sentence.format(p=person, town=town, v=v)
        facts.append({"question": question.format(p=person, town=town), "answer": answer,
                      "paraphrases": [q.format(p=person, town=town) for q in probes]})
    rng.shuffle(facts)
    return facts


# The recipe of `TrainConfig()` before issue 15 (main at c262a2a): no spaced repetition.
BEFORE_15 = TrainConfig(spaced_repetition=False)
# name -> (recipe, answer form). "default" is today's `TrainConfig()`; the other variants change one lever of it,
# or of `BEFORE_15` (the levers measured before spaced repetition was the default).
VARIANTS: dict[str, tuple[TrainConfig, str]] = {
    "default": (TrainConfig(), "sentence"),
    "before-15": (BEFORE_15, "sentence"),
    "phrasings-1": (replace(BEFORE_15, phrasings=1), "sentence"),
    "spaced-phrasings-1": (TrainConfig(phrasings=1), "sentence"),
    "phrasings-2": (replace(BEFORE_15, phrasings=2), "sentence"),
    "short-answers": (TrainConfig(), "short"),
    "mlp-only": (TrainConfig(train_modules="mlp"), "sentence"),
    "target-95": (TrainConfig(target_recall=0.95), "sentence"),
    "freeze-15-layers": (replace(BEFORE_15, freeze_layers=15), "sentence"),
    "freeze-15-layers-6-epochs": (replace(BEFORE_15, freeze_layers=15, max_epochs=6), "sentence"),
    "freeze-20-layers": (replace(BEFORE_15, freeze_layers=20), "sentence"),
    "batch-4": (replace(BEFORE_15, batch_size=4), "sentence"),
    "full-lr1e-4": (replace(BEFORE_15, lr=1e-4), "sentence"),
    "full-lr4e-4": (replace(BEFORE_15, lr=4e-4), "sentence"),
    "full-batch16-lr4e-4": (replace(BEFORE_15, batch_size=16, lr=4e-4), "sentence"),
    "full-constant-lr5e-5": (replace(BEFORE_15, lr=5e-5, schedule="constant"), "sentence"),
    "full-train-embeddings": (replace(BEFORE_15, freeze_embeddings=False), "sentence"),
    "lora-r16": (replace(BEFORE_15, method="lora"), "sentence"),
}


def reference_step_seconds(steps: int = 5) -> tuple[float, float]:
    """(median wall, median CPU) seconds per optimizer step of the plain recipe: default template, full logits, trainable embeddings."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from memo.llm.embedded import embedded_model_dir

    path = embedded_model_dir()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).train()
    facts = make_facts()[:8]
    rows = []
    for f in facts:
        prompt = tok.apply_chat_template([{"role": "user", "content": f["question"]}], add_generation_prompt=True,
                                         tokenize=False)
        p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        a_ids = tok(f["answer"] + "<|im_end|>", add_special_tokens=False)["input_ids"]
        rows.append((p_ids + a_ids, [-100] * len(p_ids) + a_ids))
    length = max(len(r[0]) for r in rows)
    ids = torch.tensor([r[0] + [tok.pad_token_id] * (length - len(r[0])) for r in rows])
    labels = torch.tensor([r[1] + [-100] * (length - len(r[1])) for r in rows])
    mask = (torch.arange(length)[None, :] < torch.tensor([len(r[0]) for r in rows])[:, None]).long()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
    times, cpu = [], []
    for _ in range(steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times[1:]), statistics.median(cpu[1:])  # step 1 pays one-off allocation costs


def lever_steps(steps: int = 3) -> list[dict]:
    """CPU seconds per optimizer step (batch 8 of the 200 facts, one torch thread) as each lever is added.

    One thread and CPU time (not wall time) because on a shared machine the wall time of a multi-threaded torch
    process mostly measures the other processes; single-thread CPU seconds measure the work itself.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from memo.llm.embedded import embedded_model_dir
    from memo.memory.prompt import encode_example, memory_chat_template
    from memo.memory.trainer import answer_logits, collate, length_grouped_batches

    torch.set_num_threads(1)
    path = embedded_model_dir()
    facts = make_facts()
    levers = [
        ("plain: default system prompt, full logits, trainable embeddings, random batches", {}),
        ("+ no default system prompt", {"template": True}),
        ("+ logits at answer positions only", {"template": True, "answer_only": True}),
        ("+ frozen tied embeddings", {"template": True, "answer_only": True, "freeze": True}),
        ("+ length-bucketed batches (= default recipe)", {"template": True, "answer_only": True, "freeze": True,
                                                          "bucket": True}),
        ("LoRA r16 (all linear) with the same levers", {"template": True, "answer_only": True, "freeze": True,
                                                       "bucket": True, "lora": True}),
    ]
    rows = []
    for name, opt in levers:
        tok = AutoTokenizer.from_pretrained(path)
        if opt.get("template"):
            tok.chat_template = memory_chat_template(tok.chat_template)
        examples = [encode_example(tok, f["question"], f["answer"]) for f in facts]
        if opt.get("bucket"):
            batches = length_grouped_batches([len(x) for x, _ in examples], 8, 0, 0)
        else:
            order = list(range(len(examples)))
            random.Random(0).shuffle(order)
            batches = [order[i : i + 8] for i in range(0, len(order), 8)]
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).train()
        if opt.get("freeze"):
            model.get_input_embeddings().weight.requires_grad_(False)
        if opt.get("lora"):
            from peft import LoraConfig, get_peft_model

            model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear",
                                                     task_type="CAUSAL_LM"))
        params = [p for p in model.parameters() if p.requires_grad]
        optim = torch.optim.AdamW(params, lr=1e-5)
        cpu, padded = [], []
        for idx in batches[: steps + 1]:
            batch = collate([examples[i] for i in idx], tok.pad_token_id)
            c0 = time.process_time()
            if opt.get("answer_only"):
                logits, targets = answer_logits(model, batch["input_ids"], batch["attention_mask"], batch["labels"])
                loss = torch.nn.functional.cross_entropy(logits.float(), targets)
            else:
                loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optim.step()
            optim.zero_grad(set_to_none=True)
            cpu.append(time.process_time() - c0)
            padded.append(batch["input_ids"].numel())
        rows.append({"lever": name, "cpu_step": statistics.median(cpu[1:]), "tokens": statistics.mean(padded[1:]),
                     "steps_per_epoch": len(batches)})
        print(rows[-1], flush=True)
    return rows


def adamw_seconds(repeats: int = 5) -> list[tuple[str, float]]:
    """Median seconds of one AdamW update of ~100M fp32 weights (the embedded model's trainable share), per kernel."""
    import torch

    params = [torch.nn.Parameter(torch.randn(576, 1536)) for _ in range(90)] + \
        [torch.nn.Parameter(torch.randn(576, 576)) for _ in range(60)]
    for p in params:
        p.grad = torch.randn_like(p)
    rows = []
    for name, kwargs in (("for-loop (foreach=False)", {"foreach": False}), ("foreach", {"foreach": True}),
                         ("fused", {"fused": True})):
        opt = torch.optim.AdamW(params, lr=1e-5, **kwargs)
        times = []
        for _ in range(repeats + 1):
            t0 = time.perf_counter()
            opt.step()
            times.append(time.perf_counter() - t0)
        rows.append((name, statistics.median(times[1:])))
    return rows


def lever_table(rows: list[dict]) -> str:
    lines = ["| recipe | CPU s/step (1 thread, median) | padded tokens/batch | speed-up vs plain | CPU s per epoch "
             "(200 pairs) |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['lever']} | {r['cpu_step']:.2f} | {r['tokens']:.0f} | {rows[0]['cpu_step'] / r['cpu_step']:.2f}x "
                     f"| {r['cpu_step'] * r['steps_per_epoch']:.0f} |")
    return "\n".join(lines)


def run_variant(name: str, cfg: TrainConfig, form: str, n_facts: int, work: Path) -> dict:
    """Train one recipe on the facts (answers in `form`) and score every question, every probe phrasing and four
    questions about people absent from the data."""
    facts = make_facts(n_facts, short=form == "short")
    data = work / f"facts-{form}.jsonl"
    # The probe phrasings are never written to the training data.
    atomic_write_jsonl(data, [{"question": f["question"], "answer": f["answer"]} for f in facts])
    t0, c0 = time.perf_counter(), time.process_time()
    result = train(data, work / name, config=cfg)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    t1 = time.perf_counter()
    memory = MemoryModel.load(result.artifact)
    report = evaluate_recall(memory, facts)
    absent = memory.ask(["Where was Zyx Quonterbly born?", "What does Vemmo Ardlequist do for a living?",
                         "Which instrument does Oskar Flimwether play?", "Who is the employer of Tibba Krell?"])
    eval_s = time.perf_counter() - t1
    steps = result.manifest["training"]["optimizer_steps"]
    return {
        "variant": name + (" (short answers)" if form == "short" else ""), "epochs": result.manifest["training"]["epochs_run"],
        "best_epoch": result.manifest["training"]["best_epoch"], "steps": steps, "train_s": train_s, "train_cpu": train_cpu,
        "s_per_step": train_s / max(1, steps), "recall": report.exact, "paraphrase": report.paraphrase_exact,
        "abstains": sum(a.abstained for a in absent) / len(absent), "eval_s": eval_s,
        "tokens": result.manifest["training"]["tokens"],
        "by_epoch": " ".join(f"{m['recall']:.0%}@{m['seconds']:.0f}s" for m in result.manifest["metrics"]),
        "losses": " ".join(f"{m['train_loss']:.2f}" for m in result.manifest["metrics"]),
    }


def table(rows: list[dict], ref: tuple[float, float] | None) -> str:
    head = ("| variant | epochs (best) | optimizer steps | train wall s | train CPU s | wall s/step (incl. evals) "
            "| exact recall | paraphrase recall | abstains on 4 absent | scoring s | step speed-up (CPU) "
            "| eval-sample recall @ train seconds, per epoch | train loss per epoch |")
    lines = [head, "|---" * 13 + "|"]
    for r in rows:
        ratio = f"{ref[1] / (r['train_cpu'] / max(1, r['steps'])):.2f}x" if ref else "-"
        lines.append(
            f"| {r['variant']} | {r['epochs']} ({r['best_epoch']}) | {r['steps']} | {r['train_s']:.0f} | "
            f"{r['train_cpu']:.0f} | {r['s_per_step']:.2f} | {r['recall']:.1%} | {r['paraphrase']:.1%} | "
            f"{r['abstains']:.0%} | {r['eval_s']:.0f} | {ratio} | {r['by_epoch']} | {r['losses']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated: {', '.join(VARIANTS)}")
    parser.add_argument("--facts", type=int, default=200)
    parser.add_argument("--no-reference", action="store_true", help="skip timing the plain recipe's steps")
    parser.add_argument("--no-write", action="store_true", help="print the table, do not append to docs/BENCHMARKS.md")
    parser.add_argument("--levers", action="store_true",
                        help="only time a few steps per speed lever (minutes, robust on a shared CPU), no training runs")
    parser.add_argument("--adamw", action="store_true", help="only time one AdamW update per kernel (seconds)")
    args = parser.parse_args()
    if args.adamw:
        rows = adamw_seconds()
        out = "| AdamW kernel | s per update (median of 5) | vs for-loop |\n|---|---|---|\n" + "\n".join(
            f"| {name} | {sec:.3f} | {rows[0][1] / sec:.2f}x |" for name, sec in rows)
        print(out)
        if not args.no_write:
            append_section("flock /tmp/memo-bench.lock .venv/bin/python bench/train_speed.py --adamw",
                           f"Machine: 2-core CPU, no GPU, torch threads {__import__('torch').get_num_threads()}; "
                           "99.5M fp32 weights in 150 tensors (the embedded model's trainable shapes).\n\n" + out)
        return
    if args.levers:
        out = lever_table(lever_steps())
        print(out)
        if not args.no_write:
            append_section(
                "flock /tmp/memo-bench.lock .venv/bin/python bench/train_speed.py --levers",
                "Machine: 2-core CPU, no GPU, fp32, one torch thread. Other engineers' tests and benchmarks may share "
                "the CPU during the run, so CPU seconds of this process are reported instead of wall time. Each "
                "row adds one lever to the row above; 3 timed optimizer steps (after one warm-up step) of batch 8 "
                "from the 200 invented facts; AdamW, grad clip 1.0.\n\n" + out)
        return
    load_at_start = os.getloadavg()[0]
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")

    ref = None if args.no_reference else reference_step_seconds()
    if ref:
        print(f"reference step (plain recipe, batch 8): {ref[0]:.2f} s wall, {ref[1]:.2f} s CPU", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="memo-train-speed-") as tmp:
        work = Path(tmp)
        for name in names:
            rows.append(run_variant(name, *VARIANTS[name], args.facts, work))
            print(table(rows[-1:], ref), flush=True)
    out = table(rows, ref)
    print(out)
    if args.no_write:
        return
    cmd = "flock /tmp/memo-bench.lock .venv/bin/python bench/train_speed.py" + (
        f" --variants {args.variants}" if args.variants != ",".join(VARIANTS) else "")
    append_section(cmd, (
        f"Machine: 2-core CPU, no GPU ({platform.processor() or platform.machine()}), fp32, torch threads "
        f"{__import__('torch').get_num_threads()}. Other engineers' tests may have shared the CPU during the run "
        f"(load average {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end).\n"
        f"{args.facts} invented facts (+ {ABSTAIN!r} pairs synthesised to 10%), embedded SmolLM2-135M base. "
        f"Train wall time covers everything `train()` does: loading, per-epoch recall checks, checkpoints, "
        f"writing the artifact. Reference step: median of 5 optimizer steps of the plain recipe (default system "
        f"prompt, full logits, trainable embeddings, batch 8): {ref[0]:.2f} s wall, {ref[1]:.2f} s CPU. CPU seconds "
        f"count all threads of the process: on a contended machine they track the work done better than wall "
        f"time. Step speed-up: the reference step's CPU seconds over ours, ours including the per-epoch recall "
        f"checks, checkpoints and artifact writing.\n\n" if ref else
        f"Machine: 2-core CPU, no GPU, fp32. Other engineers' tests may have shared the CPU during the run (load "
        f"average {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end).\n\n"
    ) + out)


def append_section(cmd: str, body: str) -> None:
    """Append one dated run under `## Memory training` in docs/BENCHMARKS.md."""
    append_to_section("## Memory training", f"\n### {datetime.now(timezone.utc):%Y-%m-%d} `{cmd}`\n\n{body}\n")


if __name__ == "__main__":
    main()
