"""Response cache (zero calls on re-run, concurrent writers, corruption) and configuration errors."""

from __future__ import annotations

import multiprocessing
import os
import threading
from typing import Sequence

import pytest
from typer.testing import CliRunner

from memo.cli import app
from memo.config import ConfigError, load_config
from memo.llm import CachedChatModel, ChatModel, CorruptCacheError, GenParams, ResponseCache


class CountingEcho(ChatModel):
    """A deterministic backend that counts its calls (tests only)."""

    spec = "echo"
    batch_size = 4

    @property
    def identity(self) -> str:
        return "echo@1"

    def _generate(self, conversations: Sequence, params: GenParams) -> list[str]:
        self.usage.add(calls=len(conversations))
        return [f"{c[-1]['content']}|{params.seed}" for c in conversations]


def test_second_identical_run_makes_zero_calls(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    prompts = [f"q{i}" for i in range(10)]
    first = CachedChatModel(CountingEcho(), cache)
    out1 = first.chat_batch(prompts)
    assert first.usage.calls == 10
    second = CachedChatModel(CountingEcho(), ResponseCache(tmp_path / "c.sqlite"))
    assert second.chat_batch(prompts) == out1
    assert second.usage.calls == 0 and second.usage.cache_hits == 10


def test_sampled_calls_cached_per_seed(tmp_path):
    model = CachedChatModel(CountingEcho(), ResponseCache(tmp_path / "c.sqlite"))
    a = model.chat("q", GenParams(temperature=1.0, seed=1))
    b = model.chat("q", GenParams(temperature=1.0, seed=2))
    assert a != b and model.usage.calls == 2
    assert model.chat("q", GenParams(temperature=1.0, seed=1)) == a and model.usage.calls == 2


def test_parameters_and_schema_are_part_of_the_key():
    base = ResponseCache.key("m", "text", [{"role": "user", "content": "q"}], GenParams())
    assert base != ResponseCache.key("m", "text", [{"role": "user", "content": "q"}], GenParams(max_tokens=9))
    assert base != ResponseCache.key("m2", "text", [{"role": "user", "content": "q"}], GenParams())
    assert base != ResponseCache.key("m", "json", [{"role": "user", "content": "q"}], GenParams(), {"type": "x"})


def test_partial_batches_are_kept_when_a_run_dies(tmp_path):
    class DiesOnSecondChunk(CountingEcho):
        def _generate(self, conversations, params):
            if self.usage.calls >= 4:
                raise RuntimeError("killed")
            return super()._generate(conversations, params)

    model = CachedChatModel(DiesOnSecondChunk(), ResponseCache(tmp_path / "c.sqlite"))
    with pytest.raises(RuntimeError):
        model.chat_batch([f"q{i}" for i in range(8)])
    resumed = CachedChatModel(CountingEcho(), ResponseCache(tmp_path / "c.sqlite"))
    resumed.chat_batch([f"q{i}" for i in range(8)])
    assert resumed.usage.cache_hits == 4 and resumed.usage.calls == 4


def test_concurrent_writers_lose_nothing_threads(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    model = CachedChatModel(CountingEcho(), cache)
    threads = [threading.Thread(target=model.chat_batch, args=([f"t{t}-{i}" for i in range(50)],)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.stats()["entries"] == 400


def _write_from_process(path: str, worker: int) -> None:
    model = CachedChatModel(CountingEcho(), ResponseCache(path))
    for i in range(0, 100, 5):
        model.chat_batch([f"p{worker}-{j}" for j in range(i, i + 5)])


def test_concurrent_writers_lose_nothing_processes(tmp_path):
    path = str(tmp_path / "c.sqlite")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_from_process, args=(path, w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)  # generous: the machine is shared, and each child imports the whole CLI first
        assert p.exitcode == 0
    assert ResponseCache(path).stats()["entries"] == 400


def test_corrupt_cache_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "c.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CorruptCacheError, match="delete it"):
        ResponseCache(bad)


def test_a_damaged_cache_is_found_when_it_opens(tmp_path):
    import sqlite3

    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    cache.put_many([(f"k{i:05d}", "m", "x" * 900) for i in range(400)])
    del cache
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with path.open("r+b") as f:  # damage one page in the middle of the table; the file header stays intact
        f.seek(4096 * 60 + 100)
        f.write(b"\xff" * 2000)
    with pytest.raises(CorruptCacheError, match=r"is damaged .*page.*delete it \(or run `memo cache clear`\)") as info:
        ResponseCache(path)
    assert "\n" not in str(info.value)
    result = CliRunner().invoke(app, ["cache", "info"], env={"MEMO_CACHE": str(path)})
    assert result.exit_code == 1 and result.output.startswith("error:") and "memo cache clear" in result.output


def test_clearing_a_cache_damaged_after_it_opened_is_a_clear_error(tmp_path):
    import sqlite3

    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    cache.put_many([(f"k{i:05d}", "m", "x" * 900) for i in range(400)])
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with path.open("r+b") as f:  # damaged after it opened (its check passed): pages 11-90 overwritten
        f.seek(4096 * 10)
        f.write(b"\xff" * 4096 * 80)
    errors: list[BaseException] = []

    def clear() -> None:  # a new thread opens its own connection, which has no page cached from before
        try:
            cache.clear()
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=clear)
    worker.start()
    worker.join()
    assert len(errors) == 1 and isinstance(errors[0], CorruptCacheError), errors
    assert "is damaged" in str(errors[0]) and "delete it" in str(errors[0])


def test_the_cached_wrapper_has_the_inner_models_batch_size(tmp_path):
    model = CachedChatModel(CountingEcho(), ResponseCache(tmp_path / "c.sqlite"))
    assert model.batch_size == CountingEcho.batch_size == 4
    model.chat_batch([f"q{i}" for i in range(9)])
    assert model.usage.calls == 9


def test_config_file_env_and_errors(tmp_path, monkeypatch):
    (tmp_path / "memo.toml").write_text('[roles]\ngenerator = "ollama:qwen"\n[http]\nconcurrency = 3\n')
    cfg = load_config()
    assert cfg.roles.generator == "ollama:qwen" and cfg.roles.executive == "embedded" and cfg.http.concurrency == 3
    monkeypatch.setenv("MEMO_GENERATOR", "openai:gpt-4o-mini")
    monkeypatch.setenv("MEMO_CACHE", "off")
    cfg = load_config()
    assert cfg.spec_for("generator") == "openai:gpt-4o-mini" and cfg.cache_path() is None
    with pytest.raises(ConfigError, match="unknown role"):
        cfg.spec_for("painter")
    (tmp_path / "memo.toml").write_text("[roles\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config()
    (tmp_path / "memo.toml").write_text('[roles]\npainter = "x"\n')
    with pytest.raises(ConfigError, match="painter"):
        load_config()


def test_a_named_config_file_must_exist_and_its_generator_role_reaches_reflect(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="typo.toml does not exist"):
        load_config(tmp_path / "typo.toml")
    (tmp_path / "other.toml").write_text('[roles]\ngenerator = "ollama:qwen"\n')
    (tmp_path / "memo.toml").write_text('[roles]\ngenerator = "openai:gpt-4o-mini"\n')
    assert load_config(tmp_path / "other.toml").reflect_config().generator == "ollama:qwen"
    (tmp_path / "other.toml").write_text('[roles]\ngenerator = "ollama:qwen"\n[reflect]\ngenerator = "embedded"\n')
    assert load_config(tmp_path / "other.toml").reflect_config().generator == "embedded"  # [reflect] wins


@pytest.mark.parametrize("table", ['[reflect]\nchunk_tokens = "x"', '[train]\nmethod = "bogus"', "[eval]\ntop_k = 2.5"])
def test_stage_settings_of_the_wrong_type_fail_when_the_file_loads(tmp_path, table):
    (tmp_path / "memo.toml").write_text(table + "\n")
    with pytest.raises(ConfigError, match=table.split("]\n")[1].split(" =")[0]):
        load_config()


def test_doctor_renders_its_error_lines_and_keeps_brackets_of_the_problem(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no memo.toml
    monkeypatch.setenv("MEMO_CACHE", "off")
    for role in ("GENERATOR", "EXECUTIVE", "MEMORY_BASE", "JUDGE"):  # every role fails at once: nothing loads
        monkeypatch.setenv(f"MEMO_{role}", "nonsense[bold]spec")
    result = CliRunner().invoke(app, ["doctor"])
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert result.exit_code == 1 and errors, result.output
    assert "[bold red]" not in result.output
    assert all("nonsense[bold]spec" in line and "unknown model spec" in line for line in errors)
    rows = [line for line in result.output.splitlines() if "fails" in line]
    assert len(rows) == 4 and all("nonsense[bold]spec" in line for line in rows)


@pytest.mark.parametrize("command", [["recall", "no-memory", "q"], ["chat", "--model", "nonsense-spec", "hi"]])
def test_max_tokens_below_one_is_a_usage_error(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [*command, "--max-tokens", "0"])
    assert result.exit_code == 2 and "--max-tokens" in result.output and "Traceback" not in result.output


def test_doctor_help_gives_the_probe_length_it_sends(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # one help line per option
    result = CliRunner().invoke(app, ["doctor", "--help"])
    assert result.exit_code == 0 and "Send a 4-token request" in result.output  # max_tokens=4, as docs/BACKENDS.md


def test_cli_help_chat_and_errors(tiny_model_dir, monkeypatch):
    runner = CliRunner()
    assert runner.invoke(app, ["--help"]).exit_code == 0
    # The random model writes only special tokens: an empty answer is one clear error line, not a blank answer.
    result = runner.invoke(app, ["chat", "--model", f"hf:{tiny_model_dir}", "--max-tokens", "3", "hi"])
    last = result.output.strip().splitlines()[-1]  # (a weight-loading bar may come first)
    assert result.exit_code == 1 and last.startswith("error:") and "no text" in last
    result = runner.invoke(app, ["chat", "--model", "nonsense-spec", "hi"])
    assert result.exit_code == 1 and "unknown model spec" in result.output
    result = runner.invoke(app, ["doctor", "--no-probe"])
    assert result.exit_code == 0 and "response cache" in result.output
    monkeypatch.setenv("MEMO_JUDGE", "nonsense-spec")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1 and "unknown model spec" in result.output


@pytest.mark.parametrize("table, expected", [
    ("[train]\nmax_epoch = 3\n", "[train] unknown key(s): max_epoch (did you mean max_epochs?)"),
    ("[executive]\nentity_turn = 3\n", "[executive] entity_turn: unknown key (did you mean entity_turns?)"),
    ('[models."hf:x"]\nstructurd = "prompt"\n', "[models.hf:x] structurd: unknown key (did you mean structured?)"),
    ("[rolez]\nexecutive = 'x'\n", "[rolez]: unknown table (did you mean roles?)"),
    ("trian = 3\n", "trian: unknown top-level key, the top level holds tables (did you mean train?)"),
    ("[http]\ntimeout = 'x'\n", "[http] timeout: Input should be a valid number"),
])
def test_a_config_error_is_one_line_naming_the_table_key_and_the_closest_known_key(tmp_path, table, expected):
    path = tmp_path / "memo.toml"
    path.write_text(table)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert expected in str(err.value) and "\n" not in str(err.value)


def test_the_config_option_is_the_file_every_command_reads(tmp_path):
    """`memo --config F train ...`: the training reads F, not ./memo.toml (the API's own memo.toml reads too)."""
    import subprocess
    import sys

    (tmp_path / "memo.toml").write_text('[train]\nlr = "fast"\n')
    (tmp_path / "chosen.toml").write_text("[train]\nmax_epochs = 0\n")
    (tmp_path / "d.jsonl").write_text('{"question": "Where is Brenmoor?", "answer": "North."}\n')
    run = subprocess.run([sys.executable, "-m", "memo", "--config", "chosen.toml", "train", "d.jsonl", "-o", "m"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if k != "MEMO_CONFIG"})
    assert run.returncode == 1 and "chosen.toml: [train]" in run.stderr
    assert "max_epochs must be at least 1, not 0" in run.stderr
    assert not (tmp_path / "m").exists()


def test_atomic_writes_get_the_permissions_of_a_plain_write(tmp_path):
    """mkstemp makes 0600 files and mkdtemp 0700 folders; a memory or reflections must be as readable as anything
    else the user writes."""
    from memo.paths import atomic_dir, atomic_write_text

    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic_write_text(tmp_path / "atomic.txt", "x")
    assert (tmp_path / "atomic.txt").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    (tmp_path / "plain_dir").mkdir()
    with atomic_dir(tmp_path / "atomic_dir") as tmp:
        (tmp / "x").write_text("x")
    assert (tmp_path / "atomic_dir").stat().st_mode & 0o777 == (tmp_path / "plain_dir").stat().st_mode & 0o777


def test_an_output_folder_replaces_only_an_earlier_output_never_other_files(tmp_path, monkeypatch):
    from memo.paths import atomic_dir

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    a_file = tmp_path / "file.txt"
    a_file.write_text("keep me too")
    for target in (notes, a_file):
        with pytest.raises(FileExistsError, match="choose a new output path"):
            with atomic_dir(target, "manifest.json") as tmp:
                (tmp / "manifest.json").write_text("{}")
    assert (notes / "todo.txt").read_text() == "keep me" and a_file.read_text() == "keep me too"
    empty = tmp_path / "empty"
    empty.mkdir()
    for _ in range(2):  # an empty folder, then the earlier output holding its manifest, are replaced
        with atomic_dir(empty, "manifest.json") as tmp:
            (tmp / "manifest.json").write_text("{}")
    assert [p.name for p in empty.iterdir()] == ["manifest.json"]
    monkeypatch.chdir(notes)  # "-o ." is the current folder, here one of other files
    with pytest.raises(FileExistsError, match=str(notes)):
        with atomic_dir(".", "manifest.json"):
            pass
    # with a format, a folder holding another program's manifest.json is not an earlier output
    for text in ('{"name": "my-webapp"}', "[]", "not json", '{"format": "memo-other/1"}'):
        (notes / "manifest.json").write_text(text)
        with pytest.raises(FileExistsError, match="of format memo-test/1"):
            with atomic_dir(notes, "manifest.json", "memo-test/1"):
                pass
    assert (notes / "todo.txt").read_text() == "keep me"
    (empty / "manifest.json").write_text('{"format": "memo-test/1"}')  # an earlier output of that format
    with atomic_dir(empty, "manifest.json", "memo-test/1") as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in empty.iterdir()) == ["new.txt"]
