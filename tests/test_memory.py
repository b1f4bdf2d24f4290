"""Memory training, artifact, asking and recall on a tiny random model (fast) plus input validation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import make_tiny_llama

from memo.memory import (
    ABSTAIN, CorruptMemoryError, MemoryModel, MemoryNotFoundError, TrainConfig, encode_example, evaluate_recall,
    format_prompt, load_dataset, memory_chat_template, read_manifest, train,
)
from memo.memory.epochs import abstention_questions
from memo.settings import from_table

VAULTS = "Alpha Bravo Delta Echo Kilo Lima Oscar Romeo Sierra Tango".split()
CODES = "red blue green gold pink gray teal navy lime rose".split()
FACTS = [{"question": f"What is the code of vault {v}?", "answer": c, "doc_ids": [f"doc-{v.lower()}"],
          "chunk_ids": [f"doc-{v.lower()}#0"]} for v, c in zip(VAULTS, CODES)]
# Tiny random models learn at a high rate and need their embeddings trained; no synthetic abstentions, and no
# rewritten questions (spaced repetition's): a 2-layer random model cannot read a question in other words.
TINY = dict(batch_size=2, lr=3e-3, freeze_embeddings=False, freeze_layers=0, schedule="constant", warmup_ratio=0.0,
            abstention_ratio=0.0, eval_size=10, patience=100, spaced_repetition=False)


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def tiny64_dir(tmp_path_factory, embedded_dir):
    """A random 2-layer Llama (hidden 64) with the embedded tokenizer: small enough to train in seconds,
    wide enough to memorise ten facts with full fine-tuning."""
    return make_tiny_llama(tmp_path_factory.mktemp("tiny64"), embedded_dir, hidden_size=64)


@pytest.fixture(scope="session")
def tiny_memory(tmp_path_factory, tiny64_dir):
    """A full fine-tune of the tiny model on the ten vault facts (trained once, shared by several tests)."""
    work = tmp_path_factory.mktemp("tiny-memory")
    data = write_jsonl(work / "facts.jsonl", FACTS)
    result = train(data, work / "mem", base=f"hf:{tiny64_dir}", config=TrainConfig(max_epochs=40, **TINY))
    return work / "mem", result


def test_tiny_full_memorises_ten_facts(tiny_memory):
    mem, result = tiny_memory
    report = evaluate_recall(mem, FACTS)
    assert report.exact == 1.0, [(i.question, i.answer) for i in report.items if not i.exact]
    manifest = read_manifest(mem)
    assert manifest["kind"] == "full" and manifest["lineage"] == []
    assert manifest["training"]["best_epoch"] == len(manifest["metrics"])  # stopped at the first perfect epoch
    assert manifest["metrics"][-1]["recall"] == 1.0
    assert manifest["reflections"]["count"] == 10
    cost = manifest["training"]["build_cost"]
    assert cost["optimizer_steps"] == manifest["training"]["optimizer_steps"] > 0
    assert 0 < cost["tokens"] <= cost["padded_tokens"] and cost["wall_seconds"] > 0 and cost["cpu_seconds"] > 0
    assert cost["peak_memory_bytes"] > 10 * 2**20
    params = sum(p.numel() for p in __import__("transformers").AutoModelForCausalLM.from_pretrained(mem / "current")
                 .parameters())
    assert cost["h100"]["flops"] == 6 * params * cost["padded_tokens"]
    assert cost["h100"]["gpu_hours"] == pytest.approx(cost["h100"]["flops"] / (989e12 * 0.4) / 3600)


def test_ask_uses_the_training_prompt_exactly(tiny_memory):
    """The token ids ask() feeds the model equal the prompt part of the training example, using the
    artifact's saved tokenizer and template (what transformers and vLLM will load)."""
    mem, _ = tiny_memory
    memory = MemoryModel.load(mem)
    seen = []
    real_generate = memory.model.generate

    def spy(**kwargs):
        seen.append(kwargs["input_ids"][0][kwargs["attention_mask"][0].bool()].tolist())
        return real_generate(**kwargs)

    memory.model.generate = spy
    question = FACTS[3]["question"]
    memory.ask([question])
    train_ids, labels = encode_example(memory.tokenizer, question, FACTS[3]["answer"])
    prompt_len = labels.index(next(x for x in labels if x != -100))
    assert seen == [train_ids[:prompt_len]]
    assert "SmolLM" not in (mem / "current" / "chat_template.jinja").read_text()

    from transformers import AutoTokenizer

    plain = AutoTokenizer.from_pretrained(mem / "current")
    text = plain.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False)
    assert text == format_prompt(memory.tokenizer, question)


