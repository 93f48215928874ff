"""Any bytes in a config file end in a Config or in located problems, quickly, never a traceback.

Property-based: random bytes, and the example files mutated (bytes flipped, cut short, control
characters and hostile YAML or CSV put in, re-encoded), for each of program.yaml, pairings.yaml
and pairings.csv. The hostile pieces are the fuzz benchmark's (benchmarks/fuzz_config.py), drawn
here with sizes Hypothesis chooses and shrinks. Then the hostile cases one by one, with the
message each must get, and `mentoring validate` and `plan` on hostile files as a real process.
"""

from __future__ import annotations

import codecs
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz_config import (
    CONTROL,
    CSV_FRAGMENTS,
    FRAGMENTS,
    TAGGED,
    TARGETS,
    alias_bomb,
    config_dir_for,
    deep_nesting,
    example,
    long_number,
    recursive_alias,
)
from worker.config import Config, ConfigError, load_config, yaml_source
from worker.config.loader import MAX_PROBLEMS
from worker.config.located import MAX_FILE_BYTES, MAX_VALUES
from worker.config.yaml_source import MAX_DEPTH

TODAY = date(2027, 1, 4)
ONE_SECOND = 1.0
FUZZ = settings(max_examples=120, deadline=timedelta(seconds=1),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def directories(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A copy of the example config per target file; each example overwrites its file."""
    root = tmp_path_factory.mktemp("fuzz")
    return {target: config_dir_for(root, target) for target in TARGETS}


def outcome(directory: Path) -> Config | ConfigError:
    """Load, allowing only a Config or a ConfigError whose problems all name a file of the
    config and print as plain lines; anything else escapes and fails the test."""
    try:
        return load_config(directory, today=TODAY)
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.file.startswith(str(directory)), problem
            assert problem.line is None or problem.line >= 1
            assert problem.column is None or (problem.line is not None and problem.column >= 1)
            assert str(problem).isprintable(), repr(str(problem))
        return exc


def load_as(directories: dict[str, Path], target: str, data: bytes) -> Config | ConfigError:
    directory = directories[target]
    (directory / target).write_bytes(data)
    try:
        return outcome(directory)
    finally:
        (directory / target).write_bytes(example(target))


def problems(result: Config | ConfigError) -> list[str]:
    assert isinstance(result, ConfigError), "expected the config to be refused"
    return [str(problem) for problem in result.problems]


hostile_yaml = st.one_of(
    st.integers(1, 3000).map(lambda depth: f"k: {deep_nesting(depth)}\n"),
    st.integers(1, 60).map(lambda depth: "k:\n" + deep_nesting(depth, flow=False)),
    st.builds(alias_bomb, st.integers(1, 10), st.integers(1, 10)),
    st.integers(0, 2).map(recursive_alias),
    st.builds(lambda digits, sign: f"duration_minutes: {long_number(digits, sign=sign)}\n",
              st.integers(1, 6000), st.sampled_from(("", "-", "+"))),
    st.sampled_from(TAGGED).map(lambda tagged: f"k: {tagged}\n"),
    st.sampled_from(FRAGMENTS),
)
hostile_csv = st.one_of(st.sampled_from(CSV_FRAGMENTS),
                        st.integers(1, 150_000).map(lambda size: f'"{"x" * size}",b\n'))


@st.composite
def mutated(draw: st.DrawFn, target: str) -> bytes:
    """The example file for `target` after one to three mutations."""
    data = example(target)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(("flip", "truncate", "control", "bytes", "splice")))
        at = draw(st.integers(0, len(data)))
        if kind == "flip" and data:
            index = min(at, len(data) - 1)
            data = data[:index] + bytes([draw(st.integers(0, 255))]) + data[index + 1:]
        elif kind == "truncate":
            data = data[:at]
        elif kind == "control":
            data = data[:at] + draw(st.sampled_from(CONTROL)).encode("utf-8") + data[at:]
        elif kind == "bytes":
            data = data[:at] + draw(st.binary(min_size=1, max_size=32)) + data[at:]
        else:
            lines = data.splitlines(keepends=True)
            line = draw(st.integers(0, len(lines)))
            piece = draw(hostile_csv if target.endswith(".csv") else hostile_yaml)
            data = b"".join([*lines[:line], piece.encode("utf-8"), *lines[line:]])
    return data


@FUZZ
@given(target=st.sampled_from(TARGETS), data=st.binary(max_size=4096))
def test_random_bytes_are_refused_with_located_problems(
        directories: dict[str, Path], target: str, data: bytes) -> None:
    load_as(directories, target, data)


@FUZZ
@given(target=st.sampled_from(TARGETS), data=st.data())
def test_mutated_example_files_load_or_are_refused(
        directories: dict[str, Path], target: str, data: st.DataObject) -> None:
    load_as(directories, target, data.draw(mutated(target)))


@settings(FUZZ, max_examples=60)
@given(target=st.sampled_from(TARGETS), text=st.text(max_size=400),
       encoding=st.sampled_from(("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32",
                                 "latin-1")))
def test_any_text_in_any_encoding_is_refused_or_loaded(
        directories: dict[str, Path], target: str, text: str, encoding: str) -> None:
    load_as(directories, target, text.encode(encoding, "replace"))


def timed(directories: dict[str, Path], target: str, data: bytes) -> list[str]:
    # CPU time, not wall time: a bomb costs minutes of CPU, and other processes on a loaded
    # machine must not make a quick refusal look slow.
    started = time.process_time()
    result = load_as(directories, target, data)
    assert time.process_time() - started < ONE_SECOND
    return problems(result)


def test_an_alias_bomb_is_refused_within_a_second(directories: dict[str, Path]) -> None:
    bomb = example("program.yaml") + alias_bomb(9, 9).encode()
    (message,) = timed(directories, "program.yaml", bomb)
    # Where the count passes the limit: on the bomb's seventh line, its sixth level of aliases.
    line = example("program.yaml").count(b"\n") + 7
    assert re.search(rf"program\.yaml:{line}:\d+: more than {MAX_VALUES:,} values, counting",
                     message), message


def test_aliases_within_the_limits_are_read_where_the_anchor_is(
        directories: dict[str, Path]) -> None:
    pairings = (b"days: &days [tue, wed]\n" + example("pairings.yaml")
                .replace(b"status: active\n", b"status: active\n    tailoring:\n"
                                              b"      preferred_weekdays: *days\n", 1))
    result = load_as(directories, "pairings.yaml", pairings)
    assert problems(result) == [f"{directories['pairings.yaml'] / 'pairings.yaml'}:1:1: "
                                "unknown key 'days' (valid keys: pairings, people)"]


@pytest.mark.parametrize(("text", "expected"), [
    # The top-level mapping is the first level; the 32nd bracket would open the 33rd.
    (f"k: {deep_nesting(MAX_DEPTH)}\n", f":1:{MAX_DEPTH + 3}: values nested more than 32"),
    (deep_nesting(40, flow=False), f":{MAX_DEPTH + 1}:{2 * MAX_DEPTH + 1}: values nested"),
    # libyaml looks far ahead in a flow and stops at its own limit first ("nesting depth").
    (f"k: {deep_nesting(200_000)}\n"[:MAX_FILE_BYTES], " nest"),
    ("a: &a [1, *a]\n", ":1:11: alias *a is used inside the value it names"),
    ("a: &a {b: {<<: *a}}\n", ":1:16: alias *a is used inside the value it names"),
    ("duration_minutes: " + long_number(5000) + "\n",
     ":1:19: a number of 5000 digits is longer than the 4300 digits a number may have"),
    (f"? {long_number(5000)}\n: 1\n", ":1:3: a number of 5000 digits is longer"),
    ("? [a, b]\n: c\n", ":1:3: a key must be a plain value, not a list or mapping"),
    ("k: !!int abc\n", ":1:4: cannot read 'abc' as !!int"),
    ("k: !!bool maybe\n", ":1:4: cannot read 'maybe' as !!bool"),
    ("k: !!float ''\n", ":1:4: cannot read '' as !!float"),
    ('name: "a\\x00b"\n', ":1:7: control character U+0000 in a value"),
    ('name: "\\x1b[2J"\n', ":1:7: control character U+001B in a value"),
    ("id: x\nid: y\n", ":2:1: duplicate key 'id'"),
    ("k: !!python/object:os.system x\n", ":1:4: YAML syntax error: could not determine"),
    ("\x1b[2J: 1\n", ":1:1: control character U+001B is not allowed"),
    ("id: x\n\tname: y\n", ":2:1: YAML syntax error: found "),
    ("id: x\n\tname: y\n", " (indent with spaces: YAML does not allow a tab there)"),
])
@pytest.mark.parametrize("parser", ["libyaml", "pure Python"])
def test_hostile_yaml_gets_one_located_message(
        directories: dict[str, Path], monkeypatch: pytest.MonkeyPatch, parser: str, text: str,
        expected: str) -> None:
    if parser == "pure Python":
        monkeypatch.setattr(yaml_source, "_Parser", yaml_source.PurePythonParser)
    messages = timed(directories, "program.yaml", text.encode("utf-8", "surrogatepass"))
    assert any(expected in message for message in messages), messages


def test_utf16_and_utf32_with_a_byte_order_mark_load_like_utf8(
        directories: dict[str, Path]) -> None:
    for target in TARGETS:
        text = example(target).decode("utf-8")
        for encoding in ("utf-8-sig", "utf-16", "utf-16-be", "utf-32"):
            data = text.encode(encoding)
            if encoding == "utf-16-be":
                data = codecs.BOM_UTF16_BE + data
            assert isinstance(load_as(directories, target, data), Config), (target, encoding)


def test_other_encodings_are_refused_naming_the_one_to_save_as(
        directories: dict[str, Path]) -> None:
    program = example("program.yaml").decode("utf-8").replace("Leadership", "Leadérship")
    (latin,) = problems(load_as(directories, "program.yaml", program.encode("latin-1")))
    assert latin.endswith(":9:11: not UTF-8 text: bytes e9 cannot be read (save the file as "
                          'UTF-8 (a spreadsheet\'s "CSV UTF-8" export) and try again)')
    (no_mark,) = problems(load_as(directories, "pairings.csv",
                                  example("pairings.csv").decode().encode("utf-16-le")))
    assert "file looks like UTF-16 text without a byte order mark (save the file as" in no_mark


def test_binary_and_oversized_files_are_refused_before_parsing(
        directories: dict[str, Path]) -> None:
    (binary,) = timed(directories, "pairings.csv", b"id,mentor\nab\x00\x00\x00cd\n")
    assert binary.endswith(":2:3: NUL character (and 2 more control characters) (this looks "
                           "like a binary file, not text; save the file as UTF-8 (a "
                           'spreadsheet\'s "CSV UTF-8" export) and try again)')
    big = example("pairings.yaml") + b"#" * MAX_FILE_BYTES
    (oversized,) = timed(directories, "pairings.yaml", big)
    assert oversized.endswith(f"pairings.yaml: file is larger than {MAX_FILE_BYTES // 1024:,} KiB "
                              "(a config file holds "
                              "a few kilobytes per hundred pairings; is this the right file?)")


def test_csv_columns_named_twice_or_too_many_are_problems(directories: dict[str, Path]) -> None:
    twice = b"id,mentor,mentee,start,mentor\n"
    assert any(":1:5: column 'mentor' appears twice (first as column 2" in message
               for message in problems(load_as(directories, "pairings.csv", twice)))
    (wide,) = timed(directories, "pairings.csv", b",".join([b"c"] * 10_000) + b"\n")
    assert ":1: the header row has 10,000 columns" in wide
    strays = b"id,mentor,mentee,start\none,a@contoso.com,b@contoso.com,2027-01-11,x,y,z\n"
    assert any(":2:5: value in a column with no known header (and 2 more in this row)" in m
               for m in problems(load_as(directories, "pairings.csv", strays)))


def test_a_file_of_countless_mistakes_lists_the_first_thousand(
        directories: dict[str, Path]) -> None:
    keys = "".join(f"key{number}: 1\n" for number in range(3000)).encode()
    messages = timed(directories, "program.yaml", keys)
    assert len(messages) == MAX_PROBLEMS + 1
    assert messages[-1].endswith(f": more than {MAX_PROBLEMS:,} problems: checking stopped "
                                 "(fix these and validate again)")


@pytest.fixture
def pure_python_parser(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(yaml_source, "_Parser", yaml_source.PurePythonParser)
    yield


@pytest.mark.usefixtures("pure_python_parser")
def test_without_libyaml_the_same_files_give_the_same_results(
        directories: dict[str, Path]) -> None:
    assert isinstance(load_as(directories, "program.yaml", example("program.yaml")), Config)
    bomb = example("program.yaml") + alias_bomb(9, 9).encode()
    assert f"more than {MAX_VALUES:,} values" in timed(directories, "program.yaml", bomb)[0]
    deep = f"k: {deep_nesting(5000)}\n".encode()
    assert "values nested more than 32 levels deep" in timed(directories, "program.yaml", deep)[0]
    assert ":1:11: alias *a is used inside" in problems(
        load_as(directories, "program.yaml", b"a: &a [1, *a]\n"))[0]


HOSTILE = {
    "alias bomb": ("program.yaml", example("program.yaml") + alias_bomb(9, 9).encode()),
    "deep nesting": ("pairings.yaml", f"pairings: {deep_nesting(100_000)}\n".encode()),
    "long number": ("program.yaml", f"duration_minutes: {long_number(5000)}\n".encode()),
    "binary": ("pairings.csv", bytes(range(256)) * 8),
    "latin-1": ("pairings.csv", "id,mentor\nmär,x\n".encode("latin-1")),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_validate_exits_2_with_messages_and_no_traceback(tmp_path: Path, name: str) -> None:
    target, data = HOSTILE[name]
    directory = config_dir_for(tmp_path, target)
    (directory / target).write_bytes(data)
    result = subprocess.run([sys.executable, "-m", "worker", "--config", str(directory),  # noqa: S603
                             "validate"], capture_output=True, text=True, timeout=60, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    assert f"error: {directory / target}:" in result.stdout


def test_plan_exits_2_on_a_hostile_config_before_any_graph_call(tmp_path: Path) -> None:
    target, data = HOSTILE["alias bomb"]
    directory = config_dir_for(tmp_path, target)
    (directory / target).write_bytes(data)
    env = {key: value for key, value in os.environ.items() if not key.startswith("MENTORING_")}
    env.update({"MENTORING_TENANT_ID": "00000000-0000-0000-0000-000000000001",
                "MENTORING_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
                "MENTORING_CLIENT_SECRET": "not-used", "MENTORING_CONFIG_DIR": str(directory),
                # Unreachable on purpose: a config error must stop the run before any call.
                "MENTORING_GRAPH_URL": "http://127.0.0.1:9",
                "MENTORING_AUTHORITY_HOST": "http://127.0.0.1:9"})
    result = subprocess.run([sys.executable, "-m", "worker", "plan"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"more than {MAX_VALUES:,} values" in result.stderr
