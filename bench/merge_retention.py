"""Retention benchmark for continual updates: how many facts of set 1 and set 2 an updated memory keeps.

Builds two sets of invented facts (deterministic, no model ever saw them), trains a memory on each with
`memo.memory.train` (the recipe `memo train` and `memo add` use), combines them every way we try (merges, merge +
replay, continual fine-tuning, a format-warmed base, LoRA memories) and measures recall on both sets against a
memory retrained on the union. Appends a table (recall, wall time, peak RSS) to docs/BENCHMARKS.md under
`## Merging`.

    flock /tmp/memo-bench.lock .venv/bin/python bench/merge_retention.py --work /tmp/merge-bench

With --work, trained memories and measured rows are kept there, so an interrupted run resumes and --report-only
writes the table from what exists.
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

from _record import append_to_section  # noqa: E402

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


def recall(model_dir: Path, facts: list[dict]) -> float:
    """Percent of facts whose whole answer greedy decoding reproduces exactly (checked teacher-forced, in the
    memory prompt format: the same check `memo train` runs after each epoch)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from memo.memory.prompt import memory_chat_template
    from memo.memory.trainer import exact_answers

    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.chat_template = memory_chat_template(tok.chat_template)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    hits = exact_answers(model, tok, [(f["question"], f["answer"]) for f in facts])
    return 100.0 * sum(hits) / len(facts)


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
    ap.add_argument("--sections", default="plain,replay,continual,rotating,union,warm,lora",
                    help="which parts to run (comma-separated)")
    ap.add_argument("--replays", default="ties:0.2:2,ties:1.0:1,task_arithmetic:1.0:1",
                    help="replay variants after merging, each METHOD:SHARE_OF_EACH_SET:EPOCHS")
    ap.add_argument("--rotating-shares", type=lambda v: [float(x) for x in v.split(",")], default=[0.5, 1.0],
                    help="replay shares for the rotating section (comma-separated)")
    ap.add_argument("--work", type=Path, default=None, help="keep the trained models here (default: a temp dir)")
    ap.add_argument("--no-write", action="store_true", help="print the table without appending to BENCHMARKS.md")
    ap.add_argument("--report-only", action="store_true", help="write the table from the rows already measured in --work")
    args = ap.parse_args()
    torch.set_num_threads(2)
    sections = set(args.sections.split(","))

    from memo.llm.embedded import embedded_model_dir
    from memo.memory import MemoryStore, TrainConfig, read_manifest, train
    from memo.paths import atomic_write_jsonl

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
                     "peak_mib": rec.get("peak_mib", 0), "steps": rec.get("steps"), "note": note})
        done[label] = rows[-1]
        done_file.write_text(json.dumps(list(done.values()), indent=1))
        print(f"{label:55s} set1 {r1:5.1f}  set2 {r2:5.1f}  {rec.get('seconds', 0):7.1f}s  "
              f"{rec.get('peak_mib', 0)} MiB", flush=True)

    def trained(name: str, facts: list[dict], base_model: Path = base, init: Path | None = None,
                config: TrainConfig | None = None, replay: list[dict] | None = None) -> tuple[Path, dict]:
        """`memo.memory.train` with its default recipe (or `config`); the artifact directory and its cost."""
        store, rec = MemoryStore(work / name), {}
        if not store.exists():
            data, replay_file = work / f"{name}.jsonl", work / f"{name}-replay.jsonl"
            atomic_write_jsonl(data, facts)
            atomic_write_jsonl(replay_file, replay or [])
            with measured(rec):
                train(data, store.root, base=str(base_model), config=config, init_from=init,
                      replay=replay_file if replay else None)
        # Optimizer steps (batch 8) measure training cost independently of what else shares the CPU.
        rec["steps"] = read_manifest(store.current())["training"]["optimizer_steps"]
        return store.current(), rec

    def merged(name: str, base_dir: Path, sources: list[Path], method: str, density: float = 1.0,
               weights=None) -> tuple[Path, dict]:
        out, rec = work / name, {}
        if (out / "model.safetensors").exists():
            return out, rec
        shutil.rmtree(out, ignore_errors=True)
        with measured(rec):
            merge_weights(base_dir, sources, out, method, weights, density)
        return out, rec

    evaluate("base (embedded SmolLM2-135M-Instruct)", base, {})
    a, rec_a = trained("A", set1)
    evaluate("A: trained on set 1", a, rec_a)
    if sections & {"plain", "replay"}:  # only merges need a memory of set 2 alone
        b, rec_b = trained("B", set2)
        evaluate("B: trained on set 2", b, rec_b)

    plain = [("task_arithmetic", 1.0, None), ("linear", 1.0, None), ("ties", 0.3, None), ("ties", 0.6, None),
             ("ties", 1.0, None), ("dare_ties", 0.3, None), ("dare_ties", 0.5, None), ("dare_ties", 0.7, None)]
    for method, density, weights in plain if "plain" in sections else ():
        label = f"{method}" + (f" d={density}" if density < 1 else "") + (f" w={weights[0]}" if weights else "")
        m, rec = merged("m-" + label.replace(" ", "_"), base, [a, b], method, density, weights)
        evaluate(f"merge: {label}", m, rec, "+ cost of training B")

    # Replay: a short fine-tune of the merged model on a sample of old and new facts (the `memo add` step).
    replay_cfg = TrainConfig(abstention_ratio=0.0, eval_size=0)
    for spec in args.replays.split(",") if "replay" in sections else ():
        method, fraction, epochs = spec.split(":")[0], float(spec.split(":")[1]), int(spec.split(":")[2])
        k = max(1, round(fraction * args.facts))
        label = f"merge {method} + replay {k}+{k} facts x{epochs}"
        rng = random.Random(0)
        replay = rng.sample(set1, k) + rng.sample(set2, k)
        m, _ = merged(f"rm-{method}", base, [a, b], method)
        out, rec = trained(f"replay-{method}-{k}-{epochs}", replay, init=m,
                           config=TrainConfig(**{**replay_cfg.as_dict(), "max_epochs": epochs}))
        unseen = [f for f in set1 if f not in replay], [f for f in set2 if f not in replay]
        note = "seconds: replay only" + (
            f"; on the {len(unseen[0])} facts of each set never replayed: "
            f"{recall(out, unseen[0]):.0f} / {recall(out, unseen[1]):.0f}" if unseen[0] and label not in done else "")
        evaluate(label, out, rec, note)

    # Not a merge: fine-tune memory A itself on set 2 plus a fixed quarter of set 1 (continual learning).
    if "continual" in sections:
        old = random.Random(0).sample(set1, max(1, round(0.25 * args.facts)))
        seq, rec_s = trained("continual-0.25", set2 + old, init=a)
        never = [f for f in set1 if f not in old]
        evaluate(f"A fine-tuned on set 2 + {len(old)} replayed set-1 facts", seq, rec_s,
                 f"no merge; on the {len(never)} set-1 facts never replayed: {recall(seq, never):.0f}")

    # `memo add --strategy continue`: fine-tune A on set 2, replaying a rotating share of set 1 each epoch.
    if "rotating" in sections:
        for share in args.rotating_shares:
            cont, rec_c = trained(f"rotating-{share}", set2, init=a, replay=set1,
                                  config=TrainConfig(replay_share=share))
            evaluate(f"A fine-tuned on set 2, replaying {share:.0%} of set 1 per epoch in rotation", cont, rec_c,
                     "no merge (memo add --strategy continue)")

    # The reference: one memory retrained on both sets.
    if "union" in sections:
        union, rec_u = trained("union", set1 + set2)
        evaluate("retrained on the union", union, rec_u, "reference")

    # A format-warmed base: the base briefly tuned on unrelated QA in the memory format, so deltas carry facts.
    if "warm" in sections:
        warm, rec_w = trained("warm", generic, config=TrainConfig(max_epochs=3, eval_size=0))
        evaluate("format-warmed base (3 epochs on 100 unrelated facts)", warm, rec_w)
        wa, rec_wa = trained("wA", set1, base_model=warm)
        evaluate("A from warmed base", wa, rec_wa)
        wb, rec_wb = trained("wB", set2, base_model=warm)
        evaluate("B from warmed base", wb, rec_wb)
        for method, density in (("task_arithmetic", 1.0), ("ties", 1.0), ("dare_ties", 0.5)):
            label = f"{method}" + (f" d={density}" if density < 1 else "")
            m, rec = merged("wm-" + label.replace(" ", "_"), warm, [wa, wb], method, density)
            evaluate(f"warmed base, merge: {label}", m, rec, "deltas against the warmed base")

    if "lora" in sections:
        lora = TrainConfig(method="lora")
        la, rec_la = trained("lA", set1, config=lora)
        evaluate("LoRA A (r=16) on set 1", la, rec_la)
        lb, rec_lb = trained("lB", set2, config=lora)
        evaluate("LoRA B (r=16) on set 2", lb, rec_lb)
        for method, density in (("task_arithmetic", 1.0), ("ties", 1.0)):
            label = f"{method}" + (f" d={density}" if density < 1 else "")
            m, rec = merged("lm-" + label.replace(" ", "_"), base, [la, lb], method, density)
            evaluate(f"LoRA merge (exact B@A deltas): {label}", m, rec)

    report(rows, args)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


