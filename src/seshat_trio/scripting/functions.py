"""Function libraries as cluster state: the system group's sections and operations, and each
node's view of them.

Redis persists function libraries (they are in its RDB and replicated), so here they are
system-group state, durable and in snapshots, the same on every node: one section per
library, `function_library:<name>`, holding its code and what it registers (functions,
flags, descriptions), so that listing and checking names never runs Lua. FUNCTION LOAD,
DELETE, FLUSH and RESTORE are operations (`function_load`, ...) every node applies alike:
the library's code runs (under an instruction budget, see runtime.py) where the operation
applies, so every node refuses or accepts it the same way, with Redis's errors.

FCALL does not read this state at apply: the node that proposes a write FCALL puts the
library's code in the data entry (commands resolve the function here, in `FunctionView`),
so every node runs exactly the same code whatever its system group has applied so far,
and a data group of any shard can run any function.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from seshat_trio.protocol import Reply, SimpleString
from seshat_trio.scripting.flags import FLAG_NAMES, LibraryHeader, ShebangError, library_header
from seshat_trio.scripting.flags import valid_name as _valid_name
from seshat_trio.scripting.runtime import ScriptError, runtime
from seshat_trio.system import OperationRefused, SystemState, encode_operation, register_operation

PREFIX = "function_library:"
ENGINE = "LUA"
BAD_NAME = (
    "ERR Library names can only contain letters, numbers, or underscores(_) and must be at "
    "least one character long"
)
OK = SimpleString("OK")


@attrs.frozen(slots=True)
class FunctionInfo:
    name: str
    description: str | None
    flags: tuple[str, ...]  # in Redis's order of flags


@attrs.frozen(slots=True)
class LibraryInfo:
    name: str
    code: bytes
    functions: tuple[FunctionInfo, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code.decode("latin-1"),
            "functions": [
                {"name": f.name, "description": f.description, "flags": list(f.flags)}
                for f in self.functions
            ],
        }

    @classmethod
    def from_json(cls, name: str, doc: Mapping[str, Any]) -> LibraryInfo:
        return cls(
            name,
            str(doc["code"]).encode("latin-1"),
            tuple(
                FunctionInfo(str(f["name"]), f["description"], tuple(f["flags"]))
                for f in doc["functions"]
            ),
        )


def parse_header(code: bytes) -> LibraryHeader:
    """The `#!lua name=...` line, checked as Redis checks it before running anything."""
    try:
        header = library_header(code)
    except ShebangError as exc:
        raise OperationRefused(f"ERR {exc}") from None
    if not _valid_name(header.name):
        raise OperationRefused(BAD_NAME)
    if header.engine.upper() != ENGINE:
        raise OperationRefused(f"ERR Engine '{header.engine}' not found")
    return header


def create(header: LibraryHeader, code: bytes) -> LibraryInfo:
    """Run the library's code: what it registers (OperationRefused with Redis's error)."""
    try:
        library = runtime().library(header, code)
    except ScriptError as exc:
        raise OperationRefused(str(exc)) from None
    return LibraryInfo(
        header.name,
        code,
        tuple(
            FunctionInfo(
                f.name, f.description, tuple(flag for flag in FLAG_NAMES if flag in f.flags)
            )
            for f in library.functions
        ),
    )


def libraries(state: SystemState) -> Iterator[LibraryInfo]:
    for section in sorted(state.names()):
        if section.startswith(PREFIX):
            doc = state.section(section)
            assert isinstance(doc, dict)
            yield LibraryInfo.from_json(section[len(PREFIX) :], doc)


def _join(
    state: SystemState, new: list[LibraryInfo], *, replace: bool, quoted: bool
) -> dict[str, Any]:
    """Redis's libraryJoin / functionsCreateWithLibraryCtx: `new` added to the libraries,
    replacing those of the same names when `replace`; a function name may be registered
    once in all (case-insensitive)."""
    current = {library.name: library for library in libraries(state)}
    for library in new:
        if library.name in current and not replace:
            name = f"'{library.name}'" if quoted else library.name
            raise OperationRefused(f"ERR Library {name} already exists")
    kept = [library for name, library in current.items() if name not in {n.name for n in new}]
    taken = {f.name.lower() for library in kept for f in library.functions}
    for library in new:
        for function in library.functions:
            if function.name.lower() in taken:
                raise OperationRefused(f"ERR Function {function.name} already exists")
            taken.add(function.name.lower())
    return {PREFIX + library.name: library.to_json() for library in new}


def _code(op: Mapping[str, Any], field: str = "code") -> bytes:
    value = op.get(field)
    if not isinstance(value, str):
        raise OperationRefused("ERR malformed function operation")
    return value.encode("latin-1")


def _apply_load(state: SystemState, op: Mapping[str, Any]) -> tuple[dict[str, Any], Reply]:
    code = _code(op)
    header = parse_header(code)
    replace = bool(op.get("replace"))
    if not replace and state.section(PREFIX + header.name) is not None:
        raise OperationRefused(f"ERR Library '{header.name}' already exists")
    library = create(header, code)
    return _join(state, [library], replace=True, quoted=True), header.name.encode()


def _apply_delete(state: SystemState, op: Mapping[str, Any]) -> tuple[dict[str, Any], Reply]:
    name = op.get("name")
    if not isinstance(name, str) or state.section(PREFIX + name) is None:
        raise OperationRefused("ERR Library not found")
    return {PREFIX + name: None}, OK


def _apply_flush(state: SystemState, op: Mapping[str, Any]) -> tuple[dict[str, Any], Reply]:
    return {PREFIX + library.name: None for library in libraries(state)}, OK


def _apply_restore(state: SystemState, op: Mapping[str, Any]) -> tuple[dict[str, Any], Reply]:
    codes = op.get("codes")
    policy = op.get("policy")
    if not isinstance(codes, list) or policy not in ("flush", "append", "replace"):
        raise OperationRefused("ERR malformed function operation")
    loaded: dict[str, LibraryInfo] = {}
    functions: set[str] = set()
    for raw in codes:
        code = _code({"code": raw})
        header = parse_header(code)
        if header.name in loaded:
            raise OperationRefused(f"ERR Library '{header.name}' already exists")
        library = create(header, code)
        for function in library.functions:
            if function.name.lower() in functions:
                raise OperationRefused(f"ERR Function {function.name} already exists")
            functions.add(function.name.lower())
        loaded[header.name] = library
    new = list(loaded.values())
    if policy == "flush":
        changes: dict[str, Any] = {PREFIX + library.name: None for library in libraries(state)}
        changes.update({PREFIX + library.name: library.to_json() for library in new})
        return changes, OK
    return _join(state, new, replace=policy == "replace", quoted=False), OK


def encode_load(code: bytes, replace: bool) -> bytes:
    return encode_operation("function_load", code=code.decode("latin-1"), replace=replace)


def encode_delete(name: str) -> bytes:
    return encode_operation("function_delete", name=name)


def encode_flush() -> bytes:
    return encode_operation("function_flush")


def encode_restore(codes: list[bytes], policy: str) -> bytes:
    return encode_operation(
        "function_restore", codes=[code.decode("latin-1") for code in codes], policy=policy
    )


register_operation("function_load", _apply_load)
register_operation("function_delete", _apply_delete)
register_operation("function_flush", _apply_flush)
register_operation("function_restore", _apply_restore)


class FunctionView:
    """This node's libraries, kept equal to the system group's (a system-state subscriber)."""

    def __init__(self) -> None:
        self.libraries: dict[str, LibraryInfo] = {}
        self._functions: dict[str, tuple[LibraryInfo, FunctionInfo]] = {}

    def __call__(self, state: SystemState, changed: frozenset[str]) -> None:
        if not any(name.startswith(PREFIX) for name in changed):
            return
        self.libraries = {library.name: library for library in libraries(state)}
        self._functions = {
            function.name.lower(): (library, function)
            for library in self.libraries.values()
            for function in library.functions
        }

    def find(self, name: bytes) -> tuple[LibraryInfo, FunctionInfo] | None:
        """The function `name` (case-insensitive) and its library."""
        return self._functions.get(name.decode(errors="replace").lower())

    def function_count(self) -> int:
        return len(self._functions)
