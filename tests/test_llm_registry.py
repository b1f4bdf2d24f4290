"""Backends are found through a registry (a new backend is one module) and declare what they can do (issue 16
item 6)."""

from __future__ import annotations

import sys
import textwrap

import pytest

from memo.llm import LLMError, load_model, parse_spec, registry


@pytest.fixture
def fresh_registry(monkeypatch):
    monkeypatch.setattr(registry, "_registered", [])
    monkeypatch.setattr(registry, "_discovered", None)
    yield
    registry._discovered = None


PLUGIN = textwrap.dedent('''
    from memo.llm import Capabilities, ChatModel
    from memo.llm.registry import Backend
    from memo.llm.specs import ModelSpec


    class Upper(ChatModel):
        def __init__(self, spec):
            super().__init__()
            self.spec = spec
            self.capabilities = Capabilities(structured="prompt", batch_size=2)

        @property
        def identity(self):
            return "upper@1"

        def _generate(self, conversations, params):
            self.usage.add(calls=len(conversations))
            return [c[-1]["content"].upper() for c in conversations]


    BACKEND = Backend("upper", ("upper:NAME",), lambda s: ModelSpec("upper", s) if s.startswith("upper:") else None,
                      lambda spec, config: Upper(spec.spec))
''')


def test_a_backend_from_an_entry_point_is_one_module(tmp_path, monkeypatch, fresh_registry):
    (tmp_path / "upper_backend.py").write_text(PLUGIN)
    dist = tmp_path / "upper_backend-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: upper-backend\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\nupper = upper_backend:BACKEND\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    model = load_model("upper:demo")
    assert model.chat_batch(["abc", "def", "ghi"]) == ["ABC", "DEF", "GHI"]
    assert model.batch_size == 2 and model.capabilities.structured == "prompt"
    assert parse_spec("upper:demo").kind == "upper"
    assert [b.name for b in registry.backends()] == ["upper", "local", "openai"]
    with pytest.raises(LLMError, match=r"unknown model spec 'nope'.*upper:NAME \| embedded .*#MODEL"):
        parse_spec("nope")
    sys.modules.pop("upper_backend", None)


def test_register_backend_and_declare_capabilities_in_memo_toml(tmp_path, fresh_registry):
    namespace: dict = {}
    exec(PLUGIN, namespace)
    registry.register_backend(namespace["BACKEND"])
    (tmp_path / "memo.toml").write_text('[models."upper:x"]\nbatch_size = 5\n')
    assert load_model("upper:x").batch_size == 5
    assert load_model("upper:y").batch_size == 2
    (tmp_path / "memo.toml").write_text('[models."upper:x"]\nstructured = "json_schema"\n')
    with pytest.raises(LLMError, match="json_schema.*not possible.*prompt"):
        load_model("upper:x")


def test_builtin_backends_declare_their_capabilities(tiny_model_dir):
    local = load_model(f"hf:{tiny_model_dir}", cache=False)
    assert local.capabilities.structured == "grammar" and not local.capabilities.streaming
    assert local.structured_modes == ("grammar", "prompt")
    remote = load_model("http://127.0.0.1:9/v1#m", cache=False)
    assert remote.capabilities.structured == "json_schema" and remote.capabilities.streaming
    assert remote.capabilities.max_tokens_param == "max_tokens" and remote.batch_size == 8
