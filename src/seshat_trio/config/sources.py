"""Read raw setting values from each source: the TOML file, the environment, CLI overrides.

Each reader returns `{dotted key: RawValue}` plus the problems it found. Unknown sections,
keys and `SESHAT_*` variables are problems, never ignored, because a typo that is silently
dropped leaves the node running with a value its operator did not choose. Values stay raw
(TOML-typed or strings) here; `parse` gives them types.
"""

import difflib
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs

from seshat_trio.config.errors import Problem
from seshat_trio.config.settings import ENV_PREFIX, by_dotted, by_env, sections


@attrs.frozen
class RawValue:
    value: object
    origin: str  # where it came from, for error messages: a file, a variable or a flag


Values = dict[str, RawValue]


def _suggest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return f"; did you mean {close[0]}?" if close else ""


def read_file(path: Path) -> tuple[Values, list[Problem]]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return {}, [Problem("", f"cannot read config file {path}: {exc.strerror or exc}")]
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return {}, [Problem("", f"{path}: invalid TOML: {exc}")]
    values: Values = {}
    problems: list[Problem] = []
    known = sections()
    for name, table in document.items():
        if name not in known:
            hint = _suggest(name, known)
            problems.append(Problem("", f"{path}: unknown section [{name}]{hint}"))
        elif not isinstance(table, dict):
            problems.append(Problem("", f"{path}: {name} must be a table ([{name}])"))
        else:
            for key, value in table.items():
                dotted = f"{name}.{key}"
                if dotted in by_dotted():
                    values[dotted] = RawValue(value, str(path))
                else:
                    hint = _suggest(dotted, by_dotted())
                    problems.append(Problem("", f"{path}: unknown key {dotted}{hint}"))
    return values, problems


def read_env(env: Mapping[str, str]) -> tuple[Values, list[Problem]]:
    values: Values = {}
    problems: list[Problem] = []
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        found = by_env().get(name)
        if found is None:
            hint = _suggest(name, by_env())
            problems.append(Problem("", f"unknown environment variable {name}{hint}"))
        else:
            values[found.dotted] = RawValue(value, name)
    return values, problems


def read_overrides(overrides: Mapping[str, object]) -> tuple[Values, list[Problem]]:
    """Overrides are keyed by dotted name; their origin is the setting's CLI flag."""
    values: Values = {}
    problems: list[Problem] = []
    for dotted, value in overrides.items():
        found = by_dotted().get(dotted)
        if found is None:
            problems.append(Problem("", f"unknown setting {dotted}{_suggest(dotted, by_dotted())}"))
        else:
            values[dotted] = RawValue(value, found.flag)
    return values, problems
