"""The memory prompt renders the same for training and asking, on any day, for any base template (issue 14 item 14).

The two templates below are small ones written in the style of two families whose templates drift: Qwen2.5 (a
default system turn written with `\\n` escapes inside a Jinja string literal) and Llama 3.x (today's date in the
system turn through `strftime_now`).
"""

from __future__ import annotations

import datetime as real_datetime

import pytest

from memo.memory.prompt import PINNED_DATE, end_of_turn, format_prompt, memory_chat_template

QWEN25_STYLE = r"""{%- if messages[0]['role'] == 'system' %}
    {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
{%- else %}
    {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
    {%- if not (message.role == 'system' and loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""

LLAMA3_STYLE = r"""{{- bos_token }}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
"""


@pytest.fixture
def tokenizer(embedded_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(embedded_dir)


def on_day(monkeypatch, day: real_datetime.datetime) -> None:
    """Make transformers' `strftime_now` (what vLLM uses too) believe today is `day`."""
    import transformers.utils.chat_template_utils as ctu

    class Frozen(real_datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return day

    monkeypatch.setattr(ctu, "datetime", Frozen)


def test_a_default_system_turn_written_with_escapes_is_removed(tokenizer):
    tokenizer.chat_template = QWEN25_STYLE
    assert "You are Qwen" in tokenizer.apply_chat_template([{"role": "user", "content": "Who?"}], tokenize=False)
    expected = "<|im_start|>user\nWho?<|im_end|>\n<|im_start|>assistant\n"
    assert format_prompt(tokenizer, " Who? ") == expected  # with the base template as it is...
    tokenizer.chat_template = memory_chat_template(QWEN25_STYLE)
    assert "You are Qwen" not in tokenizer.chat_template
    assert format_prompt(tokenizer, " Who? ") == expected  # ...and with the memory's own
    assert end_of_turn(tokenizer) == "<|im_end|>"
    # an explicit system message still renders: only the *default* turn went
    rendered = tokenizer.apply_chat_template([{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],
                                             tokenize=False)
    assert rendered.startswith("<|im_start|>system\nS<|im_end|>\n")


def test_todays_date_does_not_enter_the_memory_prompt(tokenizer, monkeypatch):
    tokenizer.chat_template = LLAMA3_STYLE
    prompts = {}
    for day in (real_datetime.datetime(2025, 3, 14), real_datetime.datetime(2031, 11, 2)):
        on_day(monkeypatch, day)
        assert day.strftime("%d %b %Y") in tokenizer.apply_chat_template(
            [{"role": "user", "content": "Who?"}], tokenize=False)  # the base template drifts with the day...
        prompts[day] = format_prompt(tokenizer, "Who?")  # ...the memory prompt does not
    assert len(set(prompts.values())) == 1
    assert "Today Date: " + PINNED_DATE.strftime("%d %b %Y") in next(iter(prompts.values()))

    pinned = memory_chat_template(LLAMA3_STYLE)  # what the artifact saves (and vLLM renders)
    assert "strftime_now(" not in pinned and memory_chat_template(pinned) == pinned
    tokenizer.chat_template = pinned
    renders = set()
    for day in (real_datetime.datetime(2025, 3, 14), real_datetime.datetime(2031, 11, 2)):
        on_day(monkeypatch, day)
        renders.add(tokenizer.apply_chat_template([{"role": "user", "content": "Who?"}], tokenize=False,
                                                  add_generation_prompt=True))
    assert renders == set(prompts.values())


def test_a_date_with_a_computed_format_is_pinned_too(tokenizer, monkeypatch):
    template = LLAMA3_STYLE.replace('strftime_now("%d %b %Y")', "strftime_now(fmt)").replace(
        "{{- bos_token }}", "{{- bos_token }}{%- set fmt = '%Y' %}")
    tokenizer.chat_template = memory_chat_template(template)
    assert memory_chat_template(tokenizer.chat_template) == tokenizer.chat_template  # applying it twice changes nothing
    renders = set()
    for day in (real_datetime.datetime(2025, 3, 14), real_datetime.datetime(2031, 11, 2)):
        on_day(monkeypatch, day)
        renders.add(tokenizer.apply_chat_template([{"role": "user", "content": "Who?"}], tokenize=False))
    assert len(renders) == 1 and "Today Date: " + PINNED_DATE.isoformat() in next(iter(renders))


def test_the_embedded_template_still_loses_its_default_system_turn(tokenizer):
    stripped = memory_chat_template(tokenizer.chat_template)
    assert "SmolLM" in tokenizer.chat_template and "SmolLM" not in stripped
    tokenizer.chat_template = stripped
    assert format_prompt(tokenizer, " Who? ") == "<|im_start|>user\nWho?<|im_end|>\n<|im_start|>assistant\n"
