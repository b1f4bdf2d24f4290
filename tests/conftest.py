"""Shared fixtures: an isolated response cache per run, the embedded model, a tiny random model.

The embedded model is dequantised once into MEMO_HOME (shared with normal use, so tests never redo it);
everything else the tests write goes to pytest's temporary directories.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import contextmanager

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own response cache and no stray memo.toml or role overrides."""
    monkeypatch.setenv("MEMO_CACHE", str(tmp_path / "cache.sqlite"))
    monkeypatch.delenv("MEMO_CONFIG", raising=False)
    for role in ("GENERATOR", "EXECUTIVE", "MEMORY_BASE", "JUDGE"):
        monkeypatch.delenv(f"MEMO_{role}", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def embedded_dir():
    from memo.llm.embedded import embedded_model_dir

    return embedded_model_dir()


def make_tiny_llama(out, tokenizer_dir, hidden_size: int = 32):
    """Save a randomly initialised 2-layer Llama with `tokenizer_dir`'s tokenizer and chat template to `out`."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=2 * hidden_size, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, embedded_dir):
    """A random 2-layer Llama (hidden 32) with the embedded model's tokenizer and chat template (~7 MB)."""
    return make_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), embedded_dir)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_on_loopback(app):
    """Run an ASGI app with uvicorn on a free 127.0.0.1 port in a thread; yields its `/v1` base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        assert time.time() < deadline, "test server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(10)
