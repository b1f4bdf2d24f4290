"""Names and format versions of every artifact memo writes, defined once (each format is documented in docs/)."""

#: A reflection dataset directory (docs/REFLECTIONS.md).
REFLECTIONS_FORMAT = "memo-reflections/1"
#: A memory version directory's manifest, `memo.json` (docs/MEMORY.md).
MEMORY_FORMAT = "memo-memory/1"
#: The prompt format a memory is trained and asked with (docs/MEMORY.md).
MEMORY_PROMPT_FORMAT = "memo-memory-prompt/1"
#: One `ask` trace (docs/EXECUTIVE.md).
TRACE_FORMAT = "memo-trace/1"

#: The pairs, with provenance: in a reflection dataset and in every memory version.
REFLECTIONS_FILE = "reflections.jsonl"
#: A reflection dataset's manifest.
REFLECTIONS_MANIFEST = "manifest.json"
#: A memory version's manifest.
MEMORY_MANIFEST = "memo.json"
#: Embeddings of a memory's reflections (float32, L2-normalised, one row per line of REFLECTIONS_FILE).
EMBEDDINGS_FILE = "reflections.npy"
#: The retention report `memo add` writes into the version it publishes.
RETENTION_FILE = "retention.json"
#: The memory's chat template (the base model's, minus its default system turn).
CHAT_TEMPLATE_FILE = "chat_template.jinja"

#: An evaluation run directory (docs/EVALUATION.md): its manifest, one row per question and method, the summary.
EVAL_FORMAT = "memo-eval/1"
EVAL_MANIFEST = "eval.json"
EVAL_RESULTS_FILE = "results.jsonl"
EVAL_SUMMARY_FILE = "summary.json"
EVAL_SUMMARY_MD = "summary.md"
#: Own-corpus mode's held-out questions (generic eval JSONL rows), editable by the user between runs.
HELDOUT_FILE = "heldout_questions.jsonl"
#: The embedded executive's LoRA adapter, shipped as package data (docs/EXECUTIVE.md).
EXECUTIVE_ADAPTER_FORMAT = "memo-executive-adapter/1"
