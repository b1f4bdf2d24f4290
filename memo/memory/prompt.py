"""The memory's one prompt format, shared by training and asking so the two can never drift apart.

A question becomes a single user turn rendered with the memory's chat template; the answer follows as the
assistant turn and ends with the template's end-of-turn token. The memory's chat template is the base model's
own template with any *default* system prompt removed (SmolLM2 adds "You are a helpful AI assistant named
SmolLM..." to every conversation: ~20 wasted tokens per example at training time and a phrase the memory
does not need). The artifact saves this template as its `chat_template.jinja`, so transformers, vLLM and
`ask()` all format prompts identically.

Templates that write today's date into the system turn (Llama 3.x: `strftime_now("%d %b %Y")`) would make a
memory trained today see a different prompt tomorrow; the memory's template pins that date to `PINNED_DATE`, and
`format_prompt` renders with that template whatever the tokenizer holds, so the prompt is the same on every day.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import lru_cache

from ..formats import MEMORY_PROMPT_FORMAT

#: The "today" every memory prompt is rendered with (any fixed day works; this one is documented and stable).
PINNED_DATE = dt.date(2024, 1, 1)

PROMPT_FORMAT = {
    "name": MEMORY_PROMPT_FORMAT,
    "messages": [{"role": "user", "content": "{question}"}],
    "add_generation_prompt": True,
    "answer_suffix": "end-of-turn token of the chat template",
    "system_prompt": None,
    "date": PINNED_DATE.isoformat(),
}

# A string literal that renders a whole system turn with fixed text, e.g.
# '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n'. The
# newlines may be real ones (SmolLM2) or `\n` escapes inside the literal (Qwen2.5).
_NL = r"(?:\n|\\n)"
_DEFAULT_SYSTEM_LITERAL = re.compile(
    rf"""(['"])<\|im_start\|>system{_NL}(?:(?!\1)[^{{}}])+?<\|im_end\|>{_NL}\1""")
# strftime_now("%d %b %Y") with a literal format: today's date, as transformers and vLLM render it.
_STRFTIME_CALL = re.compile(r"""strftime_now\(\s*(['"])((?:(?!\1).)*)\1\s*\)""")


_PIN_MACRO = "{%- macro strftime_now(format) -%}" + PINNED_DATE.isoformat() + "{%- endmacro -%}\n"


@lru_cache(maxsize=32)
def memory_chat_template(base_template: str) -> str:
    """The base template without the fixed default system turn it inserts when a conversation has none, and with
    today's date (`strftime_now(...)`) replaced by `PINNED_DATE`, so the prompt renders the same on any day.

    Only literal, self-contained default system turns are removed; templates without one come back unchanged.
    A `strftime_now` call whose format is not a literal is shadowed by a macro giving `PINNED_DATE` (ISO form).
    """
    template = _DEFAULT_SYSTEM_LITERAL.sub("''", base_template)
    template = _STRFTIME_CALL.sub(lambda m: json.dumps(PINNED_DATE.strftime(m.group(2))), template)
    if re.search(r"strftime_now\s*\(", template) and not template.startswith(_PIN_MACRO):
        template = _PIN_MACRO + template
    return template


def prompt_messages(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question.strip()}]


def _template_of(tokenizer) -> str | None:
    """The tokenizer's template in memory form (None when it has none: transformers then says so)."""
    return memory_chat_template(tokenizer.chat_template) if tokenizer.chat_template else None


def format_prompt(tokenizer, question: str) -> str:
    """The exact text the memory sees before it answers `question` (training and asking both use this), rendered
    with `memory_chat_template` of the tokenizer's template: the same on every day, whatever the base (a memory's
    own template is already in that form, and the function leaves it as it is)."""
    return tokenizer.apply_chat_template(prompt_messages(question), add_generation_prompt=True, tokenize=False,
                                         chat_template=_template_of(tokenizer))


def end_of_turn(tokenizer) -> str:
    """The text the chat template closes an assistant turn with (e.g. '<|im_end|>'), learnt as part of the answer."""
    probe = "\x00ANSWER\x00"
    full = tokenizer.apply_chat_template(prompt_messages("q") + [{"role": "assistant", "content": probe}], tokenize=False,
                                         chat_template=_template_of(tokenizer))
    tail = full.split(probe, 1)[1]
    # Keep the end-of-turn token(s), drop the trailing newline the template adds between turns.
    return tail.rstrip("\n") or (tokenizer.eos_token or "")


def encode_example(tokenizer, question: str, answer: str) -> tuple[list[int], list[int]]:
    """(input_ids, labels) for one pair: labels are -100 on the prompt, so loss falls on the answer only."""
    prompt_ids = tokenizer(format_prompt(tokenizer, question), add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer.strip() + end_of_turn(tokenizer), add_special_tokens=False)["input_ids"]
    return prompt_ids + answer_ids, [-100] * len(prompt_ids) + answer_ids

