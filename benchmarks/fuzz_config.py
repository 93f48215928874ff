"""Fuzzed config files against the loader: every one must end in a Config or a ConfigError.

    python -m benchmarks.fuzz_config --files 10000 [--seed 7]

Writes each file in turn into a copy of the example config (as `program.yaml`, `pairings.yaml`
or `pairings.csv`) and loads it, timing each load. The files are made from a seeded generator,
so a run with the same seed and count tries the same files: the example files with bytes
flipped, cut short, control characters or random bytes put in, re-encoded (UTF-16 or UTF-32
with and without a byte order mark, Latin-1); hostile YAML spliced into them (deep nesting,
aliases of aliases, an alias inside itself, long numbers, tags, complex and duplicate keys);
files of random bytes; and files near and over the size limit.

Prints the files tried, loaded, rejected with a ConfigError, the tracebacks (any other
exception, the first few listed), the slowest file and how many took over a second.

The builders of hostile text are also what tests/test_config_fuzz.py draws from.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

from worker.config import ConfigError, load_config
from worker.config.located import MAX_FILE_BYTES
from worker.core.paths import default_config_dir

TODAY = date(2027, 1, 4)
TARGETS = ("program.yaml", "pairings.yaml", "pairings.csv")
CONTROL = "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\x9b\ufeff\ufffe\u2028"
SLOW_SECONDS = 1.0


def example(target: str) -> bytes:
    """The example config's file for `target` (the CSV is the example export)."""
    name = "pairings.example.csv" if target == "pairings.csv" else target
    return (default_config_dir() / name).read_bytes()


# Hostile YAML, each a function of a few sizes so that a test can draw them.

def deep_nesting(depth: int, *, flow: bool = True) -> str:
    """A value nested `depth` levels deep, as `[[[...]]]` or as indented block mappings."""
    if flow:
        return "[" * depth + "]" * depth
    return "".join(f"{'  ' * level}k{level}:\n" for level in range(depth)) + "  " * depth + "v\n"


def alias_bomb(width: int, levels: int) -> str:
    """Billion laughs: each level a list of `width` aliases of the level before."""
    lines = ['a0: &a0 ["lol"]']
    for level in range(1, levels + 1):
        items = ", ".join(f"*a{level - 1}" for _ in range(width))
        lines.append(f"a{level}: &a{level} [{items}]")
    return "\n".join(lines) + "\n"


def recursive_alias(kind: int) -> str:
    """An alias inside the value it names, as a list, a mapping or a merge key."""
    return ("loop: &x [1, *x]\n", "loop: &x {a: *x}\n", "loop: &x {<<: *x}\n")[kind % 3]


def long_number(digits: int, *, sign: str = "", fraction: bool = False) -> str:
    number = sign + "9" * digits
    return number + ".5" if fraction else number


TAGGED = ("!!int abc", "!!int ''", "!!int 0x1g", "!!float x", "!!float ''", "!!bool maybe",
          "!!binary '@@@'", "!!timestamp nope", "!!null x", "!!python/object:os.system x",
          "!foo bar", "!!set {a, b}", "!!omap [a: 1]", "!!pairs [a: 1]", "!!str 12",
          "!!map [1]", "!!seq {a: 1}", "!<tag:yaml.org,2002:int> 12")
FRAGMENTS = ("? [a, b]\n: c\n", "? {a: b}\n: c\n", "id: x\nid: y\n", "<<: 5\n",
             "<<: [*u]\n", "*undefined\n", "&a x: &a y\n", "--- a\n--- b\n", "%YAML 9.9\n---\na\n",
             "'unterminated\n", "{a: [}\n", "a: b: c\n", "\t- tab\n", "? \n", "- [a\n",
             '"\\x00"\n', 'k: "\\ud800"\n', 'k: "\\x1b[2J"\n', "k: \"\\u0007\"\n", "~: 1\n",
             "1: a\n01: b\n", "true: x\n", "2027-13-45: x\n", "!!binary AAAA: x\n")