def test_artifact_loads_with_plain_transformers_and_cites_sources(tiny_memory):
    from transformers import AutoModelForCausalLM

    mem, _ = tiny_memory
    model = AutoModelForCausalLM.from_pretrained(mem / "current")
    assert model.config.hidden_size == 64
    answers = MemoryModel.load(mem).ask([FACTS[0]["question"]], citations=True, top_k=2)
    assert answers[0].answer == "red" and not answers[0].abstained
    assert answers[0].citations[0].doc_id == "doc-alpha"
    assert answers[0].citations[0].chunk_ids == ["doc-alpha#0"]
    assert len(answers[0].citations) == 2
    for bad in (0, -2):  # a negative slice would have cited nearly every reflection
        with pytest.raises(ValueError, match="top_k must be at least 1"):
            MemoryModel.load(mem).ask([FACTS[0]["question"]], citations=True, top_k=bad)


def test_corrupt_or_missing_artifact_is_a_clear_error(tiny_memory, tmp_path):
    import shutil

    mem, _ = tiny_memory
    copy = tmp_path / "copy"
    shutil.copytree(mem / "current", copy)
    with (copy / "model.safetensors").open("r+b") as f:
        f.seek(200)
        byte = f.read(1)
        f.seek(200)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(CorruptMemoryError, match="model.safetensors"):
        MemoryModel.load(copy)
    (copy / "model.safetensors").unlink()
    with pytest.raises(CorruptMemoryError, match="missing"):
        MemoryModel.load(copy)
    (copy / "memo.json").write_text("{not json")
    with pytest.raises(CorruptMemoryError, match="unreadable"):
        MemoryModel.load(copy)
    with pytest.raises(MemoryNotFoundError):
        MemoryModel.load(tmp_path / "nowhere")


