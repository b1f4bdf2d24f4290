"""memo.eval: metrics, dataset loaders, gold chains, retrieval, the run directory, resume, own-corpus questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memo.eval import (DatasetError, Example, Hop, containment, exact_match, load_eval_set, load_musique,
                       load_narrativeqa, load_qa_jsonl, natural_question, normalize_answer, run_chains, score,
                       substitute, token_f1)
from memo.executive import LocalMemory

# The shared 50-question sample lives in shared/, beside the checkout (here and in CI).
MUSIQUE = Path(__file__).resolve().parents[2] / "shared" / "data" / "musique" / "musique_hipporag_subset.json"


# -- metrics ----------------------------------------------------------------------------------------------------

def test_normalisation_is_squad_s():
    assert normalize_answer("The  Mississippi River-Delta!") == "mississippi riverdelta"
    assert normalize_answer("An apple, a pear") == "apple pear"


@pytest.mark.parametrize("limit", [0, -2])
def test_a_limit_below_one_is_refused_before_anything_is_written(tmp_path, monkeypatch, limit):
    from typer.testing import CliRunner

    from memo.cli import app
    from memo.eval import EvalError, evaluate

    monkeypatch.chdir(tmp_path)
    data = tmp_path / "musique.json"  # never read: the limit is checked first
    with pytest.raises(EvalError, match="limit must be at least 1"):
        evaluate(f"musique:{data}", tmp_path / "run", ["closed_book"], limit=limit)
    result = CliRunner().invoke(app, ["eval", "-d", f"musique:{data}", "-o", str(tmp_path / "run"),
                                      "--methods", "closed_book", "--limit", str(limit)])
    assert result.exit_code == 1 and "limit must be at least 1" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_exact_match_and_f1_hand_computed():
    # prediction tokens: [june, 1982, in, barcelona]; gold [june, 1982]: P = 2/4, R = 2/2, F1 = 2PR/(P+R) = 2/3
    assert token_f1("June 1982 in Barcelona", ["June 1982"]) == pytest.approx(2 / 3)
    assert exact_match("June 1982 in Barcelona", ["June 1982"]) == 0.0
    # "the" is dropped by normalisation: exact
    assert exact_match("the Mississippi River Delta", ["Mississippi River Delta"]) == 1.0
    # maximum over aliases: "Rockland County, New York" vs pred "Rockland County" -> F1 2*1*(2/4)/(1+2/4) = 2/3
    assert token_f1("Rockland County", ["Rockland County, New York"]) == pytest.approx(2 / 3)
    assert token_f1("Rockland County", ["Rockland County, New York", "Rockland County"]) == 1.0
    # no overlap, empty prediction
    assert token_f1("Paris", ["London"]) == 0.0
    assert token_f1("", ["London"]) == 0.0
    # repeated tokens count once per occurrence: pred [a1 a1 b], gold [a1 b b] -> common 2, P = R = 2/3
    assert token_f1("x x y", ["x y y"]) == pytest.approx(2 / 3)


def test_containment_is_on_word_boundaries():
    assert containment("He was signed in June 1982.", ["June 1982"]) == 1.0
    assert containment("Parisian food", ["Paris"]) == 0.0
    assert score("Diego Maradona", ["Maradona"]) == {"em": 0.0, "f1": pytest.approx(2 / 3, abs=1e-4), "contains": 1.0}


# -- loaders ----------------------------------------------------------------------------------------------------

@pytest.mark.skipif(not MUSIQUE.exists(), reason="the shared MuSiQue sample is not beside this checkout")
def test_musique_sample_loads_with_its_counts():
    data = load_musique(MUSIQUE)
    assert len(data.examples) == 50
    assert sum(len(e.evidence_ids) + len(e.distractor_ids) for e in data.examples) == 999  # paragraphs per question
    assert sum(len(e.evidence_ids) for e in data.examples) == 132
    assert sorted({e.hops for e in data.examples}) == [2, 3, 4]
    assert [sum(e.hops == h for e in data.examples) for h in (2, 3, 4)] == [27, 14, 9]
    first = data.examples[0]
    assert first.answers == ["June 1982"]
    assert [h.answer for h in first.decomposition] == ["Diego Maradona", "June 1982"]
    # each step's evidence is its supporting paragraph, and the step evidence together is the question's evidence
    assert {i for h in first.decomposition for i in h.evidence_ids} == set(first.evidence_ids)
    assert all(d in data.documents for e in data.examples for d in e.evidence_ids + e.distractor_ids)
    aliased = next(e for e in data.examples if e.id.startswith("2hop__766973"))
    assert aliased.answers == ["Rockland County", "Rockland County, New York"]


def _official_rows():
    paragraphs = [
        {"idx": 0, "title": "Ada Quill", "paragraph_text": "Ada Quill was born in Tessary.", "is_supporting": True},
        {"idx": 1, "title": "Tessary", "paragraph_text": "Tessary lies in the Orvan Province.", "is_supporting": True},
        {"idx": 2, "title": "Lumen", "paragraph_text": "Lumen is a bakery in Orla.", "is_supporting": False},
    ]
    return [
        {"id": "2hop__1_2", "paragraphs": paragraphs, "question": "In which province was Ada Quill born?",
         "question_decomposition": [
             {"id": 1, "question": "Ada Quill >> place of birth", "answer": "Tessary", "paragraph_support_idx": 0},
             {"id": 2, "question": "Which province is #1 in?", "answer": "Orvan Province", "paragraph_support_idx": 1}],
         "answer": "Orvan Province", "answer_aliases": ["Orvan"], "answerable": True},
        {"id": "2hop__3_4", "paragraphs": paragraphs, "question": "Who founded Lumen?", "question_decomposition": [],
         "answer": "", "answer_aliases": [], "answerable": False},
    ]


def test_official_musique_jsonl_layout(tmp_path):
    file = tmp_path / "musique_ans_v1.0_dev.jsonl"
    file.write_text("".join(json.dumps(r) + "\n" for r in _official_rows()), encoding="utf-8")
    data = load_eval_set(f"musique:{file}")
    assert [e.id for e in data.examples] == ["2hop__1_2"]  # the unanswerable one is left out
    e = data.examples[0]
    assert e.answers == ["Orvan Province", "Orvan"] and e.hops == 2
    assert [data.documents[d].title for d in e.evidence_ids] == ["Ada Quill", "Tessary"]
    assert [data.documents[d].title for d in e.distractor_ids] == ["Lumen"]
    assert [data.documents[h.evidence_ids[0]].title for h in e.decomposition] == ["Ada Quill", "Tessary"]
    # the same file in the HippoRAG layout (a JSON list) loads to the same examples
    listed = tmp_path / "musique.json"
    listed.write_text(json.dumps(_official_rows()), encoding="utf-8")
    assert load_musique(listed).examples == data.examples


def test_narrativeqa_hf_layout(tmp_path):
    rows = [{"document": {"id": "b1", "kind": "gutenberg", "text": "Tom Veld sailed to Korr in 1850.",
                          "summary": {"title": "The Voyage", "text": "A voyage."}},
             "question": {"text": "Where did Tom Veld sail?", "tokens": []},
             "answers": [{"text": "Korr", "tokens": []}, {"text": "to Korr", "tokens": []}]},
            {"document": {"id": "b1", "text": "Tom Veld sailed to Korr in 1850.", "summary": {"title": "The Voyage"}},
             "question": {"text": "When did Tom Veld sail?"}, "answers": [{"text": "1850"}]}]
    (tmp_path / "nqa").mkdir()
    (tmp_path / "nqa" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    data = load_narrativeqa(tmp_path / "nqa")
    assert [e.answers for e in data.examples] == [["Korr", "to Korr"], ["1850"]]
    assert list(data.documents) == ["b1"] and data.documents["b1"].title == "The Voyage"
    assert all(e.evidence_ids == ["b1"] for e in data.examples)


def test_generic_jsonl_names_evidence_by_file_title_or_id(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "quill.md").write_text("Ada Quill was born in Tessary in 1911.", encoding="utf-8")
    (docs / "lumen.md").write_text("The Lumen Bakery opened in Orla.", encoding="utf-8")
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "Where was Ada Quill born?", "answers": ["Tessary"],
                              "evidence_ids": ["quill.md"]}) + "\n", encoding="utf-8")
    data = load_qa_jsonl(qa, docs)
    (doc_id,) = data.examples[0].evidence_ids
    assert data.documents[doc_id].text.startswith("Ada Quill")
    qa.write_text(json.dumps({"question": "Who?", "answers": ["x"], "evidence_ids": ["nowhere.md"]}) + "\n")
    with pytest.raises(DatasetError, match="nowhere.md names no document"):
        load_qa_jsonl(qa, docs)
    with pytest.raises(DatasetError, match="needs the corpus"):
        load_eval_set(f"jsonl:{qa}")
    with pytest.raises(DatasetError, match="KIND:PATH"):
        load_eval_set("squad:x.json")


# -- gold chains ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("step, question", [
    ("Ada Quill >> country of citizenship", "What is the country of citizenship of Ada Quill?"),
    ("Zorvex >> founded by", "What is Zorvex founded by?"),
    ("#2 >> located in the administrative territorial entity", "Which administrative territorial entity is #2 located in?"),
    ("Orla Bridge >> crossed over river", "Which river is Orla Bridge crossed over?"),
    ("Who founded Zorvex", "Who founded Zorvex?"),
])
def test_wikidata_steps_become_questions(step, question):
    assert natural_question(step) == question


def test_step_references_are_substituted():
    assert substitute("When was #1 signed by #2?", ["Diego Maradona", "Barcelona."]) == \
        "When was Diego Maradona signed by Barcelona?"
    assert substitute("Who is #10?", [str(i) for i in range(1, 11)]) == "Who is 10?"
    with pytest.raises(ValueError, match="#3"):
        substitute("Where is #3?", ["a", "b"])


def test_chains_use_their_own_answers_and_gold_ones_for_per_hop_accuracy():
    memory = {"What is the place of birth of Ada Quill?": "Tessary",
              "Which province is Tessary in?": "Orvan Province",
              "Who founded Lumen?": "Ines Okafor",  # the chain's own (wrong) answer
              "Where was Ines Okafor born?": "Marrowby",
              "Where was Tomas Brell born?": "Quessel"}
    batches: list[list[str]] = []

    def answer(questions):
        batches.append(questions)
        return [memory.get(q, "I don't know.") for q in questions]

    chains = run_chains([[Hop("Ada Quill >> place of birth", "Tessary"), Hop("Which province is #1 in?", "Orvan")],
                         [Hop("Who founded Lumen?", "Tomas Brell"), Hop("Where was #1 born?", "Quessel")]], answer)
    assert [h.answer for h in chains[0]] == ["Tessary", "Orvan Province"]
    assert chains[1][1].question == "Where was Ines Okafor born?" and chains[1][1].answer == "Marrowby"
    assert chains[1][1].gold_question == "Where was Tomas Brell born?"
    assert chains[1][1].gold_substituted_answer == "Quessel"
    assert len(batches) == 2 and len(batches[0]) == 2  # one batch per step; identical first-step questions once


def test_memo_gold_substitutes_and_scores_the_memory_s_short_fact():
    from memo.eval.methods import Context, run_method
    from memo.executive.memory import MemoryClient, MemoryReply
    from memo.settings import EvalConfig, ExecutiveSettings

    said = {"What is the place of birth of Ada Quill?": "Tessary. Ada Quill was born in Tessary in 1901.",
            "Which province is Tessary in?": "Orvan Province. Tessary lies in the Orvan Province."}

    class Memory(MemoryClient):
        description = "scripted"

        def _ask(self, questions, temperature, max_tokens, seed):
            return [MemoryReply(question=q, answer=said.get(q, "I don't know."), abstained=q not in said)
                    for q in questions]

    example = Example(id="2hop__1_2", question="In which province was Ada Quill born?", answers=["Orvan Province"],
                      evidence_ids=[],
                      decomposition=[Hop("Ada Quill >> place of birth", "Tessary"),
                                     Hop("Which province is #1 in?", "Orvan Province")], hops=2)
    ctx = Context(reader=None, settings=ExecutiveSettings(), cfg=EvalConfig(), seed=0, passages=[],
                  retriever=None, memory=Memory(), count_tokens=len)
    [outcome] = run_method("memo_gold", [example], ctx)
    first, second = outcome.detail["hops"]
    assert first["answer"] == "Tessary" and first["memory_answer"] == said["What is the place of birth of Ada Quill?"]
    assert second["question"] == "Which province is Tessary in?" == second["gold_question"]
    assert outcome.answer == "Orvan Province" and second["gold_memory_answer"].startswith("Orvan Province. Tessary")


# -- retrieval --------------------------------------------------------------------------------------------------

def test_bm25_and_dense_rank_the_relevant_passage_first():
    from memo.eval.retrieval import BM25Retriever, DenseRetriever, Passage

    passages = [Passage("p1", "d1", "Ada Quill", "Ada Quill was born in Tessary, a river town."),
                Passage("p2", "d2", "Lumen Bakery", "The Lumen Bakery sells rye bread in Orla."),
                Passage("p3", "d3", "Orvan", "The Orvan Province has three lakes.")]
    for retriever in (BM25Retriever(passages), DenseRetriever(passages)):
        hits = retriever.search(["Where was Ada Quill born?", "Which bakery sells rye bread?"], k=2)
        assert [h[0][0].id for h in hits] == ["p1", "p2"], retriever.name
        assert len(hits[0]) == 2


# -- the run directory, on tiny random models --------------------------------------------------------------------

PEOPLE = [("Ada Quill", "Tessary", "Orvan Province"), ("Tomas Brell", "Quessel", "Marr Valley"),
          ("Ines Okafor", "Marrowby", "Kell Coast")]


def _invented_musique(path: Path) -> Path:
    """Three two-hop questions in the official MuSiQue layout, about invented people and places."""
    rows = []
    for n, (person, town, region) in enumerate(PEOPLE):
        paragraphs = [
            {"idx": 0, "title": person, "paragraph_text": f"{person} was born in {town} and became a clockmaker.",
             "is_supporting": True},
            {"idx": 1, "title": town, "paragraph_text": f"{town} is a small town in the {region}.", "is_supporting": True},
            {"idx": 2, "title": f"Distractor {n}", "paragraph_text": f"The Lumen Bakery {n} sells rye bread.",
             "is_supporting": False},
            {"idx": 3, "title": f"Other {n}", "paragraph_text": f"The Kessel Choir {n} sings on Sundays.",
             "is_supporting": False}]
        rows.append({"id": f"2hop__{n}_{n + 10}", "paragraphs": paragraphs,
                     "question": f"In which region is the birthplace of {person}?",
                     "question_decomposition": [
                         {"id": n, "question": f"{person} >> place of birth", "answer": town, "paragraph_support_idx": 0},
                         {"id": n + 10, "question": "Which region is #1 in?", "answer": region,
                          "paragraph_support_idx": 1}],
                     "answer": region, "answer_aliases": [], "answerable": True})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_eval_memory(tmp_path_factory, tiny_model_dir):
    """A tiny random memory trained one epoch on the invented facts (its answers are noise, but deterministic)."""
    from memo.memory import TrainConfig, train

    work = tmp_path_factory.mktemp("eval-memory")
    facts = work / "facts.jsonl"
    facts.write_text("".join(json.dumps({"question": f"Where was {p} born?", "answer": t}) + "\n"
                             for p, t, _ in PEOPLE), encoding="utf-8")
    train(facts, work / "mem", base=f"hf:{tiny_model_dir}",
          config=TrainConfig(max_epochs=1, batch_size=2, eval_size=2, abstention_ratio=0.0, freeze_embeddings=False))
    return work / "mem"


def _tiny_config(tmp_path: Path, tiny_model_dir: Path) -> None:
    (tmp_path / "memo.toml").write_text(
        f'[roles]\nexecutive = "hf:{tiny_model_dir}"\njudge = "hf:{tiny_model_dir}"\n'
        "[executive]\nmax_tokens = 24\nmemory_max_tokens = 8\nretries = 0\n"
        "[eval]\nreader_max_tokens = 8\nconcurrency = 2\ntop_k = 2\n", encoding="utf-8")


class DyingMemory(LocalMemory):
    """A local memory that is 'killed' (KeyboardInterrupt) once more than `after` questions reached it; counts
    the questions it really answered."""

    def __init__(self, path, after: float):
        super().__init__(path)
        self.after = after
        self.answered = 0

    def _ask(self, questions, temperature, max_tokens, seed):
        if self.questions_asked > self.after:
            raise KeyboardInterrupt
        self.answered += len(questions)
        return super()._ask(questions, temperature, max_tokens, seed)


def _models():
    from memo.config import load_config
    from memo.llm import load_model

    settings = load_config()
    return settings, load_model(settings.spec_for("executive"), settings), load_model(settings.spec_for("judge"), settings)


def test_killed_eval_resumes_without_repeating_a_call_or_a_question(tmp_path, monkeypatch, tiny_model_dir,
                                                                    tiny_eval_memory):
    from memo.eval import evaluate

    _tiny_config(tmp_path, tiny_model_dir)
    data = _invented_musique(tmp_path / "musique.jsonl")
    methods = ["bm25", "memo_gold", "memo:single"]
    calls = []
    for name, cache, after in (("killed", "a", 3), ("resumed", "a", float("inf")), ("straight", "b", float("inf"))):
        monkeypatch.setenv("MEMO_CACHE", str(tmp_path / f"cache-{cache}.sqlite"))
        settings, reader, judge = _models()
        memory = DyingMemory(tiny_eval_memory, after=after)
        out = tmp_path / ("straight" if name == "straight" else "report")
        if name == "killed":
            with pytest.raises(KeyboardInterrupt):
                evaluate(f"musique:{data}", out, methods, memory=memory, executive=reader, judge=judge,
                         settings=settings)
            done = (out / "results.jsonl").read_text().splitlines()
            assert 0 < len(done) < 3 * len(methods)  # killed inside memo_gold, after finished rows
        else:
            evaluate(f"musique:{data}", out, methods, memory=memory, executive=reader, judge=judge, settings=settings)
        calls.append((reader.usage.calls, judge.usage.calls, memory.answered))
    (killed, resumed, straight) = calls
    assert killed[2] > 0  # the killed run had answered memory questions of the question it died in
    assert tuple(k + r for k, r in zip(killed, resumed)) == straight
    rows = [json.loads(line) for line in (tmp_path / "report" / "results.jsonl").read_text().splitlines()]
    fresh = [json.loads(line) for line in (tmp_path / "straight" / "results.jsonl").read_text().splitlines()]
    key = lambda r: (r["method"], r["example"])  # noqa: E731
    assert len(rows) == len({key(r) for r in rows}) == 3 * len(methods)
    assert {key(r): r["answer"] for r in rows} == {key(r): r["answer"] for r in fresh}
    asked = [r for r in rows if r["method"] == "memo:single"]  # a memo answer's fallbacks are in its row
    assert asked and all(r["detail"]["degraded"] == json.loads((tmp_path / "report" / r["trace"]).read_text())["degraded"]
                         for r in asked)


def test_report_is_complete(tmp_path, tiny_model_dir, tiny_eval_memory):
    from memo.eval import evaluate

    _tiny_config(tmp_path, tiny_model_dir)
    data = _invented_musique(tmp_path / "musique.jsonl")
    settings, reader, judge = _models()
    from memo.settings import EvalConfig

    methods = ["dense", "oracle", "memo_gold", "dense_gold"]
    summary = evaluate(f"musique:{data}", tmp_path / "r", methods, memory=tiny_eval_memory, executive=reader,
                       judge=judge, settings=settings, limit=2,
                       config=EvalConfig(reader_max_tokens=8, distractors=1, top_k=2, runs=2, concurrency=2))
    out = tmp_path / "r"
    for name in ("summary.md", "summary.json", "results.jsonl", "eval.json", "accuracy_by_method.png",
                 "accuracy_by_hops.png", "cost_by_method.png", "distractors.png"):
        assert (out / name).stat().st_size > 0, name
    assert set(summary["conditions"]) == {"distractors-0", "distractors-1"}
    clean = summary["conditions"]["distractors-0"]
    assert clean["oracle"]["em"]["runs"] == 2 and clean["memo_gold"]["hop_accuracy"]["steps"] == 2 * 2 * 2
    assert summary["lead_metric"] == "f1" and "unreliable" in summary["judge"]["note"]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 2 * len(methods) * 2  # conditions x runs x methods x questions
    assert all((out / r["trace"]).is_file() for r in rows)
    # the noisy corpus holds one distractor per evidence paragraph, from each question's own non-supporting ones
    noisy = [json.loads(line) for line in (out / "conditions" / "distractors-1" / "corpus.jsonl").read_text().splitlines()]
    assert len(noisy) == 2 * len([json.loads(line) for line in
                                  (out / "conditions" / "distractors-0" / "corpus.jsonl").read_text().splitlines()])
    oracle = next(r for r in rows if r["method"] == "oracle" and r["distractors"] == 1)
    assert len(oracle["detail"]["documents"]) == 2  # perfect retrieval reads only the gold evidence
    md = (out / "summary.md").read_text()
    assert "unreliable" in md and "| memo_gold |" in md and "Change with distractors" in md


def test_torn_last_row_is_dropped_on_resume(tmp_path):
    from memo.eval.runner import ResultsFile

    file = tmp_path / "results.jsonl"
    row = {"condition": "distractors-0", "run": 1, "method": "bm25", "example": "q1"}
    file.write_text(json.dumps(row) + "\n" + '{"condition": "distr', encoding="utf-8")
    results = ResultsFile(file)
    assert results.done("distractors-0", 1, "bm25", "q1") and len(results.rows) == 1
    assert file.read_text() == json.dumps(row) + "\n"


def test_an_output_dir_of_another_evaluation_is_refused(tmp_path, monkeypatch, tiny_model_dir):
    from memo.eval import EvalError, evaluate
    from memo.settings import EvalConfig

    _tiny_config(tmp_path, tiny_model_dir)
    data = _invented_musique(tmp_path / "musique.jsonl")
    settings, reader, _ = _models()
    cfg = EvalConfig(reader_max_tokens=8, judge=False)
    evaluate(f"musique:{data}", tmp_path / "r", ["closed_book"], limit=1, executive=reader, settings=settings, config=cfg)
    monkeypatch.chdir(tmp_path)  # the same file named relative to another directory is the same evaluation
    evaluate("musique:musique.jsonl", tmp_path / "r", ["closed_book"], limit=1, executive=reader, settings=settings,
             config=cfg)
    with pytest.raises(EvalError, match="another evaluation"):
        evaluate(f"musique:{data}", tmp_path / "r", ["closed_book"], limit=1, executive=reader, settings=settings,
                 config=EvalConfig(reader_max_tokens=8, judge=False, top_k=3))
    with pytest.raises(ValueError, match="unknown method"):
        evaluate(f"musique:{data}", tmp_path / "r2", ["bm26"], executive=reader, settings=settings, config=cfg)


# -- own-corpus mode --------------------------------------------------------------------------------------------

DOCS = {
    "quill.md": "Ada Quill was born in Tessary in 1911. Ada Quill founded the Orla Clock Works in 1938. "
                "The Orla Clock Works employed 40 clockmakers by 1950.",
    "brell.md": "Tomas Brell became rector of the Arvik Institute in 1987. Tomas Brell wrote a history of the "
                "Kessel Choir. The Arvik Institute lies in Marrowby.",
}


def _docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    for name, text in DOCS.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_rule_written_heldout_questions_never_repeat_training_questions(tmp_path):
    from memo.config import load_config
    from memo.corpus import load_corpus
    from memo.eval.heldout import heldout_examples
    from memo.progress import SILENT
    from memo.records import normalize_text
    from memo.settings import EvalConfig

    corpus = load_corpus(_docs(tmp_path))
    cfg = EvalConfig(questions_per_document=3)
    everything = heldout_examples(tmp_path / "all.jsonl", corpus, [], load_config(), cfg, SILENT)
    assert len(everything) >= 4 and all(e.answers[0] in corpus.doc(e.evidence_ids[0]).text for e in everything)
    # Train on half of them, written differently (case, punctuation): none of those may come back.
    training = [e.question.upper().rstrip("?") + " ?!" for e in everything[::2]]
    kept = heldout_examples(tmp_path / "heldout.jsonl", corpus, training, load_config(), cfg, SILENT)
    assert kept and not {normalize_text(e.question) for e in kept} & {normalize_text(q) for q in training}
    # The written file is read back as the user leaves it, and the training filter applies to it too.
    rows = [json.loads(line) for line in (tmp_path / "heldout.jsonl").read_text().splitlines()]
    rows.append({"id": "mine", "question": everything[0].question, "answers": ["x"], "evidence_ids": []})
    (tmp_path / "heldout.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    again = heldout_examples(tmp_path / "heldout.jsonl", corpus, training, load_config(), cfg, SILENT)
    assert [e.question for e in again] == [e.question for e in kept]


def test_generator_written_heldout_questions_drop_training_ones_and_near_duplicates(tmp_path):
    from memo.corpus import load_corpus
    from memo.eval.heldout import drop_training_questions, generator_questions
    from memo.llm import ChatModel

    training = ["Where was Ada Quill born?", "Who founded the Orla Clock Works?"]
    written = {"pairs": [{"question": "where was ada quill born", "answer": "Tessary"},  # normalised copy
                         {"question": "Who was the founder of the Orla Clock Works?", "answer": "Ada Quill"},  # near
                         {"question": "How many clockmakers did the Orla Clock Works employ by 1950?", "answer": "40"}]}

    class Generator(ChatModel):  # a fixed generator reply, for the filter logic only
        spec = identity = "scripted-generator"

        def _generate(self, conversations, params):
            return [json.dumps(written) for _ in conversations]

    corpus = load_corpus(_docs(tmp_path))
    asked = generator_questions(corpus, Generator(), per_document=3, seed=1, temperature=0.7)
    kept, dropped = drop_training_questions(asked, training, threshold=0.9, embedder="minilm")
    assert {e.question for e in kept} == {"How many clockmakers did the Orla Clock Works employ by 1950?"}
    assert dropped == len(asked) - 1  # the same reply for each document: its repeat is dropped as well


# -- end to end with the embedded models (slow) ------------------------------------------------------------------

def _quick_recipe(tmp_path: Path) -> None:
    """Embedded models for every role; a two-epoch memory (the report's completeness is under test, not recall)."""
    (tmp_path / "memo.toml").write_text("[train]\nmax_epochs = 2\n[executive]\nentity_turns = 1\nanswer_turns = 1\n",
                                        encoding="utf-8")


@pytest.mark.slow
def test_three_question_eval_with_the_embedded_models_writes_a_complete_report(tmp_path):
    from typer.testing import CliRunner

    from memo.cli import app

    _quick_recipe(tmp_path)
    data = _invented_musique(tmp_path / "musique.jsonl")
    result = CliRunner().invoke(app, ["eval", "--dataset", f"musique:{data}", "-o", str(tmp_path / "report"),
                                      "--methods", "closed_book,bm25,dense,oracle,memo_gold,bm25_gold,memo:single"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "report"
    summary = json.loads((out / "summary.json").read_text())
    methods = summary["conditions"]["distractors-0"]
    assert list(methods) == ["closed_book", "bm25", "dense", "oracle", "memo_gold", "bm25_gold", "memo:single"]
    assert all(m["questions"] == 3 for m in methods.values())
    assert methods["memo_gold"]["cost_per_question"]["memory_questions"] >= 2  # two hops, asked of the memory
    assert methods["closed_book"]["cost_per_question"]["executive_calls"] == 1
    assert summary["build"]["distractors-0"]["train"]["pairs"] > 0
    assert "unreliable" in (out / "summary.md").read_text()
    for plot in ("accuracy_by_method.png", "accuracy_by_hops.png", "cost_by_method.png"):
        assert (out / plot).read_bytes()[:4] == b"\x89PNG"
    assert len((out / "results.jsonl").read_text().splitlines()) == 3 * 7
    # the memory was trained on the run's corpus: the six supporting paragraphs, no distractor
    corpus = [json.loads(line) for line in (out / "conditions" / "distractors-0" / "corpus.jsonl").read_text().splitlines()]
    assert sorted(d["title"] for d in corpus) == sorted(t for p in PEOPLE for t in p[:2])


@pytest.mark.slow
def test_own_corpus_mode_evaluates_a_folder_of_documents(tmp_path):
    from memo.eval import evaluate
    from memo.paths import read_jsonl
    from memo.records import normalize_text

    _quick_recipe(tmp_path)
    docs = _docs(tmp_path)
    summary = evaluate(f"corpus:{docs}", tmp_path / "report", ["closed_book", "bm25", "memo:single"])
    out = tmp_path / "report"
    heldout = read_jsonl(out / "heldout_questions.jsonl")
    training = read_jsonl(out / "conditions" / "distractors-0" / "memory" / "current" / "reflections.jsonl")
    trained = {normalize_text(q) for r in training for q in [r["question"], *r.get("paraphrases", [])]}
    assert heldout and not {normalize_text(r["question"]) for r in heldout} & trained
    assert {r["written_by"] for r in heldout} == {"rules"}  # the embedded generator: the rule path
    assert summary["conditions"]["distractors-0"]["bm25"]["questions"] == len(heldout)


def test_cli_errors_are_one_line(tmp_path):
    from typer.testing import CliRunner

    from memo.cli import app

    result = CliRunner().invoke(app, ["eval", "--dataset", "squad:x.json", "-o", str(tmp_path / "r")])
    assert result.exit_code == 1 and "KIND:PATH" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["eval", "--dataset", f"musique:{tmp_path / 'missing.json'}", "-o",
                                      str(tmp_path / "r")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_distractors_come_from_each_question_s_own_paragraphs_first(tmp_path):
    from memo.eval import EvalError
    from memo.eval.runner import condition_documents

    file = _invented_musique(tmp_path / "musique.jsonl")
    data = load_musique(file)
    clean = condition_documents(data, 0, seed=0)
    assert [d.id for d in clean] == [d for e in data.examples for d in e.evidence_ids]
    noisy = condition_documents(data, 1, seed=0)
    added = noisy[len(clean):]
    assert len(added) == len(clean)
    for e in data.examples:  # two evidence paragraphs each, so both of its own two distractors
        assert set(e.distractor_ids) <= {d.id for d in added}
    assert condition_documents(data, 1, seed=0) == noisy  # seeded
    with pytest.raises(EvalError, match="non-evidence documents"):
        condition_documents(data, 2, seed=0)  # 3 x 2 x 2 wanted, 6 exist


def test_eval_table_of_memo_toml(tmp_path):
    from memo.config import ConfigError, load_config

    (tmp_path / "memo.toml").write_text("[eval]\ntop_k = 3\nruns = 2\n", encoding="utf-8")
    cfg = load_config(tmp_path / "memo.toml")
    assert (cfg.eval_config().top_k, cfg.eval_config(runs=5).runs) == (3, 5)
    with pytest.raises(ConfigError, match="runs >= 1"):
        cfg.eval_config(runs=0)
    (tmp_path / "memo.toml").write_text("[eval]\ntopk = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="topk"):
        load_config(tmp_path / "memo.toml")