def report(rows: list[dict], args) -> None:
    ref = next((r for r in rows if r["model"] == "retrained on the union"), None)
    b = next((r for r in rows if r["model"].startswith("B: trained")), {})
    cost_b = f"{b.get('steps') or '-'} steps, {b.get('seconds', 0):.0f} s"
    retrain_cost = f"{ref.get('steps') or '-'} steps, {ref['seconds']:.0f} s" if ref else "not measured"
    lines = [
        "",
        f"### merge retention, {datetime.now(timezone.utc):%Y-%m-%d}",
        "",
        f"`flock /tmp/memo-bench.lock .venv/bin/python bench/merge_retention.py --facts {args.facts} "
        f"--sections {args.sections} --replays {args.replays} "
        f"--rotating-shares {','.join(str(x) for x in args.rotating_shares)}`",
        "",
        f"Machine: 2-core CPU, no GPU, torch threads 2. Model: embedded SmolLM2-135M-Instruct, fp32. Training: "
        f"`memo.memory.train` with its default recipe (the one `memo train` and `memo add` use) unless a row says "
        f"otherwise. {args.facts} invented facts per set; recall = greedy decoding reproduces the whole answer "
        f"exactly (checked teacher-forced). '% of retrain' = recall / recall of the union-retrained memory on that "
        f"set. Optimizer steps (batch 8) and seconds = that step alone (a merge's real cost is also training B: "
        f"{cost_b}; retraining: {retrain_cost}); steps measure training cost whatever else shares the CPU.",
        "",
        "| model | set 1 recall | set 2 recall | % of retrain (set 1 / set 2) | optimizer steps | seconds | peak RSS MiB "
        "| note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pct = f"{100 * r['set1'] / max(ref['set1'], 1e-9):.0f} / {100 * r['set2'] / max(ref['set2'], 1e-9):.0f}" if ref else "-"
        lines.append(f"| {r['model']} | {r['set1']:.0f} | {r['set2']:.0f} | {pct} | {r.get('steps') or '-'} | "
                     f"{r['seconds']:.1f} | {r['peak_mib']} | {r['note']} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        append_to_section("## Merging", text)

if __name__ == "__main__":
    main()