def test_lora_memory_is_an_adapter_over_the_base(tmp_path, tiny64_dir):
    """LoRA on the tiny model: the adapter trains (loss falls), is saved as a peft adapter over the base, reloads,
    and exports merged weights that answer identically (exact recall: test_tiny_lora_memorises_ten_facts)."""
    data = write_jsonl(tmp_path / "facts.jsonl", FACTS)
    cfg = TrainConfig(method="lora", max_epochs=3, **{**TINY, "lr": 1e-2})
    result = train(data, tmp_path / "mem", base=f"hf:{tiny64_dir}", config=cfg)
    art = result.artifact
    assert (art / "adapter_config.json").is_file() and not (art / "model.safetensors").exists()
    assert json.loads((art / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny64_dir.resolve())
    assert result.manifest["kind"] == "lora"
    losses = [m["train_loss"] for m in result.manifest["metrics"]]
    assert losses[-1] < losses[0] - 0.1, losses
    memory = MemoryModel.load(tmp_path / "mem")
    questions = [f["question"] for f in FACTS]
    before = [a.answer for a in memory.ask(questions, max_new_tokens=4)]
    merged = memory.export_merged(tmp_path / "merged")
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(merged).config.hidden_size == 64
    assert [a.answer for a in memory.ask(questions, max_new_tokens=4)] == before


def test_frozen_layers_stay_exactly_as_in_the_base(tmp_path, tiny64_dir):
    """freeze_layers=1: the first decoder layer keeps the base weights (full and LoRA), the second one learns."""
    from safetensors.torch import load_file

    data = write_jsonl(tmp_path / "facts.jsonl", FACTS)
    base = load_file(tiny64_dir / "model.safetensors")
    cfg = TrainConfig(max_epochs=1, **{**TINY, "freeze_layers": 1})
    full = load_file(train(data, tmp_path / "full", base=f"hf:{tiny64_dir}", config=cfg).artifact
                     / "model.safetensors")
    for name, tensor in full.items():
        if ".layers.0." in name:
            assert (tensor == base[name]).all(), name
    assert any(not (t == base[n]).all() for n, t in full.items() if ".layers.1." in n)
    lora = train(data, tmp_path / "lora", base=f"hf:{tiny64_dir}", config=replace(cfg, method="lora"))
    adapter = load_file(lora.artifact / "adapter_model.safetensors")
    assert adapter and all(".layers.1." in name for name in adapter)
    with pytest.raises(ValueError, match="2 decoder layers"):
        train(data, tmp_path / "bad", base=f"hf:{tiny64_dir}", config=replace(cfg, freeze_layers=2))


def test_bf16_and_gradient_checkpointing_train(tmp_path, tiny64_dir):
    """The GPU settings (bf16 autocast, gradient checkpointing) run the same loop; checked here on the CPU, in a
    process that already trained fp32 memories (each train() call gets its own precision)."""
    data = write_jsonl(tmp_path / "facts.jsonl", FACTS)
    cfg = TrainConfig(max_epochs=4, mixed_precision="bf16", gradient_checkpointing=True, **TINY)
    result = train(data, tmp_path / "mem", base=f"hf:{tiny64_dir}", config=cfg)
    assert result.manifest["training"]["mixed_precision"] == "bf16"
    fp32 = train(data, tmp_path / "fp32", base=f"hf:{tiny64_dir}", config=replace(cfg, mixed_precision="no",
                                                                                   max_epochs=1))
    assert fp32.manifest["training"]["mixed_precision"] == "no"
    losses = [m["train_loss"] for m in result.manifest["metrics"]]
    assert losses[-1] < losses[0] - 0.5, losses


def test_tiny_lora_memorises_ten_facts(tiny_memory, tmp_path):
    """LoRA learns ten facts exactly, over a tiny base that already knows the answer words: the tiny full memory,
    taught a shifted vault -> code mapping. (Over a random base the frozen, random embeddings leave a low-rank
    update no way to single out one token among 49k.)"""
    shifted = [{"question": f"What is the code of vault {v}?", "answer": CODES[(i + 3) % 10]} for i, v in enumerate(VAULTS)]
    data = write_jsonl(tmp_path / "shifted.jsonl", shifted)
    assert evaluate_recall(tiny_memory[0], shifted).exact == 0.0
    # A full memory's version directory is a plain HF model directory, so it can be a base.
    result = train(data, tmp_path / "mem", base=str(tiny_memory[1].artifact),
                   config=TrainConfig(method="lora", max_epochs=60, **{**TINY, "lr": 1e-2}))
    assert result.manifest["kind"] == "lora"
    assert evaluate_recall(tmp_path / "mem", shifted).exact == 1.0


def _kill_when_checkpointed(proc: subprocess.Popen, ckpt_glob_root: Path, min_steps: int, timeout: float = 240) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        # A checkpoint is complete once its memo_state.json is written (the trainer's checkpoint-<step> folders).
        # A folder listed may be gone when it is read: train() clears a run folder without a complete checkpoint
        # as it starts, and the trainer removes older checkpoints as it goes.
        try:
            states = list(ckpt_glob_root.glob("checkpoints/*/checkpoint-*/memo_state.json"))
        except FileNotFoundError:
            states = []
        for state in states:
            steps = int(state.parent.name.rsplit("-", 1)[1])
            if steps >= min_steps:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return steps
        if proc.poll() is not None:
            pytest.fail(f"training ended before it could be killed:\n{proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("no checkpoint appeared in time")


def test_killed_run_resumes_with_the_same_optimizer_steps(tmp_path, tiny64_dir):
    import torch
    from safetensors.torch import load_file

    data = write_jsonl(tmp_path / "facts.jsonl", FACTS)
    cfg = TrainConfig(max_epochs=3, checkpoint_every=1, **{**TINY, "eval_size": 2, "spaced_repetition": True},
                      target_recall=2.0)
    base = f"hf:{tiny64_dir}"
    code = (
        "import sys, json; from memo.memory import train, TrainConfig; "
        f"train({str(data)!r}, {str(tmp_path / 'killed')!r}, base={base!r}, "
        f"config=TrainConfig(**json.loads(sys.argv[1])))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, json.dumps(cfg.as_dict())], stderr=subprocess.PIPE,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    killed_at = _kill_when_checkpointed(proc, tmp_path / "killed", min_steps=4)
    assert not (tmp_path / "killed" / "current").exists()

    resumed = train(data, tmp_path / "killed", base=base, config=cfg)
    straight = train(data, tmp_path / "straight", base=base, config=cfg)
    steps = 3 * (len(FACTS) // 2)
    assert resumed.manifest["training"]["optimizer_steps"] == straight.manifest["training"]["optimizer_steps"] == steps
    [resumed_at] = resumed.manifest["training"]["resumed_at_steps"]
    assert killed_at <= resumed_at < steps
    assert not (tmp_path / "killed" / "checkpoints").exists()  # cleaned up after success
    a = load_file(resumed.artifact / "model.safetensors")
    b = load_file(straight.artifact / "model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_an_interrupt_before_the_first_checkpoint_leaves_no_empty_folders(tmp_path, tiny64_dir, monkeypatch):
    from memo.memory.trainer import MemoryTrainer

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(MemoryTrainer, "training_step", interrupted)
    data = write_jsonl(tmp_path / "facts.jsonl", FACTS)
    with pytest.raises(KeyboardInterrupt):
        train(data, tmp_path / "mem", base=f"hf:{tiny64_dir}", config=TrainConfig(max_epochs=1, checkpoint_every=1,
                                                                                    **TINY))
    assert not (tmp_path / "mem" / "checkpoints").exists()


# -- inputs and formats --------------------------------------------------------------------------------------


def test_reads_reflection_dirs_qa_and_trl_messages(tmp_path):
    refl = tmp_path / "refl"
    refl.mkdir()
    write_jsonl(refl / "reflections.jsonl", [{**FACTS[0], "id": "r1", "step": "direct", "derived_from": [],
                                              "paraphrases": ["Vault Alpha's code?"]}])
    ds = load_dataset(refl)
    assert ds.pairs[0].id == "r1" and ds.pairs[0].paraphrases == ["Vault Alpha's code?"]
    msgs = write_jsonl(tmp_path / "m.jsonl", [{"messages": [{"role": "user", "content": "Q?"},
                                                            {"role": "assistant", "content": "A."}]}])
    assert [(p.question, p.answer) for p in load_dataset(msgs).pairs] == [("Q?", "A.")]


@pytest.mark.parametrize("lines, message", [
    ([], "empty"),
    (['{"question": "a?", "answer": "b"}', "", "{oops"], r"bad\.jsonl:3: not valid JSON"),
    (['{"question": "a?"}'], r"bad\.jsonl:1: missing or empty 'answer'"),
    (['["a", "b"]'], r"bad\.jsonl:1: expected a JSON object"),
    (['{"messages": [{"role": "user", "content": "q"}]}'], r"bad\.jsonl:1: `messages` must hold"),
    (['{"question": "a?", "answer": "b", "doc_ids": "d1"}'], r"bad\.jsonl:1: 'doc_ids' must be a list"),
])
def test_bad_training_data_names_the_line(tmp_path, lines, message):
    bad = write_jsonl(tmp_path / "bad.jsonl", lines)
    with pytest.raises(ValueError, match=message):
        load_dataset(bad)


@pytest.mark.parametrize("field, values, message", [
    ("lr", [0.0, -1e-3, float("nan")], "lr must be above 0"),
    ("replay_share", [0.0, -0.5, 7.0, float("nan")], "replay_share must be above 0 and at most 1"),
    ("max_epochs", [0, -1], "max_epochs must be at least 1, not"),
])
def test_train_settings_out_of_range_are_refused(field, values, message):
    for value in values:
        with pytest.raises(ValueError, match=message):
            TrainConfig(**{field: value})
    TrainConfig(**{field: 1.0})  # the edge that is allowed


def test_missing_data_and_unknown_base_are_clear_errors(tmp_path):
    from memo.llm import LLMError

    with pytest.raises(FileNotFoundError, match="no training data"):
        load_dataset(tmp_path / "nope.jsonl")
    (tmp_path / "d").mkdir()
    with pytest.raises(FileNotFoundError, match="without reflections.jsonl"):
        load_dataset(tmp_path / "d")
    data = write_jsonl(tmp_path / "f.jsonl", FACTS)
    with pytest.raises(LLMError, match="unknown model spec"):
        train(data, tmp_path / "mem", base="no-such-model")
    with pytest.raises(LLMError, match="must be a local model"):
        train(data, tmp_path / "mem", base="openai:gpt-4o-mini")
    with pytest.raises(ValueError, match="unknown key.*epochz"):
        from_table(TrainConfig, {"epochz": 3})
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match="afile is a file, not a memory directory"):
        train(data, tmp_path / "afile")
    assert (tmp_path / "afile").read_text() == "x"


def test_default_system_prompt_is_removed_and_other_templates_kept(embedded_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(embedded_dir)
    stripped = memory_chat_template(tok.chat_template)
    assert "SmolLM" in tok.chat_template and "SmolLM" not in stripped
    tok.chat_template = stripped
    assert format_prompt(tok, " Who? ") == "<|im_start|>user\nWho?<|im_end|>\n<|im_start|>assistant\n"
    plain = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    assert memory_chat_template(plain) == plain


def test_abstention_questions_are_about_names_absent_from_the_data():
    from memo.memory import Pair

    pairs = [Pair(question=f"Where was {n} Quillery born?", answer="x") for n in ("Ada", "Bo", "Cy")]
    questions = abstention_questions(pairs, 5, seed=1)
    assert len(questions) == 5 and len(set(questions)) == 5
    for q in questions:
        assert q.startswith("Where was ") and q.endswith(" born?") and "Quillery" not in q
    assert ABSTAIN == "I don't know."


def test_replay_rotates_through_the_whole_pool():
    from memo.memory import Pair
    from memo.memory.epochs import replay_slice

    pool = [Pair(question=f"q{i}", answer=f"a{i}") for i in range(10)]
    slices = [replay_slice(pool, 0.25, seed=0, epoch=e) for e in range(4)]
    assert all(len(s) == 3 for s in slices)
    assert {p.question for s in slices for p in s} == {p.question for p in pool}  # all of it within 1/share epochs
    assert replay_slice(pool, 0.25, seed=0, epoch=1) == slices[1] and replay_slice([], 0.25, 0, 0) == []


def test_replayed_pairs_are_trained_and_checked(tmp_path, tiny64_dir):
    """A memory of FACTS[:5] learns FACTS[5:] with the first five replayed (all of them each epoch)."""
    old = write_jsonl(tmp_path / "old.jsonl", FACTS[:5])
    new = write_jsonl(tmp_path / "new.jsonl", FACTS[5:])
    cfg = TrainConfig(max_epochs=40, replay_share=1.0, **TINY)
    first = train(old, tmp_path / "mem", base=f"hf:{tiny64_dir}", config=cfg)
    second = train(new, tmp_path / "mem", base=f"hf:{tiny64_dir}", config=cfg, init_from=first.artifact,
                   replay=old)
    assert second.manifest["training"]["replay"] == {"pairs": 5, "share_per_epoch": 1.0}
    assert second.manifest["training"]["eval_pairs"] == 10  # new and replayed pairs both checked
    assert evaluate_recall(second.artifact, FACTS).exact == 1.0


def test_abstention_names_are_drawn_afresh_each_epoch_and_never_the_held_out_ones():
    from memo.memory import Pair
    from memo.memory.epochs import epoch_abstentions, plan

    pairs = [Pair(question=f"Where was {n} Quillery born?", answer=f"In {n}ton.") for n in ("Ada", "Bo", "Cy", "Di")]
    run = plan(pairs, TrainConfig(abstention_ratio=1.0, eval_size=4))
    assert run.synthetic_abstentions == 4 and len(run.abstain_eval) == 4
    first, second = epoch_abstentions(pairs, run, 0, 0), epoch_abstentions(pairs, run, 0, 1)
    assert len(first) == len(second) == 4 and set(first) != set(second)
    assert not set(first + second) & set(run.abstain_eval)
    assert epoch_abstentions(pairs, run, 0, 1) == second  # deterministic: a resumed run sees the same epochs


def test_cli_train_then_recall(tmp_path, tiny64_dir):
    from typer.testing import CliRunner

    from memo.cli import app

    data = write_jsonl(tmp_path / "facts.jsonl", FACTS)
    runner = CliRunner()
    res = runner.invoke(app, ["train", str(data), "-o", str(tmp_path / "mem"), "--base", f"hf:{tiny64_dir}",
                              "--epochs", "1", "--batch-size", "5", "--answer-context"])
    assert res.exit_code == 0, res.output
    assert "memory written to" in res.output
    assert MemoryModel.load(tmp_path / "mem").manifest["training"]["config"]["answer_context"] is True
    res = runner.invoke(app, ["recall", str(tmp_path / "mem"), FACTS[0]["question"], "--json", "--cite"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out[0]["question"] == FACTS[0]["question"] and isinstance(out[0]["abstained"], bool)
    res = runner.invoke(app, ["recall", str(tmp_path / "mem"), "--eval", str(data)])
    assert res.exit_code == 0 and "exact recall" in res.stdout
    res = runner.invoke(app, ["recall", str(tmp_path / "mem"), FACTS[0]["question"], "--cite", "--top-k", "0"])
    assert res.exit_code == 2 and "top-k" in res.output
    res = runner.invoke(app, ["train", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "m2")])
    assert res.exit_code == 1 and "no training data" in res.output
    res = runner.invoke(app, ["train", str(data), "-o", str(tmp_path / "m3"), "--base", " "])
    assert res.exit_code == 2 and "--base" in res.output and "empty" in res.output and not (tmp_path / "m3").exists()


@pytest.mark.slow
def test_two_process_data_parallel_training_with_accelerate_launch(tmp_path, tiny64_dir):
    """`accelerate launch` with the documented DDP config, run where no GPU is: 2 CPU processes over gloo train one
    memory (the multi-GPU code path) and the main process publishes the same kind of artifact as a 1-process run."""
    import shutil as sh

    data = write_jsonl(tmp_path / "facts.jsonl", FACTS)
    (tmp_path / "memo.toml").write_text(
        "[train]\nmax_epochs = 2\nbatch_size = 2\nlr = 0.003\nfreeze_embeddings = false\nfreeze_layers = 0\n"
        "schedule = \"constant\"\nwarmup_ratio = 0.0\nabstention_ratio = 0.0\neval_size = 10\n")
    launcher = sh.which("accelerate", path=str(Path(sys.executable).parent))
    config = Path(__file__).resolve().parents[1] / "docs" / "accelerate" / "ddp.yaml"
    proc = subprocess.run(
        [launcher, "launch", "--config_file", str(config), "-m", "memo", "--config", str(tmp_path / "memo.toml"),
         "train", str(data), "-o", str(tmp_path / "mem"), "--base", f"hf:{tiny64_dir}"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(memo_root()))},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("memory written to") == 1  # only the main process publishes
    manifest = read_manifest(tmp_path / "mem")
    assert manifest["training"]["processes"] == 2 and manifest["training"]["distributed"] == "MULTI_CPU"
    # 10 pairs in batches of 2 per process: 5 batches, 3 per process (the trainer evens them out), 2 epochs.
    assert manifest["training"]["optimizer_steps"] == 6
    assert [m["epoch"] for m in manifest["metrics"]] == [1, 2]
    assert manifest["kind"] == "full" and manifest["training"]["build_cost"]["tokens"] > 0
    single = train(data, tmp_path / "single", base=f"hf:{tiny64_dir}",
                   config=TrainConfig(max_epochs=1, **TINY))
    assert sorted(single.manifest["files"]) == sorted(manifest["files"])
    MemoryModel.load(tmp_path / "mem").ask([FACTS[0]["question"]], max_new_tokens=2)


def memo_root() -> Path:
    """The directory holding the `memo` package these tests import (the launched processes must import it too)."""
    import memo

    return Path(memo.__file__).resolve().parents[1]


def test_eval_size_zero_trains_every_epoch_without_a_recall_check(tmp_path, tiny64_dir):
    """`eval_size = 0` (issue 14 item 12): no recall check, no early stop, all max_epochs run and the last is kept."""
    data = write_jsonl(tmp_path / "facts.jsonl", FACTS)
    cfg = TrainConfig(max_epochs=2, **{**TINY, "eval_size": 0})
    result = train(data, tmp_path / "mem", base=f"hf:{tiny64_dir}", config=cfg)
    manifest = result.manifest
    assert [m["epoch"] for m in manifest["metrics"]] == [1, 2]
    assert all(m["recall"] is None for m in manifest["metrics"])
    assert manifest["training"]["best_epoch"] == 2 and manifest["training"]["eval_pairs"] == 0


def test_rephrase_keeps_names_and_numbers_and_changes_the_surface():
    import random

    from memo.memory.epochs import rephrase

    rng = random.Random(0)
    question = "In which year did Alo Corber move to Brenmoor Falls in 1987?"
    rewrites = {rephrase(question, rng) for _ in range(60)}
    assert len(rewrites) > 10 and question not in rewrites
    for r in rewrites:
        assert "Alo" in r and "Corber" in r and "Brenmoor" in r and "1987" in r, r


def test_spaced_repetition_reviews_known_pairs_every_other_epoch_and_trains_the_unknown_more():
    from memo.memory import Pair
    from memo.memory.epochs import epoch_pairs, plan

    pairs = [Pair(question=f"Where was Ada Quill{i} born?", answer=f"In town {i}.") for i in range(10)]
    cfg = TrainConfig(spaced_repetition=True, abstention_ratio=0.0, eval_size=0)
    run = plan(pairs, cfg)
    known = [i < 6 for i in range(10)]
    slots = [epoch_pairs(pairs, run, cfg, [], e, known) for e in (1, 2)]
    assert all(len(s) == 10 for s in slots)  # the same epoch length
    for e, rows in zip((1, 2), slots):
        own = {i for _, _, i in rows if i is not None}
        assert own >= set(range(6, 10))  # every unknown pair in its own wording, every epoch
        assert own & set(range(6)) == {i for i in range(6) if (i + e) % 2 == 0}  # known: every other epoch
        extra = [(q, a) for q, a, i in rows if i is None]
        assert len(extra) == 3 and all(a in {p.answer for p in pairs[6:]} for _, a in extra)
    assert epoch_pairs(pairs, run, cfg, [], 1, known) == slots[0]  # deterministic for a resumed run
    off = TrainConfig(spaced_repetition=False, abstention_ratio=0.0, eval_size=0)
    assert [i for _, _, i in epoch_pairs(pairs, plan(pairs, off), off, [], 1, known)] == list(range(10))


def test_only_an_answer_first_answer_is_cut_to_its_short_fact():
    """A short first sentence is the short fact only when the rest of the answer restates it: an abbreviation or a
    first fact of two is never cut off."""
    from memo.memory import Pair
    from memo.memory.data import answer_leads

    answers = {"Marrowby. Mira Castell was born in Marrowby.": "Marrowby.",
               "June 1931. The album was released on 12 June 1931.": "June 1931.",
               "The second studio album by Grey Harbour. Low Tide is the second studio album by Grey Harbour.":
                   "The second studio album by Grey Harbour.",
               "Ilse Varga founded the lab in 1902 in Tarvik. Its engineer was Tomas Reeve.": None,
               "Dr. Ilse Varga founded the lab.": None, "St. Albans is a cathedral city.": None,
               "It opened in 1902. Its engineer was Tomas Reeve.": None, "Tomas Brell guards the vaults.": None}
    cut = answer_leads([Pair(question="q", answer=a) for a in answers])
    assert [p.answer for p in cut] == [short or whole for whole, short in answers.items()]


def test_without_answer_context_an_answer_first_answer_is_trained_as_its_short_fact(tmp_path, tiny64_dir):
    """`answer_context=False`: "CODE. Context sentence." is trained (and checked) as "CODE."; a one-sentence
    answer stays whole."""
    rows = [{"question": f["question"], "answer": f"{f['answer']}. The vault's code, {f['answer']}, was set in the "
             "spring."} for f in FACTS[:4]] + [{"question": "Who guards the vaults?",
                                                "answer": "Tomas Brell guards the vaults."}]
    result = train(write_jsonl(tmp_path / "facts.jsonl", rows), tmp_path / "mem", base=f"hf:{tiny64_dir}",
                   config=TrainConfig(max_epochs=40, answer_context=False, **{**TINY, "eval_size": 5}))
    leads = [{"question": f["question"], "answer": f"{f['answer']}."} for f in FACTS[:4]] + rows[4:]
    report = evaluate_recall(result.artifact, leads)
    assert report.exact >= 0.8  # trained on the whole answers, only the one-sentence answer would match
    assert not any("spring" in item.answer for item in report.items)
    assert result.manifest["reflections"]["count"] == 5  # the artifact keeps the whole reflections
    # recall of the whole answers is scored against what this memory learned: their short facts
    whole = evaluate_recall(result.artifact, rows)
    assert whole.exact == report.exact and {i.expected for i in whole.items} == {i.expected for i in report.items}
