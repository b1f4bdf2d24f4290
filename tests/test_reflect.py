"""The reflection pipeline with scripted generators (fast): steps, provenance, resume, garbage, grouping, CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Sequence

import pytest

from memo.corpus import load_corpus
from memo.llm import CachedChatModel, ChatModel, GenParams, ResponseCache
from memo.settings import from_table
from memo.reflect import ABSTAIN, STEPS, ReflectConfig, estimate, read_reflections, reflect
from memo.reflect.checks import self_containment_problems
from memo.reflect.grouping import group_documents, load_grouping_file
from memo.reflect.nlp import entity_names as entities
from memo.reflect.pipeline import choose_profile

CORPUS = {
    "marie.txt": "Marie Dubois founded the Lumen Bakery in Veldmark in 1998. She was born in Lyon in 1970. "
                 "The Lumen Bakery won the Golden Whisk award in 2005. In 2010 Marie Dubois opened a second shop "
                 "in Harlow.",
    "kell.txt": "Tomas Kell was the mayor of Veldmark from 2001 to 2009. He gave the Golden Whisk award to the Lumen "
                "Bakery in 2005. Tomas Kell later became a professor at Harlow University.",
    "comet.txt": "Comet Xelos was discovered by the astronomer Priya Nand in 2016. Priya Nand works at the Karsa "
                 "Observatory in Chile. Comet Xelos returns every 74 years.",
    "volcano.txt": "Mount Tirell is a volcano on the island of Quenda. Mount Tirell erupted in 1932. The Quenda "
                   "Geological Society monitors Mount Tirell with twelve seismometers.",
}


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture
def corpus_dir(tmp_path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    for name, text in CORPUS.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def corpus(corpus_dir):
    return load_corpus(corpus_dir, count_tokens=words)


class Scripted(ChatModel):
    """A backend whose answers are a function of the prompt (tests only)."""

    def __init__(self, reply):
        super().__init__()
        self.spec = "scripted"
        self.reply = reply

    @property
    def identity(self) -> str:
        return "scripted@1"

    def _generate(self, conversations: Sequence, params: GenParams) -> list[str]:
        self.usage.add(calls=len(conversations), prompt_tokens=10 * len(conversations), completion_tokens=5)
        return [self.reply(c[0]["content"] if len(c) == 1 else "repair") for c in conversations]


def never_called(prompt: str) -> str:
    raise AssertionError("the rules profile must not call a generator")


def test_rules_profile_produces_every_step_with_valid_provenance_and_no_generator(corpus, tmp_path):
    out = tmp_path / "refl"
    model = Scripted(never_called)
    m = reflect(corpus, out, ReflectConfig(profile="rules"), model=model)
    rows = read_reflections(out)
    assert m["format"] == "memo-reflections/1" and m["total"] == len(rows)
    assert m["profile"] == "rules" and m["generator"]["used"] is False and model.usage.calls == 0
    assert "no generator model was used" in m["generator"]["note"]
    steps = {r["step"] for r in rows}
    assert steps == {"direct", "indirect", "consolidated", "entity", "cross_document", "abstention"}
    doc_ids = {d.id for d in corpus.documents}
    chunk_ids = {c.id for c in corpus.chunks}
    ids = {r["id"] for r in rows}
    produced = {json.loads(line)["id"] for f in (out / "steps").glob("*.jsonl")
                for line in f.read_text().splitlines() if line.strip()}
    for r in rows:
        assert set(r) >= {"id", "question", "answer", "step", "doc_ids", "chunk_ids", "derived_from", "paraphrases"}
        assert set(r["doc_ids"]) <= doc_ids and set(r["chunk_ids"]) <= chunk_ids
        assert set(r["derived_from"]) <= ids | produced
        if r["step"] == "abstention":
            assert r["answer"] == ABSTAIN and not r["doc_ids"]
        else:
            assert r["doc_ids"] and r["chunk_ids"]
            assert not self_containment_problems(r["question"], r["answer"], need_anchor=False), r
        if r["step"] == "cross_document":
            assert len(set(r["doc_ids"])) >= 2
        if r["step"] == "entity":
            name = r["answer"].split(". ")[0]
            assert name.lower() not in r["question"].lower()
        # provenance stays out of the training text
        assert not re.search(r"\b[dc]-[0-9a-f]{12}\b", r["question"] + r["answer"])
    msgs = [json.loads(line) for line in (out / "messages.jsonl").read_text().splitlines()]
    assert [x["messages"][0]["content"] for x in msgs] == [r["question"] for r in rows]
    assert {x["messages"][1]["role"] for x in msgs} == {"assistant"}
    assert sum(len(r["paraphrases"]) for r in rows) > 0
    assert m["coverage"]["chunk_share"] == 1.0
    assert 0 < m["coverage"]["entity_share"] <= 1


def test_pronouns_are_resolved_and_unfixable_pairs_dropped_with_reasons(corpus, tmp_path):
    out = tmp_path / "refl"
    m = reflect(corpus, out, ReflectConfig(profile="rules"), model=Scripted(never_called))
    answers = [r["answer"] for r in read_reflections(out)]
    # "She was born in Lyon in 1970." follows a sentence about Marie Dubois: she is the one referent that fits
    assert any(a.endswith("Marie Dubois was born in Lyon in 1970.") for a in answers)
    assert not any(re.search(r"(^|\. )(She|He) ", a) for a in answers)
    assert m["quality"]["self_contained_share"] is not None


def test_auto_picks_rules_under_1b_and_says_why():
    class Sized:
        def __init__(self, n):
            self.model = type("HF", (), {"num_parameters": lambda _self: n})()

    assert choose_profile("auto", None, "embedded") == ("rules", "auto: the embedded generator is under 1B parameters")
    profile, why = choose_profile("auto", Sized(360_000_000), "local:x")
    assert profile == "rules" and "360M" in why
    assert choose_profile("auto", Sized(7_000_000_000), "local:y")[0] == "full"
    assert choose_profile("full", None, "embedded") == ("full", "set explicitly, not auto")


def test_rerun_of_the_rules_profile_is_byte_identical(corpus, tmp_path):
    reflect(corpus, tmp_path / "a", ReflectConfig(profile="rules"), model=Scripted(never_called))
    reflect(corpus, tmp_path / "b", ReflectConfig(profile="rules"), model=Scripted(never_called))
    assert (tmp_path / "a" / "reflections.jsonl").read_text() == (tmp_path / "b" / "reflections.jsonl").read_text()


def test_garbage_from_the_generator_is_dropped_and_counted_never_fatal(corpus, tmp_path):
    full_cfg = ReflectConfig(profile="full", steps=("direct", "indirect", "consolidate", "verify"))
    m = reflect(corpus, tmp_path / "g", full_cfg, model=Scripted(lambda p: "I cannot do that"))
    assert m["total"] == 0
    assert m["dropped"]["direct"]["schema invalid"] == len(corpus.chunks)
    assert m["quality"]["schema_valid_share"] == 0.0


def full_reply(prompt: str) -> str:
    """A well-behaved capable generator, scripted per prompt kind."""
    if prompt.startswith("Extract every fact"):
        text = prompt.split("Text:\n", 1)[1].split("\n\nReturn JSON", 1)[0]
        sents = [s for s in re.split(r"(?<=\.)\s+", text) if entities(s)]
        return json.dumps({"pairs": [{"question": f"What is stated about {entities(s)[0]} ({i})?", "answer": s}
                                     for i, s in enumerate(sents)]})
    if prompt.startswith("Write question/answer pairs for facts"):
        return json.dumps({"pairs": [{"question": "He did what last year?", "answer": "He did it."}]})
    if prompt.startswith("Below are numbered"):
        return json.dumps({"pairs": [{"question": "What combines the first facts of Veldmark?", "answer": "Both.",
                                      "combined_from": [1, 2]},
                                     {"question": "What uses one pair of Veldmark?", "answer": "One.",
                                      "combined_from": [1]}]})
    if prompt.startswith("Can this question"):
        return json.dumps({"self_contained": True, "problems": []})
    if prompt.startswith("Rewrite this"):
        return json.dumps({"question": "What did Tomas Kell do in 2004?", "answer": "Tomas Kell governed Veldmark."})
    if prompt.startswith("List every named"):
        return json.dumps({"entities": [{"name": "Veldmark", "type": "place"}]})
    if prompt.startswith("Write reverse-lookup"):
        return json.dumps({"pairs": [{"question": "Which town had a mayor from 2001 to 2009?", "answer": "Veldmark."},
                                     {"question": "Where is Veldmark?", "answer": "Veldmark is a town."}]})
    if prompt.startswith("Below are facts from several"):
        return json.dumps({"pairs": [{"question": "Which town links Marie Dubois and Tomas Kell?",
                                      "answer": "Veldmark.", "documents": [1, 2]},
                                     {"question": "Which single-source fact about Quenda?", "answer": "Quenda.",
                                      "documents": [1]}]})
    raise AssertionError(f"unexpected prompt: {prompt[:60]}")


def test_full_profile_steps_fix_and_provenance(corpus, tmp_path):
    m = reflect(corpus, tmp_path / "f", ReflectConfig(profile="full"), model=Scripted(full_reply))
    rows = read_reflections(tmp_path / "f")
    by_step = {}
    for r in rows:
        by_step.setdefault(r["step"], []).append(r)
    # the pronoun/relative-time indirect pairs were rewritten by the fix prompt, then checked again
    assert m["notes"]["verify"]["fixed"] > 0
    assert all("He " not in r["question"] for r in rows)
    # combined pairs keep what they came from; a "combined" pair from one source is dropped
    assert all(len(r["derived_from"]) == 2 for r in by_step["consolidated"])
    assert m["dropped"]["consolidate"]["combines fewer than 2 pairs"] > 0
    # reverse lookups never name the entity; the answer leads with it
    assert all("veldmark" not in r["question"].lower() and r["answer"].startswith("Veldmark")
               for r in by_step["entity"])
    assert m["dropped"]["entity"]["question names the entity"] > 0
    assert all(len(r["doc_ids"]) >= 2 for r in by_step["cross_document"])
    assert m["dropped"]["cross_document"]["draws on one document"] > 0


def test_run_killed_in_step_2_resumes_without_repeating_completed_calls(corpus, tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")

    def dies_in_consolidation(prompt: str) -> str:
        if prompt.startswith("Below are numbered"):
            raise KeyboardInterrupt  # the user pressed ^C during step 2
        return full_reply(prompt)

    with pytest.raises(KeyboardInterrupt):
        reflect(corpus, tmp_path / "out", ReflectConfig(profile="full"),
                model=CachedChatModel(Scripted(dies_in_consolidation), cache))
    assert not (tmp_path / "out").exists()  # nothing half-written
    seen: list[str] = []

    def recording(prompt: str) -> str:
        seen.append(prompt)
        return full_reply(prompt)

    resumed = CachedChatModel(Scripted(recording), cache)
    reflect(corpus, tmp_path / "out", ReflectConfig(profile="full"), model=resumed)
    assert seen and not any(p.startswith(("Extract every fact", "Write question/answer")) for p in seen)
    assert resumed.usage.cache_hits >= 2 * len(corpus.chunks)
    calls = resumed.usage.calls
    again = CachedChatModel(Scripted(recording), cache)
    reflect(corpus, tmp_path / "out2", ReflectConfig(profile="full"), model=again)
    assert calls > 0 and again.usage.calls == 0
    assert (tmp_path / "out" / "reflections.jsonl").read_text() == (tmp_path / "out2" / "reflections.jsonl").read_text()


def test_steps_can_be_skipped_and_verify_passed_through(corpus, tmp_path):
    m = reflect(corpus, tmp_path / "s", ReflectConfig(profile="rules", steps=("direct", "entity")),
                model=Scripted(never_called))
    assert {s for s, n in m["counts"].items() if n} == {"direct", "entity"}
    assert sorted(p.name for p in (tmp_path / "s" / "steps").iterdir()) == ["direct.jsonl", "entity.jsonl"]


def test_grouping_joins_documents_sharing_entities_and_keeps_unrelated_apart(corpus):
    groups = group_documents(corpus, max_size=4)
    by_title = {d.id: d.title for d in corpus.documents}
    named = [sorted(by_title[i] for i in g) for g in groups]
    assert ["kell", "marie"] in named
    assert not any("comet" in g and ("marie" in g or "kell" in g) for g in named)
    assert not any("volcano" in g and ("marie" in g or "kell" in g) for g in named)
    assert all(2 <= len(g) <= 4 for g in groups)


def test_grouping_file_by_title(corpus, tmp_path):
    path = tmp_path / "groups.json"
    path.write_text(json.dumps([["comet", "volcano"]]), encoding="utf-8")
    groups = load_grouping_file(path, corpus)
    assert len(groups) == 1 and len(groups[0]) == 2
    path.write_text(json.dumps([["comet", "nope"]]), encoding="utf-8")
    with pytest.raises(ValueError, match="unknown document"):
        load_grouping_file(path, corpus)


def test_estimate_counts_calls_per_step(corpus):
    est = estimate(corpus, ReflectConfig(profile="full", generator="embedded", price_in_per_mtok=1.0,
                                         price_out_per_mtok=2.0))
    assert set(est["steps"]) == {"direct", "indirect", "consolidate", "verify", "entity", "cross_document"}
    assert est["steps"]["direct"]["calls"] == len(corpus.chunks)
    assert est["cost"] > 0
    rules = estimate(corpus, ReflectConfig(profile="rules", generator="embedded"))
    assert rules["total"]["calls"] == 0 and rules["generator_used"] is False


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="unknown step"):
        ReflectConfig(steps=("direct", "summarise"))
    with pytest.raises(ValueError, match="unknown profile"):
        ReflectConfig(profile="huge")
    with pytest.raises(ValueError, match="now called 'rules'"):
        ReflectConfig(profile="compact")
    with pytest.raises(ValueError, match="unknown key"):
        from_table(ReflectConfig, {"chunk_size": 3})
    assert "abstention" in STEPS


def test_cli_run_dry_run_and_empty_corpus(corpus_dir, tmp_path):
    from typer.testing import CliRunner

    from memo.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["reflect", str(corpus_dir), "--dry-run", "--profile", "rules"])
    assert res.exit_code == 0, res.output
    assert "total" in res.output
    res = runner.invoke(app, ["reflect", str(corpus_dir), "-o", str(tmp_path / "refl"), "--steps",
                              "direct,entity,cross_document"])
    assert res.exit_code == 0, res.output
    assert "coverage: chunks 4/4" in res.output
    assert "profile rules (auto: the embedded generator is under 1B parameters)" in " ".join(res.output.split())
    assert "no generator model was used" in " ".join(res.output.split())
    manifest = json.loads((tmp_path / "refl" / "manifest.json").read_text())
    assert manifest["profile"] == "rules" and manifest["counts"]["cross_document"] > 0
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "blank.txt").write_text("", encoding="utf-8")
    res = runner.invoke(app, ["reflect", str(empty), "-o", str(tmp_path / "out")])
    assert res.exit_code == 1
    assert "no usable documents" in res.output
    assert not (tmp_path / "out").exists()


def test_a_verifier_check_whose_call_failed_is_a_failure_never_a_pass(corpus, tmp_path):
    """Issue 14 item 15: a check call that returns nothing usable used to count as "self-contained", and a
    rewritten pair whose re-check failed counted as "fixed"."""

    def broken_checks(prompt: str) -> str:
        if prompt.startswith("Can this question") or prompt == "repair":
            return "not JSON"
        return full_reply(prompt)

    steps = ("direct", "indirect", "verify")
    m = reflect(corpus, tmp_path / "v", ReflectConfig(profile="full", steps=steps), model=Scripted(broken_checks))
    assert m["notes"]["verify"]["self-contained on first check"] == 0
    assert m["notes"]["verify"].get("fixed", 0) == 0
    assert m["quality"]["self_contained_share"] == 0.0
    assert m["dropped"]["verify"]["generator check failed"] > 0
    assert m["total"] == 0
    dropped = [json.loads(x) for x in (tmp_path / "v" / "steps" / "verify_dropped.jsonl").read_text().splitlines()]
    assert dropped and all(d["problems"] for d in dropped)


def test_entity_list_fallback_is_counted_and_shown(corpus_dir, corpus, tmp_path, monkeypatch):
    def broken_entity_lists(prompt: str) -> str:
        if prompt.startswith("List every named") or prompt == "repair":
            return "[]"
        return full_reply(prompt)

    m = reflect(corpus, tmp_path / "e", ReflectConfig(profile="full", steps=("direct", "entity")),
                model=Scripted(broken_entity_lists))
    assert m["fallbacks"] == {"entity": {"entity list failed: spaCy named entities used": len(corpus.documents)}}
    assert m["dropped"]["entity"]["schema invalid"] == len(corpus.documents)
    assert m["counts"]["entity"] > 0  # the fallback entities still got their reverse lookups

    from typer.testing import CliRunner

    import memo.cli.reflect as cli_reflect
    from memo.cli import app

    real = cli_reflect.run_reflect
    monkeypatch.setattr(cli_reflect, "run_reflect",
                        lambda c, o, cfg, progress=None: real(c, o, cfg, model=Scripted(broken_entity_lists)))
    res = CliRunner().invoke(app, ["reflect", str(corpus_dir), "-o", str(tmp_path / "cli"), "--profile", "full",
                                   "--steps", "direct,entity"])
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert f"fallbacks in entity: entity list failed: spaCy named entities used {len(corpus.documents)}" in flat


def test_an_output_path_over_the_corpus_or_other_files_is_refused_before_any_work(corpus_dir, tmp_path):
    before = sorted(p.name for p in corpus_dir.iterdir())
    with pytest.raises(FileExistsError, match="choose a new output path"):
        reflect(corpus_dir, corpus_dir, ReflectConfig(profile="rules"), model=Scripted(never_called))
    assert sorted(p.name for p in corpus_dir.iterdir()) == before
    (corpus_dir / "manifest.json").write_text('{"name": "a downloaded dataset"}')  # not a reflections manifest
    with pytest.raises(FileExistsError, match="choose a new output path"):
        reflect(corpus_dir, corpus_dir, ReflectConfig(profile="rules"), model=Scripted(never_called))
    assert sorted(p.name for p in corpus_dir.iterdir()) == sorted(before + ["manifest.json"])
    (corpus_dir / "manifest.json").unlink()
    out = tmp_path / "refl"
    reflect(corpus_dir, out, ReflectConfig(profile="rules", steps=("direct",)), model=Scripted(never_called))
    reflect(corpus_dir, out, ReflectConfig(profile="rules", steps=("direct",)), model=Scripted(never_called))  # replaced
    assert (out / "manifest.json").is_file()
