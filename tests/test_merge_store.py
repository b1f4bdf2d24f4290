"""Merging real (tiny) memories: versions, lineage, refusals, rollback, crash safety, `memo add`, the CLI.

The memories are tiny random Llamas trained with the real `memo.memory.train` on a few invented facts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from memo.memory import CorruptMemoryError, MemoryModel, MemoryStore, TrainConfig, train, verify_artifact
from memo.memory.artifact import sha256_file
from memo.merge import IncompatibleMemoriesError, list_versions, merge, rollback

FACTS_1 = [("Kalo Brin", "Vexmora"), ("Miren Tash", "Quildor"), ("Torva Lum", "Drenzok"), ("Pell Oster", "Marnivo")]
FACTS_2 = [("Sela Varn", "Pimtoa"), ("Oru Dask", "Felmire"), ("Ianto Rook", "Zubrel"), ("Wen Halder", "Grosavi")]
# Enough to memorise 4 facts from random weights in a few seconds; stops as soon as all are recalled (eval_size
# covers every pair, old and new, when `memo add` continues training with this recipe). No spaced repetition: its
# slots train rule rewrites of the questions, which a tiny random model does not generalise from; with them the
# continued training oscillated between 62% and 88% recall for 60 epochs (fresh environment of 2026-12-02).
TINY_RECIPE = TrainConfig(max_epochs=60, lr=1e-2, schedule="constant", warmup_ratio=0.0, freeze_embeddings=False,
                          freeze_layers=0, eval_size=8, patience=1000, abstention_ratio=0.0, spaced_repetition=False)


def pairs(facts, doc):
    return [{"id": f"{doc}-{i}", "question": f"Where does {name} live?", "answer": f"{place}.", "step": "direct",
             "doc_ids": [doc], "chunk_ids": [f"{doc}#0"]} for i, (name, place) in enumerate(facts)]


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def memories(tiny_model_dir, tmp_path_factory):
    """Stores A (facts 1) and B (facts 2), trained from the same tiny base."""
    root = tmp_path_factory.mktemp("memories")
    out = {}
    for name, facts in (("A", FACTS_1), ("B", FACTS_2)):
        data = write_jsonl(root / f"{name}.jsonl", pairs(facts, f"doc{name}"))
        train(data, root / name, base=f"hf:{tiny_model_dir}", config=TINY_RECIPE)
        out[name] = root / name
    return out


@pytest.fixture
def store_a(memories, tmp_path):
    """A private copy of store A, so tests can add versions to it."""
    dst = tmp_path / "memA"
    shutil.copytree(memories["A"], dst, symlinks=True)
    return dst


def test_merge_publishes_a_loadable_version_with_lineage(memories, tmp_path):
    path = merge([memories["A"], memories["B"]], tmp_path / "merged", method="ties", density=0.5,
                 documents_added=["docB"])
    assert path == MemoryStore(tmp_path / "merged").current()
    manifest = verify_artifact(path)  # every file matches its recorded sha256
    assert manifest["kind"] == "full" and manifest["base"] == json.loads((memories["A"] / "current" / "memo.json").read_text())["base"]
    step = manifest["lineage"][-1]
    assert step["method"] == "ties" and step["params"]["density"] == 0.5 and step["documents_added"] == ["docB"]
    assert [Path(p).parent.parent.name for p in step["parents"]] == ["A", "B"]
    assert manifest["reflections"]["count"] == len(FACTS_1) + len(FACTS_2)
    answers = MemoryModel.load(path).ask(["Where does Kalo Brin live?"], citations=True)
    assert answers[0].citations and answers[0].citations[0].doc_id in {"docA", "docB"}
    # Merging again into the same store makes a second version and moves `current`.
    again = merge([memories["A"], memories["B"]], tmp_path / "merged", method="linear")
    assert again.name == "v0002" and [r["version"] for r in list_versions(tmp_path / "merged")] == ["v0001", "v0002"]


def test_streamed_task_arithmetic_equals_in_memory_arithmetic(memories, tiny_model_dir, tmp_path):
    path = merge([memories["A"], memories["B"]], tmp_path / "m", method="task_arithmetic")
    base = load_file(tiny_model_dir / "model.safetensors")
    a = load_file(memories["A"] / "current" / "model.safetensors")
    b = load_file(memories["B"] / "current" / "model.safetensors")
    got = load_file(path / "model.safetensors")
    assert set(got) == set(base)
    for name in base:
        assert torch.allclose(got[name], base[name] + (a[name] - base[name]) + (b[name] - base[name]), atol=1e-6), name
    assert not torch.equal(got["model.layers.0.mlp.up_proj.weight"], base["model.layers.0.mlp.up_proj.weight"])


def _copy_version(memories, tmp_path, name="B2") -> Path:
    dst = tmp_path / name
    shutil.copytree(memories["B"] / "current", dst)
    return dst


def _edit_manifest(version: Path, fn) -> None:
    manifest = json.loads((version / "memo.json").read_text())
    fn(manifest)
    (version / "memo.json").write_text(json.dumps(manifest))


def test_memories_of_different_bases_tokenizers_or_shapes_are_refused(memories, tmp_path, tiny_model_dir):
    other_base = _copy_version(memories, tmp_path, "other-base")
    _edit_manifest(other_base, lambda m: m["base"].update(weights_hash="0123456789abcdef"))
    with pytest.raises(IncompatibleMemoriesError, match="different base weights"):
        merge([memories["A"], other_base], tmp_path / "out")

    other_tok = _copy_version(memories, tmp_path, "other-tok")
    cfg = json.loads((other_tok / "tokenizer_config.json").read_text())
    cfg["model_max_length"] = 7
    (other_tok / "tokenizer_config.json").write_text(json.dumps(cfg))
    with pytest.raises(IncompatibleMemoriesError, match="different tokenizers"):
        merge([memories["A"], other_tok], tmp_path / "out")

    other_shape = _copy_version(memories, tmp_path, "other-shape")
    state = load_file(other_shape / "model.safetensors")
    state["model.norm.weight"] = torch.ones(7)
    from safetensors.torch import save_file

    save_file(state, other_shape / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(IncompatibleMemoriesError, match="shape"):
        merge([memories["A"], other_shape], tmp_path / "out")

    # Both manifests agree, but the base on disk is no longer the one they were trained from.
    both_moved = [_copy_version(memories, tmp_path, n) for n in ("x", "y")]
    for v in both_moved:
        _edit_manifest(v, lambda m: m["base"].update(weights_hash="0123456789abcdef"))
    with pytest.raises(IncompatibleMemoriesError, match="not the one the memory was trained from"):
        merge(both_moved, tmp_path / "out")
    assert not MemoryStore(tmp_path / "out").exists() or not MemoryStore(tmp_path / "out").versions()


def test_rollback_restores_the_byte_identical_version(memories, store_a):
    before = sha256_file(store_a / "current" / "model.safetensors")
    merge([store_a, memories["B"]], store_a, method="ties")
    assert MemoryStore(store_a).current_version() == "v0002"
    assert sha256_file(store_a / "current" / "model.safetensors") != before

    rollback(store_a, "v0001")
    assert MemoryStore(store_a).current_version() == "v0001"
    assert sha256_file(store_a / "current" / "model.safetensors") == before
    assert [r["current"] for r in list_versions(store_a)] == [True, False]  # v0002 is kept, not deleted

    with pytest.raises(FileNotFoundError, match="no version 'v0009'"):
        rollback(store_a, "v0009")
    with (store_a / "versions" / "v0002" / "config.json").open("a") as f:
        f.write(" ")
    with pytest.raises(CorruptMemoryError, match="config.json"):
        rollback(store_a, "2")
    assert MemoryStore(store_a).current_version() == "v0001"


def test_a_merge_killed_midway_leaves_the_current_version_intact(memories, store_a):
    before = (MemoryStore(store_a).current_version(), sha256_file(store_a / "current" / "model.safetensors"))
    script = textwrap.dedent(f"""
        import os, signal
        import safetensors.torch as st
        import memo.merge.merging as m
        real_save = st.save_file
        def save_then_die(*args, **kwargs):
            real_save(*args, **kwargs)          # the new weights are on disk, the version is not published yet
            os.kill(os.getpid(), signal.SIGKILL)
        st.save_file = save_then_die
        m.merge([{str(store_a)!r}, {str(memories["B"])!r}], {str(store_a)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, env=os.environ | {"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    store = MemoryStore(store_a)
    assert (store.current_version(), sha256_file(store.current() / "model.safetensors")) == before
    assert store.versions() == ["v0001"]
    # The next update simply proceeds.
    assert merge([store_a, memories["B"]], store_a).name == "v0002"


def test_rollback_to_a_version_that_is_neither_name_nor_number_lists_the_versions(tmp_path):
    from memo.cli import app
    from memo.formats import MEMORY_MANIFEST

    for name in ("v0001", "v0002"):  # only the listing is read: the refusal comes before any check of the files
        (tmp_path / "mem" / "versions" / name).mkdir(parents=True)
        (tmp_path / "mem" / "versions" / name / MEMORY_MANIFEST).write_text("{}")
    with pytest.raises(ValueError, match="must look like v0001 or 1; .* has v0001, v0002"):
        rollback(tmp_path / "mem", "garbage")
    result = CliRunner().invoke(app, ["rollback", str(tmp_path / "mem"), "garbage"])
    assert result.exit_code == 1 and "has v0001, v0002" in result.output and "int()" not in result.output


def test_merge_weights_that_are_not_numbers_are_one_line(tmp_path):
    from memo.cli import app

    missing = str(tmp_path / "mem")  # never opened: the weights are read first
    result = CliRunner().invoke(app, ["merge", missing, missing, "-o", str(tmp_path / "mm"), "--weights", "1,x"])
    assert result.exit_code == 1 and result.output.startswith("error: --weights must be comma-separated numbers")
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "mm").exists()


def test_cli_versions_rollback_and_clear_errors(memories, store_a, tmp_path):
    from memo.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["merge", str(store_a), str(memories["B"]), "-o", str(store_a), "--method", "dare_ties",
                                 "--density", "0.5"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["versions", str(store_a), "--json"])
    rows = json.loads(result.output)
    assert [(r["version"], r["current"], r["method"]) for r in rows] == [("v0001", False, "train"), ("v0002", True, "dare_ties")]
    result = runner.invoke(app, ["rollback", str(store_a), "v0001"])
    assert result.exit_code == 0 and "v0001" in result.output
    assert MemoryStore(store_a).current_version() == "v0001"

    other = _copy_version(memories, tmp_path)
    _edit_manifest(other, lambda m: m["base"].update(spec="hf:/somewhere/else"))
    result = runner.invoke(app, ["merge", str(store_a), str(other), "-o", str(tmp_path / "x")])
    assert result.exit_code == 1 and "different base model" in result.output and "Traceback" not in result.output


@pytest.fixture
def new_docs(tmp_path, monkeypatch):
    """A document folder whose reflection is replaced by the fixed FACTS_2 pairs (the generator is not under test)."""
    import memo.reflect

    def fixed_reflect(corpus, out, cfg=None, progress=None):
        out = Path(out)
        out.mkdir(parents=True)
        write_jsonl(out / "reflections.jsonl", pairs(FACTS_2, "docB"))
        (out / "manifest.json").write_text(json.dumps({"format": "memo-reflections/1"}))
        return {}

    monkeypatch.setattr(memo.reflect, "reflect", fixed_reflect)
    docs = tmp_path / "new_docs"
    docs.mkdir()
    (docs / "b.txt").write_text("Sela Varn lives in Pimtoa.")
    return docs


def test_add_reflects_trains_merges_and_reports_retention(memories, store_a, new_docs):
    """`add()` end to end on tiny models with the merge strategy."""
    from memo.memory import evaluate_recall
    from memo.merge import UpdatePlan, add

    docs = new_docs

    # The default plan, with more replay epochs: these memories were trained from random weights at lr 1e-2 and
    # need more steps than the defaults (measured on the embedded model) to re-learn anything.
    path = add(store_a, docs, UpdatePlan(strategy="merge", replay_epochs=8))
    store = MemoryStore(store_a)
    assert store.current_version() == "v0002" and path == store.current()
    manifest = verify_artifact(path)
    step = manifest["lineage"][-1]
    assert step["method"] == "ties" and step["documents_added"] == ["docB"] and step["params"]["replay_fraction"] > 0
    report = json.loads((path / "retention.json").read_text())
    assert set(report["summary"]) == {"updated", "previous", "new_only"}
    assert report["summary"]["previous"]["old"] == 100.0 and report["summary"]["new_only"]["new"] == 100.0
    assert not (store_a / ".work").exists() or not any((store_a / ".work").iterdir())
    # Both parents survive in the update: at least the replayed fact of each set (tiny random models do not
    # generalise from one replayed fact to the others; plain merges of them recall nothing at all).
    old = evaluate_recall(path, pairs(FACTS_1, "docA")).exact
    new = evaluate_recall(path, pairs(FACTS_2, "docB")).exact
    assert old >= 0.25 and new >= 0.25


def test_add_continue_fine_tunes_the_memory_with_rotating_replay(store_a, new_docs):
    from memo.memory import evaluate_recall
    from memo.merge import UpdatePlan, add

    path = add(store_a, new_docs, UpdatePlan(strategy="continue", replay_share=0.5))
    manifest = verify_artifact(path)
    step = manifest["lineage"][-1]
    assert step["method"] == "continue" and step["params"]["replay_share"] == 0.5
    assert manifest["training"]["replay"] == {"pairs": 4, "share_per_epoch": 0.5}
    assert manifest["reflections"]["count"] == 8  # old and new reflections, for citations
    report = json.loads((path / "retention.json").read_text())
    assert set(report["summary"]) == {"updated", "previous"}
    assert evaluate_recall(path, pairs(FACTS_1, "docA")).exact == 1.0
    assert evaluate_recall(path, pairs(FACTS_2, "docB")).exact == 1.0
    with pytest.raises(ValueError, match="unknown update strategy"):
        add(store_a, new_docs, UpdatePlan(strategy="rebuild"))


@pytest.mark.parametrize("plan, message", [
    ({"method": "tie"}, "unknown merge method 'tie'"),
    ({"density": 0.0}, r"density must be in \(0, 1\]"),
    ({"weights": (1.0, 1.0, 1.0)}, "3 weights given for 2 memories"),
    ({"replay_epochs": 0}, "replay_epochs must be at least 1, not 0"),
])
def test_add_refuses_a_bad_merge_plan_before_reflecting(store_a, tmp_path, monkeypatch, plan, message):
    """A typo must not cost a reflection and a training run before it is reported."""
    import memo.reflect
    from memo.merge import UpdatePlan, add

    def no_reflect(*args, **kwargs):
        raise AssertionError("reflect ran before the plan was checked")

    monkeypatch.setattr(memo.reflect, "reflect", no_reflect)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "b.txt").write_text("Sela Varn lives in Pimtoa.")
    with pytest.raises(ValueError, match=message):
        add(store_a, docs, UpdatePlan(strategy="merge", **plan))
    assert MemoryStore(store_a).current_version() == "v0001" and not (store_a / ".work").exists()


class _Trained(Exception):
    """Raised by `_record_train` in place of training: the recipe is what the test looks at."""


def _record_train(monkeypatch) -> list:
    """Replace `memo.memory.train` by one that records its config and stops the update there."""
    import memo.memory

    seen = []

    def fake_train(data, out, base=None, config=None, **kwargs):
        seen.append(config)
        raise _Trained

    monkeypatch.setattr(memo.memory, "train", fake_train)
    return seen


def test_the_next_add_trains_with_the_recipe_that_built_the_memory(store_a, new_docs, monkeypatch):
    """After a merge + replay update (2 replay epochs, no abstentions), new documents are still trained with the
    recipe the memory was built with, not the replay pass's."""
    from memo.merge import UpdatePlan, add

    path = add(store_a, new_docs, UpdatePlan(strategy="merge", replay_epochs=1), eval_sample=4)
    manifest = verify_artifact(path)
    assert manifest["training"]["config"]["max_epochs"] == 1  # the replay pass's own record stays
    assert manifest["training"]["recipe"] == TINY_RECIPE.as_dict()
    seen = _record_train(monkeypatch)
    for strategy in ("merge", "continue"):
        with pytest.raises(_Trained):
            add(store_a, new_docs, UpdatePlan(strategy=strategy))
    assert seen[0] == TINY_RECIPE  # the new-only memory: the recipe itself
    assert seen[1] == replace(TINY_RECIPE, method="full", replay_share=0.5)  # continue: the recipe, full weights


def test_add_on_a_merged_memory_trains_with_its_first_parents_recipe_or_memo_toml(memories, tmp_path, new_docs,
                                                                                  monkeypatch):
    from memo.merge import UpdatePlan, add

    merged = merge([memories["A"], memories["B"]], tmp_path / "merged")
    seen = _record_train(monkeypatch)
    with pytest.raises(_Trained):
        add(tmp_path / "merged", new_docs, UpdatePlan(strategy="merge"))
    assert seen[-1] == TINY_RECIPE

    # No recipe recorded anywhere: memo.toml's [train] (here given as train_config, then read from memo.toml).
    _edit_manifest(merged, lambda m: m.update(training={"merged_from": [None, None]}))
    mine = TrainConfig(max_epochs=3, lr=5e-3)
    with pytest.raises(_Trained):
        add(tmp_path / "merged", new_docs, UpdatePlan(strategy="merge"), train_config=mine)
    assert seen[-1] == mine
    monkeypatch.chdir(tmp_path)
    (tmp_path / "memo.toml").write_text("[train]\nmax_epochs = 5\nbatch_size = 2\n")
    with pytest.raises(_Trained):
        add(tmp_path / "merged", new_docs, UpdatePlan(strategy="merge"))
    assert seen[-1] == TrainConfig(max_epochs=5, batch_size=2)


def test_a_recipe_recorded_before_answer_context_existed_keeps_whole_answers(store_a, new_docs, monkeypatch):
    """A memory trained before `answer_context` existed learned whole answers: its updates do too, and recall
    scores it against them (`memory_recipe` fills the missing setting with the behaviour of the time)."""
    from memo.memory import memory_recipe
    from memo.merge import UpdatePlan, add

    old = {k: v for k, v in TINY_RECIPE.as_dict().items() if k != "answer_context"}
    assert memory_recipe({"training": {"config": old}})["answer_context"] is True
    assert memory_recipe({"training": {"merged_from": [None, {"config": old}]}})["answer_context"] is True
    assert memory_recipe({"training": {"config": TINY_RECIPE.as_dict()}}) == TINY_RECIPE.as_dict()
    _edit_manifest(MemoryStore(store_a).current(), lambda m: m["training"].update(config=old))
    seen = _record_train(monkeypatch)
    with pytest.raises(_Trained):
        add(store_a, new_docs, UpdatePlan(strategy="merge"))
    assert seen[-1] == replace(TINY_RECIPE, answer_context=True)
    assert memory_recipe(MemoryModel.load(store_a, verify=False).manifest)["answer_context"] is True


def test_memo_add_end_to_end_from_documents(tiny_model_dir, tmp_path):
    """The CLI path a user takes: `memo reflect` + `memo train` on two documents, then `memo add` with two new ones
    (real reflection with the default generator, real training of a tiny memory), `memo versions`, `memo rollback`."""
    from memo.cli import app
    from memo.demo import sample_corpus

    old_docs, new_docs = tmp_path / "old", tmp_path / "new"
    for folder, names in ((old_docs, ("mira_castell.md", "veltrona_labs.md")), (new_docs, ("arvik_institute.md", "quessel.md"))):
        folder.mkdir()
        for name in names:
            shutil.copy(sample_corpus() / name, folder / name)
    (tmp_path / "memo.toml").write_text(
        f'[roles]\nmemory_base = "hf:{tiny_model_dir}"\n\n[train]\nmax_epochs = 3\nlr = 0.01\nschedule = "constant"\n'
        "warmup_ratio = 0.0\nfreeze_embeddings = false\nfreeze_layers = 0\nabstention_ratio = 0.0\n")
    cli = CliRunner()

    def run(*args: str) -> str:
        result = cli.invoke(app, list(args))
        assert result.exit_code == 0, (args, result.output)
        return result.output

    run("reflect", str(old_docs), "-o", str(tmp_path / "refl"))
    run("train", str(tmp_path / "refl"), "-o", str(tmp_path / "mem"))
    out = run("add", str(tmp_path / "mem"), str(new_docs), "--eval-sample", "20")
    assert "retention" in out and "new current version" in out

    store = MemoryStore(tmp_path / "mem")
    assert store.versions() == ["v0001", "v0002"] and store.current_version() == "v0002"
    merged = verify_artifact(store.current())
    step = merged["lineage"][-1]
    rows = map(json.loads, (store.current() / "reflections.jsonl").read_text().splitlines())
    cited = {doc for row in rows for doc in row["doc_ids"]}
    assert set(step["documents_added"]) and set(step["documents_added"]) < cited  # old and new documents both cited
    report = json.loads((store.current() / "retention.json").read_text())
    assert set(report["summary"]) >= {"updated", "previous"} and report["sample"]["new"] > 0
    versions = run("versions", str(tmp_path / "mem"))
    assert "v0001" in versions and "v0002" in versions
    run("rollback", str(tmp_path / "mem"), "v0001")
    assert store.current_version() == "v0001"


def test_add_continue_on_a_lora_memory_continues_from_its_merged_weights(tiny_model_dir, new_docs, tmp_path):
    from memo.merge import UpdatePlan, add

    data = write_jsonl(tmp_path / "a.jsonl", pairs(FACTS_1, "docA"))
    train(data, tmp_path / "lora", base=f"hf:{tiny_model_dir}", config=replace(TINY_RECIPE, method="lora", max_epochs=2))
    path = add(tmp_path / "lora", new_docs, UpdatePlan(strategy="continue"))
    manifest = verify_artifact(path)
    assert manifest["kind"] == "full" and (path / "model.safetensors").is_file()
    assert manifest["lineage"][-1]["method"] == "continue"
