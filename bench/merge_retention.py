"""Retention benchmark for continual updates: how many facts of set 1 and set 2 a merged memory keeps.

Builds two sets of invented facts (deterministic, no model ever saw them), fine-tunes the embedded model on each,
merges the two memories with every method we try, and measures recall on both sets against a memory retrained on
the union. Appends a table (recall, wall time, peak RSS) to docs/BENCHMARKS.md under `## Merging`.

    flock /tmp/memo-bench.lock .venv/bin/python bench/merge_retention.py            # 100 facts per set (GPU)
    flock /tmp/memo-bench.lock .venv/bin/python bench/merge_retention.py --facts 12 --skip-lora --work /tmp/mb  # 2-core CPU

Parts: plain merges, merge + replay variants (--replays), a sequential fine-tune of A on set 2 plus replayed set-1
facts, the union retrain, a format-warmed base, LoRA memories (--sections picks). With --work, trained models and
measured rows are kept there, so an interrupted run resumes and --report-only writes the table from what exists.

Training here is this script's own minimal loop (full fine-tune with frozen embeddings or LoRA, loss on answer
tokens, AdamW, the memory's prompt format without a system turn), labelled as such in the table, so the
benchmark measures merging and not a training recipe.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memo.merge.merging import merge_weights  # noqa: E402
from memo.paths import atomic_write_text  # noqa: E402

SYLLABLES = "ka lo mi ren tor vash quil dren zo bex fal gri nuv plo sar thi wem yor ulk jax".split()
ATTRIBUTES = ["home city", "profession", "favourite instrument", "pet's name", "birth village"]


def _word(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(n)).capitalize()


def make_facts(n: int, seed: int) -> list[dict]:
    """n invented facts, one attribute of one invented person each (names and values no model has seen)."""
    rng = random.Random(seed)
    facts, seen = [], set()
    while len(facts) < n:
        entity = f"{_word(rng, 2)} {_word(rng, 3)}"
        value = _word(rng, 3)
        if entity in seen or value.lower() in seen:
            continue
        seen.update({entity, value.lower()})
        attr = ATTRIBUTES[len(facts) % len(ATTRIBUTES)]
        facts.append({"question": f"What is the {attr} of {entity}?", "answer": f"{value}."})
    return facts


def encode(tok, question: str, answer: str | None = None) -> tuple[list[int], int]:
    """Chat-format tokens without the default system prompt; returns (ids, index where the answer starts)."""
    prompt = f"<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n"
    p = tok(prompt, add_special_tokens=False)["input_ids"]
    if answer is None:
        return p, len(p)
    a = tok(answer + "<|im_end|>", add_special_tokens=False)["input_ids"]
    return p + a, len(p)


def train(init_dir: Path, facts: list[dict], out: Path, epochs: int, lr: float, lora: bool = False,
          batch_size: int = 16, seed: int = 0) -> None:
    """Minimal fine-tune (this benchmark's own loop): AdamW, constant lr, clip 1.0, loss on answer tokens,
    embeddings frozen."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(init_dir)
    model = AutoModelForCausalLM.from_pretrained(init_dir, dtype=torch.float32)
    model.get_input_embeddings().weight.requires_grad_(False)  # tied embeddings frozen, as memo.memory does
    if lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear"))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    rows = [encode(tok, f["question"], f["answer"]) for f in facts]
    rng = random.Random(seed)
    for _ in range(epochs):
        order = list(range(len(rows)))
        rng.shuffle(order)
        for s in range(0, len(order), batch_size):
            batch = [rows[i] for i in order[s : s + batch_size]]
            width = max(len(ids) for ids, _ in batch)
            ids = torch.full((len(batch), width), tok.pad_token_id or 0)
            labels = torch.full((len(batch), width), -100)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for r, (x, start) in enumerate(batch):
                ids[r, : len(x)] = torch.tensor(x)
                labels[r, start : len(x)] = torch.tensor(x[start:])
                mask[r, : len(x)] = 1
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad()
    if lora:
        model.save_pretrained(out / "adapter")  # exact factors, merged by scale * B @ A
        model = model.merge_and_unload()
    model.save_pretrained(out)
    tok.save_pretrained(out)


def recall(model_dir: Path, facts: list[dict]) -> float:
    """Percent of facts whose whole answer greedy decoding reproduces exactly.

    Computed teacher-forced in one batched forward pass: greedy decoding emits the answer exactly when the
    argmax at every answer position (end-of-turn token included) is the answer's next token. Same result as
    generating, at a fraction of the cost on a CPU.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    hits = 0
    for s in range(0, len(facts), 32):
        rows = [encode(tok, f["question"], f["answer"]) for f in facts[s : s + 32]]
        width = max(len(ids) for ids, _ in rows)
        ids = torch.tensor([x + [tok.pad_token_id] * (width - len(x)) for x, _ in rows])
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x, _ in rows])
        with torch.inference_mode():
            pred = model(input_ids=ids, attention_mask=mask).logits.argmax(-1)
        for r, (x, start) in enumerate(rows):
            hits += bool((pred[r, start - 1 : len(x) - 1] == ids[r, start : len(x)]).all())
    return 100.0 * hits / len(facts)


@contextmanager
def measured(record: dict):
    """Wall seconds and peak resident memory of a block (Linux: VmHWM after resetting it via clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # peak then includes earlier steps
    t0 = time.perf_counter()
    try:
        yield
    finally:
        record["seconds"] = record.get("seconds", 0.0) + time.perf_counter() - t0
        hwm = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                   if line.startswith("VmHWM:"))
        record["peak_mib"] = max(record.get("peak_mib", 0), hwm // 1024)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--facts", type=int, default=100, help="facts per set")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-4, help="full fine-tune learning rate")
    ap.add_argument("--lora-lr", type=float, default=1e-3)
    ap.add_argument("--sections", default="plain,replay,sequential,union,warm,lora", help="which parts to run (comma-separated)")
    ap.add_argument("--replays", default="ties:0.2:2,task_arithmetic:0.2:2,ties:0.2:4,ties:0.5:2",
                    help="replay variants after merging, each METHOD:SHARE_OF_EACH_SET:EPOCHS")
    ap.add_argument("--skip-lora", action="store_true")
    ap.add_argument("--work", type=Path, default=None, help="keep the trained models here (default: a temp dir)")
    ap.add_argument("--no-write", action="store_true", help="print the table without appending to BENCHMARKS.md")
    ap.add_argument("--report-only", action="store_true", help="write the table from the rows already measured in --work")
    args = ap.parse_args()
    torch.set_num_threads(2)
    sections = set(args.sections.split(","))

    from memo.llm.embedded import embedded_model_dir

    base = embedded_model_dir()
    work = args.work or Path(tempfile.mkdtemp(prefix="memo-merge-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    set1, set2 = make_facts(args.facts, seed=1), make_facts(args.facts, seed=2)
    generic = make_facts(args.facts, seed=3)  # a third, unrelated set: teaches the format, not set 1 or 2
    rows: list[dict] = []
    done_file = work / "rows.json"  # rows of an interrupted run with the same --work are not measured again
    done = {r["model"]: r for r in json.loads(done_file.read_text())} if done_file.exists() else {}
    if args.report_only:
        return report(list(done.values()), args)

    def evaluate(label: str, model_dir: Path, rec: dict, note: str = "") -> None:
        if label in done:
            rows.append(done[label])
            return
        r1, r2 = recall(model_dir, set1), recall(model_dir, set2)
        rows.append({"model": label, "set1": r1, "set2": r2, "seconds": rec.get("seconds", 0.0),
                     "peak_mib": rec.get("peak_mib", 0), "note": note})
        done_file.write_text(json.dumps(rows, indent=1))
        print(f"{label:55s} set1 {r1:5.1f}  set2 {r2:5.1f}  {rec.get('seconds', 0):7.1f}s  "
              f"{rec.get('peak_mib', 0)} MiB", flush=True)

    def trained(name: str, init: Path, facts: list[dict], epochs: int = args.epochs, lora: bool = False) -> tuple[Path, dict]:
        out, rec = work / name, {}
        if not (out / "model.safetensors").exists():
            with measured(rec):
                train(init, facts, out, epochs, args.lora_lr if lora else args.lr, lora=lora, batch_size=args.batch_size)
        return out, rec

    def merged(name: str, base_dir: Path, sources: list[Path], method: str, density: float = 1.0,
               weights=None) -> tuple[Path, dict]:
        out, rec = work / name, {}
        if (out / "model.safetensors").exists():
            return out, rec
        shutil.rmtree(out, ignore_errors=True)
        with measured(rec):
            merge_weights(base_dir, sources, out, method, weights, density, show_progress=False)
        return out, rec

    evaluate("base (embedded SmolLM2-135M-Instruct)", base, {})
    a, rec_a = trained("A", base, set1)
    evaluate("A: trained on set 1", a, rec_a)
    b, rec_b = trained("B", base, set2)
    evaluate("B: trained on set 2", b, rec_b)

    plain = [("task_arithmetic", 1.0, None), ("linear", 1.0, None), ("ties", 0.3, None), ("ties", 1.0, None),
             ("dare_ties", 0.5, None)]
    for method, density, weights in plain if "plain" in sections else ():
        label = f"{method}" + (f" d={density}" if density < 1 else "") + (f" w={weights[0]}" if weights else "")
        m, rec = merged("m-" + label.replace(" ", "_"), base, [a, b], method, density, weights)
        evaluate(f"merge: {label}", m, rec, "+ cost of training B")

    # Replay: a short fine-tune of the merged model on a small sample of old and new facts.
    for spec in args.replays.split(",") if "replay" in sections else ():
        method, fraction, epochs = spec.split(":")[0], float(spec.split(":")[1]), int(spec.split(":")[2])
        k = max(1, round(fraction * args.facts))
        label = f"merge {method} + replay {k}+{k} facts x{epochs}"
        if label in done:
            evaluate(label, base, {})
            continue
        rng = random.Random(0)
        replay = rng.sample(set1, k) + rng.sample(set2, k)
        m, _ = merged(f"rm-{method}", base, [a, b], method)
        out, rec = work / f"replay-{method}-{k}-{epochs}", {}
        with measured(rec):
            train(m, replay, out, epochs, args.lr, batch_size=args.batch_size)
        held1 = recall(out, [f for f in set1 if f not in replay])
        held2 = recall(out, [f for f in set2 if f not in replay])
        evaluate(label, out, rec, f"seconds: replay only; on the {args.facts - k} facts of each set never "
                                  f"replayed: {held1:.0f} / {held2:.0f}")

    # Not a merge: fine-tune memory A itself on set 2 plus a replayed quarter of set 1 (cost ~1.25x training B).
    if "sequential" in sections:
        rng = random.Random(0)
        old = rng.sample(set1, max(1, round(0.25 * args.facts)))
        seq, rec_s = trained("seq", a, set2 + old)
        evaluate(f"A fine-tuned on set 2 + {len(old)} replayed set-1 facts", seq, rec_s,
                 f"no merge; on the {args.facts - len(old)} set-1 facts never replayed: "
                 f"{recall(seq, [f for f in set1 if f not in old]):.0f}")

    # The reference: one memory retrained on both sets.
    if "union" in sections:
        union, rec_u = trained("union", base, set1 + set2)
        evaluate("retrained on the union", union, rec_u, "reference")

    # A format-warmed base: the base briefly tuned on unrelated QA in the memory format, so deltas carry facts.
    if "warm" in sections:
        warm, rec_w = trained("warm", base, generic, epochs=max(2, args.epochs // 3))
        evaluate("format-warmed base", warm, rec_w)
        wa, rec_wa = trained("wA", warm, set1)
        evaluate("A from warmed base", wa, rec_wa)
        wb, rec_wb = trained("wB", warm, set2)
        evaluate("B from warmed base", wb, rec_wb)
        for method, density in (("task_arithmetic", 1.0), ("ties", 1.0)):
            label = f"{method}" + (f" d={density}" if density < 1 else "")
            m, rec = merged("wm-" + label.replace(" ", "_"), warm, [wa, wb], method, density)
            evaluate(f"warmed base, merge: {label}", m, rec, "deltas against the warmed base")

    if not args.skip_lora and "lora" in sections:
        la, rec_la = trained("lA", base, set1, lora=True)
        evaluate("LoRA A (r=8) on set 1", la, rec_la)
        lb, rec_lb = trained("lB", base, set2, lora=True)
        evaluate("LoRA B (r=8) on set 2", lb, rec_lb)
        for method, density in (("task_arithmetic", 1.0), ("ties", 1.0)):
            label = f"{method}" + (f" d={density}" if density < 1 else "")
            m, rec = merged("lm-" + label.replace(" ", "_"), base, [la / "adapter", lb / "adapter"], method, density)
            evaluate(f"LoRA merge (exact B@A deltas): {label}", m, rec)

    report(rows, args)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


def report(rows: list[dict], args) -> None:
    ref = next((r for r in rows if r["model"] == "retrained on the union"), None)
    cost_b = next((r["seconds"] for r in rows if r["model"].startswith("B: trained")), 0.0)
    retrain_cost = f"{ref['seconds']:.0f} s" if ref else "not measured"
    lines = [
        "",
        f"### merge retention, {datetime.now(timezone.utc):%Y-%m-%d}",
        "",
        f"`flock /tmp/memo-bench.lock .venv/bin/python bench/merge_retention.py --facts {args.facts} "
        f"--epochs {args.epochs} --batch-size {args.batch_size} --lr {args.lr} --lora-lr {args.lora_lr} "
        f"--sections {args.sections} --replays {args.replays}{' --skip-lora' if args.skip_lora else ''}`",
        "",
        f"Machine: 2-core CPU, no GPU (other work may have shared the CPU). Model: embedded SmolLM2-135M-Instruct, "
        f"fp32. Training: the benchmark's own minimal loop (full fine-tune, embeddings frozen, AdamW, constant lr {args.lr}, {args.epochs} epochs, batch {args.batch_size}). "
        f"{args.facts} invented facts per set; recall = greedy decoding reproduces the whole answer exactly (checked teacher-forced). "
        f"'% of retrain' = recall / recall of the union-retrained memory on that set. Seconds = that step alone "
        f"(a merge's real cost is also training B: {cost_b:.0f} s; retraining: "
        f"{retrain_cost}).",
        "",
        "| model | set 1 recall | set 2 recall | % of retrain (set 1 / set 2) | seconds | peak RSS MiB | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pct = f"{100 * r['set1'] / max(ref['set1'], 1e-9):.0f} / {100 * r['set2'] / max(ref['set2'], 1e-9):.0f}" if ref else "-"
        lines.append(f"| {r['model']} | {r['set1']:.0f} | {r['set2']:.0f} | {pct} | {r['seconds']:.1f} | "
                     f"{r['peak_mib']} | {r['note']} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        path = ROOT / "docs" / "BENCHMARKS.md"
        existing = path.read_text() if path.exists() else "# Benchmarks\n"
        if "## Merging" not in existing:
            existing = existing.rstrip("\n") + "\n\n## Merging\n"
        head, _, tail = existing.partition("## Merging\n")
        nxt = tail.find("\n## ")
        section, rest = (tail, "") if nxt < 0 else (tail[:nxt + 1], tail[nxt + 1:])
        atomic_write_text(path, head + "## Merging\n" + section.rstrip("\n") + "\n" + text + ("\n" + rest if rest else ""))


if __name__ == "__main__":
    main()
