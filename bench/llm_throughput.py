"""Embedded-model generation throughput: single vs batch 8, plain text vs schema-constrained JSON.

    .venv/bin/python bench/llm_throughput.py [--model embedded] [--repeats 3] [--max-tokens 64]

Prints a markdown table (median over repeats) to paste into docs/BENCHMARKS.md. The response cache is off:
every call really generates.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from pydantic import BaseModel

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from memo.llm import GenParams, load_model  # noqa: E402

PROMPTS = [
    "Describe the city of Paris in two sentences.",
    "Explain what a memory model is.",
    "Write a short note about the history of tea.",
    "List some facts about the planet Mars.",
    "Describe how bread is made.",
    "Tell me about the river Nile.",
    "What does a librarian do?",
    "Summarise the rules of chess.",
]


class Fact(BaseModel):
    question: str
    answer: str


def measure(model, prompts, params, structured: bool) -> tuple[float, int]:
    before = model.usage.completion_tokens
    t0 = time.perf_counter()
    if structured:
        model.structured_batch(prompts, Fact, params)
    else:
        model.chat_batch(prompts, params)
    return time.perf_counter() - t0, model.usage.completion_tokens - before


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()
    import torch

    model = load_model(args.model, cache=False)
    params = GenParams(max_tokens=args.max_tokens)
    model.chat("warm up", GenParams(max_tokens=4))
    rows = []
    for structured in (False, True):
        for batch in (1, 8):
            rates, latencies = [], []
            for _ in range(args.repeats):
                if batch == 1:
                    seconds = tokens = 0
                    for p in PROMPTS[:4]:
                        s, t = measure(model, [p], params, structured)
                        seconds, tokens = seconds + s, tokens + t
                else:
                    seconds, tokens = measure(model, PROMPTS[:batch], params, structured)
                rates.append(tokens / seconds)
                latencies.append(seconds)
            rows.append((("constrained JSON" if structured else "plain text"), batch, statistics.median(rates)))
    base = {kind: rate for kind, batch, rate in rows if batch == 1}
    print(f"model {args.model}, max_tokens {args.max_tokens}, median of {args.repeats}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print("| output | batch | tokens/s (median) | vs batch 1 |")
    print("|---|---|---|---|")
    for kind, batch, rate in rows:
        print(f"| {kind} | {batch} | {rate:.1f} | {rate / base[kind]:.2f}x |")


if __name__ == "__main__":
    main()
