"""Build the embedded executive's LoRA adapter (package data memo/data/executive_adapter), reproducibly.

    flock /tmp/memo-bench.lock .venv/bin/python scripts/build_executive_adapter.py

Generates the synthetic `chain` protocol examples (memo.executive.synthetic, fixed seed), trains the adapter
with memo.memory.train (memo.executive.adapter.TRAIN) and writes it in fp16 with its manifest. --work keeps the
training data and checkpoints, so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memo.executive.adapter import EXAMPLES, SEED, TRAIN, build_adapter  # noqa: E402
from memo.settings import with_overrides  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", help="adapter directory (default: the package data directory)")
    parser.add_argument("--examples", type=int, default=EXAMPLES)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--epochs", type=int, default=TRAIN.max_epochs)
    parser.add_argument("--work", help="keep training data and checkpoints here (resumable)")
    args = parser.parse_args()
    from memo.cli._common import RichProgress

    config = with_overrides(TRAIN, max_epochs=args.epochs, seed=args.seed)
    manifest = build_adapter(args.output, examples=args.examples, seed=args.seed, config=config, work=args.work,
                             progress=RichProgress())
    print(json.dumps({k: manifest[k] for k in ("data", "training", "parameters", "files")}, indent=2))


if __name__ == "__main__":
    main()
