"""Turn raw setting values into typed sections with cattrs, collecting every problem.

Values come from TOML (already typed) or from the environment and the command line (always
strings), so each hook accepts both the native type and its text form. A hook raises
ValueError with a message that names the expected type and the value it got; `structure`
returns those messages as `Problem`s instead of stopping at the first.
"""

from collections.abc import Iterator, Mapping
from enum import Enum
from pathlib import Path
from typing import TypeVar

import cattrs
from cattrs.errors import ClassValidationError

from seshat_trio.config.errors import Problem
from seshat_trio.config.model import Address, Member
from seshat_trio.config.settings import all_settings

T = TypeVar("T")

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def _int(value: object, _: object) -> int:
    # bool is an int subclass; `heartbeat_ms = true` is a mistake, not 1.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected an integer, got {value!r}")


def _bool(value: object, _: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"expected a boolean (true or false), got {value!r}")


def _text(value: object, _: object) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(f"expected a string, got {value!r}")


def _path(value: object, _: object) -> Path:
    if isinstance(value, str | Path) and str(value).strip():
        return Path(value).expanduser()
    raise ValueError(f"expected a path, got {value!r}")


def _address(value: object, _: object) -> Address:
    if isinstance(value, Address):
        return value
    if isinstance(value, str):
        return Address.parse(value)
    raise ValueError(f"expected host:port, got {value!r}")


def _enum(value: object, cls: type[Enum]) -> Enum:
    if isinstance(value, str):
        for member in cls:
            if member.value == value.strip().lower():
                return member
    choices = ", ".join(str(member.value) for member in cls)
    raise ValueError(f"expected one of {choices}, got {value!r}")


def _member(id_value: object, address_value: object) -> Member:
    shown = f"{id_value}={address_value}"
    node_id = id_value if isinstance(id_value, int) else None
    if isinstance(id_value, str) and id_value.strip().isdecimal():
        node_id = int(id_value)
    if node_id is None or isinstance(id_value, bool):
        raise ValueError(f"member {shown!r}: id {id_value!r} is not an integer")
    try:
        return Member(node_id, _address(address_value, Address))
    except ValueError as exc:
        raise ValueError(f"member {shown!r}: {exc}") from None


def _member_items(value: object) -> Iterator[tuple[object, object]]:
    """(id, address) pairs from any accepted spelling; raises on a bad shape."""
    if isinstance(value, str):
        for item in filter(None, (part.strip() for part in value.split(","))):
            node_id, sep, address = item.partition("=")
            if not sep:
                raise ValueError(f"member {item!r}: expected id=host:port")
            yield node_id, address
        return
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                yield from _member_items(item)
            elif isinstance(item, Mapping) and set(item) == {"id", "address"}:
                yield item["id"], item["address"]
            else:
                raise ValueError(f"member {item!r}: expected {{id = N, address = 'host:port'}}")
        return
    if not isinstance(value, Mapping):
        raise TypeError(f"expected members as id=host:port,..., got {value!r}")
    yield from value.items()


def parse_members(value: object) -> tuple[Member, ...]:
    """Members from `"1=h:p,2=h:p"`, a TOML table `{1 = "h:p"}` or a list of either form
    or of `{id = 1, address = "h:p"}` tables. Duplicates are kept for validation to report."""
    members: list[Member] = []
    problems: list[Exception] = []
    try:
        for node_id, address in _member_items(value):
            try:
                members.append(_member(node_id, address))
            except ValueError as exc:
                problems.append(exc)
    except (ValueError, TypeError) as exc:
        problems.append(exc)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ExceptionGroup("invalid members", problems)
    return tuple(members)


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(detailed_validation=True)
    converter.register_structure_hook(int, _int)
    converter.register_structure_hook(bool, _bool)
    converter.register_structure_hook(str, _text)
    converter.register_structure_hook(Path, _path)
    converter.register_structure_hook(Address, _address)
    converter.register_structure_hook_func(
        lambda cls: cls == tuple[Member, ...], lambda value, _: parse_members(value)
    )
    for setting in all_settings():
        # One hook per enum type: cattrs' own enum hook would win over a predicate hook.
        if isinstance(setting.type, type) and issubclass(setting.type, Enum):
            converter.register_structure_hook(setting.type, _enum)
    return converter


_CONVERTER = _make_converter()


def structure(raw: Mapping[str, object], cls: type[T], section: str) -> T | list[Problem]:
    """The section built from `raw`, or every problem found in it."""
    try:
        return _CONVERTER.structure(raw, cls)
    except ClassValidationError as exc:
        return list(_problems(exc, section))


def _problems(exc: BaseException, path: str) -> Iterator[Problem]:
    if isinstance(exc, ClassValidationError):
        with_notes, without = exc.group_exceptions()
        for noted, note in with_notes:
            yield from _problems(noted, f"{path}.{note.name}")
        for plain in without:
            yield from _problems(plain, path)
    elif isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            yield from _problems(sub, path)
    elif isinstance(exc, KeyError):
        yield Problem(path, "required")
    else:
        yield Problem(path, str(exc))