def hostile_yaml(rng: random.Random) -> str:
    """One hostile YAML fragment of random size."""
    pick = rng.randrange(6)
    if pick == 0:
        if rng.random() < 0.7:
            depth = rng.choice((10, 33, 1000, rng.randrange(1, 400_000)))
            return "k: " + deep_nesting(depth) + "\n"
        return deep_nesting(rng.randrange(1, 300), flow=False)
    if pick == 1:
        return alias_bomb(rng.randrange(2, 12), rng.randrange(1, 12))
    if pick == 2:
        return recursive_alias(rng.randrange(3))
    if pick == 3:
        digits = rng.choice((20, 4300, 4301, 5000, rng.randrange(1, 100_000)))
        number = long_number(digits, sign=rng.choice(("", "-", "+")), fraction=rng.random() < 0.3)
        return f"duration_minutes: {number}\n"
    if pick == 4:
        return f"k: {rng.choice(TAGGED)}\n"
    return rng.choice(FRAGMENTS)


CSV_FRAGMENTS = ('"unbalanced,quote\n', "id,id,mentor,mentee,start\n", "id\tmentor\tmentee\n",
                 ",,,,,,,,,,,,,,,,,,,,x\n", '"a""b",c\r\n', "\r\r\r", "id;mentor;mentee;start\n")


def hostile_csv(rng: random.Random) -> str:
    """One hostile CSV line: broken quoting, a cell past the csv module's field limit, ..."""
    pick = rng.randrange(4)
    if pick == 0:
        return '"' + "x" * rng.choice((1000, 140_000)) + '",b\n'
    if pick == 1:
        return ",".join("c" * rng.randrange(1, 5) for _ in range(rng.randrange(1, 5000))) + "\n"
    if pick == 2:
        return f"p,a@b.cd,e@f.gh,{long_number(rng.randrange(1, 10_000))},active\n"
    return rng.choice(CSV_FRAGMENTS)


# Mutations of a file's bytes.

def flip_bytes(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randrange(1, 8)):
        if out:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[:rng.randrange(len(data) + 1)]


def insert_control(rng: random.Random, data: bytes) -> bytes:
    text = data.decode("utf-8")
    for _ in range(rng.randrange(1, 4)):
        at = rng.randrange(len(text) + 1)
        text = text[:at] + rng.choice(CONTROL) + text[at:]
    return text.encode("utf-8", "surrogatepass")


