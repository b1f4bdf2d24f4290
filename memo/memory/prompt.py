"""The memory's one prompt format, shared by training and asking so the two can never drift apart.

A question becomes a single user turn rendered with the memory's chat template; the answer follows as the
assistant turn and ends with the template's end-of-turn token. The memory's chat template is the base model's
own template with any *default* system prompt removed (SmolLM2 adds "You are a helpful AI assistant named
SmolLM..." to every conversation: ~20 wasted tokens per example at training time and a phrase the memory
does not need). The artifact saves this template as its `chat_template.jinja`, so transformers, vLLM and
`ask()` all format prompts identically.
"""

from __future__ import annotations

import re

from ..formats import MEMORY_PROMPT_FORMAT

PROMPT_FORMAT = {
    "name": MEMORY_PROMPT_FORMAT,
    "messages": [{"role": "user", "content": "{question}"}],
    "add_generation_prompt": True,
    "answer_suffix": "end-of-turn token of the chat template",
    "system_prompt": None,
}

# A string literal that renders a whole system turn with fixed text, e.g.
# '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n'.
_DEFAULT_SYSTEM_LITERAL = re.compile(r"""(['"])(<\|im_start\|>system\n)(?:(?!\1)[^{}])+?(<\|im_end\|>\n)\1""")


def memory_chat_template(base_template: str) -> str:
    """The base template without the fixed default system turn it inserts when a conversation has none.

    Only literal, self-contained default system turns are removed; templates without one come back unchanged.
    """
    return _DEFAULT_SYSTEM_LITERAL.sub("''", base_template)


def prompt_messages(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question.strip()}]


def format_prompt(tokenizer, question: str) -> str:
    """The exact text the memory sees before it answers `question` (training and asking both use this)."""
    return tokenizer.apply_chat_template(prompt_messages(question), add_generation_prompt=True, tokenize=False)


def end_of_turn(tokenizer) -> str:
    """The text the chat template closes an assistant turn with (e.g. '<|im_end|>'), learnt as part of the answer."""
    probe = "\x00ANSWER\x00"
    full = tokenizer.apply_chat_template(
        prompt_messages("q") + [{"role": "assistant", "content": probe}], tokenize=False
    )
    tail = full.split(probe, 1)[1]
    # Keep the end-of-turn token(s), drop the trailing newline the template adds between turns.
    return tail.rstrip("\n") or (tokenizer.eos_token or "")


def encode_example(tokenizer, question: str, answer: str) -> tuple[list[int], list[int]]:
    """(input_ids, labels) for one pair: labels are -100 on the prompt, so loss falls on the answer only."""
    prompt_ids = tokenizer(format_prompt(tokenizer, question), add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer.strip() + end_of_turn(tokenizer), add_special_tokens=False)["input_ids"]
    return prompt_ids + answer_ids, [-100] * len(prompt_ids) + answer_ids

