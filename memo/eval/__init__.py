"""Evaluation: does a memory answer better than retrieval? MeMo against closed-book, BM25, dense and perfect
retrieval, on MuSiQue, NarrativeQA, a generic JSONL or held-out questions from the user's own corpus.

    from memo.eval import evaluate
    summary = evaluate("musique:data/musique.json", "report/", ["closed_book", "bm25", "memo_gold", "memo"],
                       limit=20)

Methods, metrics and the run directory: docs/EVALUATION.md (the MeMo paper's evaluation protocol, arXiv 2605.15156).
"""

from ..settings import EvalConfig
from .chains import HopResult, natural_question, run_chains, substitute
from .datasets import DatasetError, EvalSet, Example, Hop, load_eval_set, load_musique, load_narrativeqa, load_qa_jsonl
from .methods import BASE_METHODS, expand_methods
from .metrics import containment, exact_match, normalize_answer, score, token_f1
from .runner import EvalError, evaluate

__all__ = [
    "BASE_METHODS", "DatasetError", "EvalConfig", "EvalError", "EvalSet", "Example", "Hop", "HopResult",
    "containment", "evaluate", "exact_match", "expand_methods", "load_eval_set", "load_musique",
    "load_narrativeqa", "load_qa_jsonl", "natural_question", "normalize_answer", "run_chains", "score",
    "substitute", "token_f1",
]