def insert_random_bytes(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.randbytes(rng.randrange(1, 64)) + data[at:]


def splice_hostile(rng: random.Random, data: bytes) -> bytes:
    lines = data.decode("utf-8").splitlines(keepends=True)
    at = rng.randrange(len(lines) + 1)
    looks_csv = b"," in data[:200] and b": " not in data[:400]
    fragment = hostile_csv(rng) if looks_csv and rng.random() < 0.6 else hostile_yaml(rng)
    if rng.random() < 0.5 and at < len(lines) and ":" in lines[at]:
        # In place of a value, keeping the key and its indentation.
        key = lines[at].split(":", 1)[0]
        lines[at] = f"{key}: {fragment.split(': ', 1)[-1]}"
    else:
        lines.insert(at, fragment)
    return "".join(lines).encode("utf-8", "surrogatepass")


def re_encode(rng: random.Random, data: bytes) -> bytes:
    text = data.decode("utf-8").replace("Leadership", "Leadérship").replace("ceo", "céo")
    codec = rng.choice(("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "latin-1",
                        "cp1252", "utf-8-sig"))
    return text.encode(codec)


def random_bytes(rng: random.Random, data: bytes) -> bytes:
    head = rng.choice((b"", b"\x89PNG\r\n\x1a\n", b"PK\x03\x04", b"\x7fELF", b"\xff\xfe"))
    return head + rng.randbytes(rng.randrange(0, 4096))


def near_the_limit(rng: random.Random, data: bytes) -> bytes:
    """The file repeated (or padded with comments, or one long list) up to about the cap."""
    size = rng.choice((MAX_FILE_BYTES - 100, MAX_FILE_BYTES + 1, rng.randrange(MAX_FILE_BYTES)))
    pick = rng.randrange(3)
    if pick == 0:
        return (data * (size // max(len(data), 1) + 1))[:size]
    if pick == 1:
        return data + b"#" * max(size - len(data), 0)
    return b"k: [" + b"1, " * (size // 3) + b"1]\n"


Mutation = Callable[[random.Random, bytes], bytes]
MUTATIONS: dict[str, Mutation] = {
    "flip bytes": flip_bytes, "truncate": truncate, "control characters": insert_control,
    "random bytes inserted": insert_random_bytes, "hostile text": splice_hostile,
    "re-encoded": re_encode, "random bytes": random_bytes, "near the size limit": near_the_limit,
}
WEIGHTS = (20, 10, 12, 10, 30, 8, 6, 4)


def fuzzed_file(rng: random.Random) -> tuple[str, str, bytes]:
    """(target file, mutation, content) for one try."""
    target = rng.choice(TARGETS)
    name = rng.choices(list(MUTATIONS), WEIGHTS)[0]
    data = example(target)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        data = MUTATIONS[name](rng, data) if _ == 0 else flip_bytes(rng, data)
    return target, name, data


def config_dir_for(root: Path, target: str) -> Path:
    """A copy of the example config in which `target` is the file to overwrite."""
    directory = root / target.replace(".", "-")
    directory.mkdir()
    shutil.copy(default_config_dir() / "program.yaml", directory / "program.yaml")
    if target == "pairings.csv":
        shutil.copy(default_config_dir() / "pairings.example.csv", directory / "pairings.csv")
    else:
        shutil.copy(default_config_dir() / "pairings.yaml", directory / "pairings.yaml")
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    outcomes: Counter[str] = Counter()
    tracebacks: list[str] = []
    slowest, slowest_what = 0.0, ""
    slow = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        directories = {target: config_dir_for(Path(tmp), target) for target in TARGETS}
        load_config(directories["program.yaml"], today=TODAY)  # imports and caches, untimed
        for number in range(args.files):
            target, mutation, data = fuzzed_file(rng)
            directory = directories[target]
            (directory / target).write_bytes(data)
            begin = time.perf_counter()
            try:
                load_config(directory, today=TODAY)
                outcomes["loaded"] += 1
            except ConfigError as exc:
                outcomes["rejected"] += 1
                if not exc.problems or any(not problem.file for problem in exc.problems):
                    tracebacks.append(f"#{number} {target} ({mutation}): a problem with no file")
            except Exception:  # noqa: BLE001 - counting what escapes is the point
                outcomes["traceback"] += 1
                tracebacks.append(f"#{number} {target} ({mutation}):\n"
                                  + traceback.format_exc(limit=-3))
            took = time.perf_counter() - begin
            if took > slowest:
                slowest = took
                slowest_what = f"#{number} {target} ({mutation}, {len(data):,} bytes)"
            slow += took > SLOW_SECONDS
    print(f"files tried:               {args.files:,} (seed {args.seed})")
    print(f"loaded OK:                 {outcomes['loaded']:,}")
    print(f"rejected with ConfigError: {outcomes['rejected']:,}")
    print(f"tracebacks:                {len(tracebacks):,}")
    for entry in tracebacks[:5]:
        print("  " + entry.replace("\n", "\n  "))
    print(f"slowest file:              {slowest * 1000:.0f} ms, {slowest_what}")
    print(f"files over {SLOW_SECONDS:.0f} s:           {slow}")
    print(f"total time:                {time.perf_counter() - started:.0f} s")
    return 1 if tracebacks or slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
