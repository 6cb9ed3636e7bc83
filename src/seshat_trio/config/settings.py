"""The settings registry: every configuration key with its env var, CLI flag and default.

Derived from the attrs classes in `model`, so the CLI, the environment reader and the
reference docs cannot drift from the model. Naming rules:

- dotted name: `<section>.<key>`, e.g. `raft.heartbeat_ms`;
- environment variable: `SESHAT_<SECTION>_<KEY>` upper-cased, e.g. `SESHAT_RAFT_HEARTBEAT_MS`
  (`SESHAT_NODE_ID` is `node.id`);
- CLI flag: `--<key>` with dashes, e.g. `--heartbeat-ms`; keys are unique across sections,
  and `node.id` is `--node-id` (set by the field's `flag` metadata).
"""

import typing
from enum import Enum
from functools import cache
from pathlib import Path

import attrs

from seshat_trio.config.model import Address, Config, Member

ENV_PREFIX = "SESHAT_"


@attrs.frozen
class Setting:
    section: str
    key: str
    type: object
    default: object
    help: str
    flag: str

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def env(self) -> str:
        return f"{ENV_PREFIX}{self.section.upper()}_{self.key.upper()}"

    @property
    def required(self) -> bool:
        return self.default is attrs.NOTHING

    @property
    def is_bool(self) -> bool:
        return self.type is bool

    @property
    def type_text(self) -> str:
        """How the docs and `--help` describe the value."""
        if isinstance(self.type, type) and issubclass(self.type, Enum):
            return "/".join(str(member.value) for member in self.type)
        return _TYPE_TEXT[self.type]

    @property
    def default_text(self) -> str:
        """The default as a user would write it."""
        if self.required:
            return "(required)"
        if self.default is None:
            return "(none)"
        if isinstance(self.default, attrs.Factory):  # type: ignore[arg-type]
            # The only computed default: the data directory, named after the node id.
            return "data/node-{id}"
        if isinstance(self.default, bool):
            return str(self.default).lower()
        if isinstance(self.default, tuple):
            return ",".join(str(item) for item in self.default) or "(none)"
        if self.default == "":
            return "(empty)"
        return str(self.default)


_TYPE_TEXT: dict[object, str] = {
    int: "integer",
    str: "text",
    bool: "boolean",
    Path: "path",
    Path | None: "path",
    Address: "host:port",
    Address | None: "host:port",
    tuple[Member, ...]: "members",
}


@cache
def all_settings() -> tuple[Setting, ...]:
    """Every setting, in section then declaration order."""
    found: list[Setting] = []
    for section in attrs.fields(Config):
        section_cls = section.type
        assert isinstance(section_cls, type)
        hints = typing.get_type_hints(section_cls)
        for field in attrs.fields(section_cls):
            flag = field.metadata["flag"] or "--" + field.name.replace("_", "-")
            found.append(
                Setting(
                    section=section.name,
                    key=field.name,
                    type=hints[field.name],
                    default=field.default,
                    help=field.metadata["help"],
                    flag=flag,
                )
            )
    return tuple(found)


@cache
def by_dotted() -> dict[str, Setting]:
    return {s.dotted: s for s in all_settings()}


@cache
def by_env() -> dict[str, Setting]:
    return {s.env: s for s in all_settings()}


def sections() -> dict[str, type]:
    """Section name -> its attrs class."""
    found: dict[str, type] = {}
    for field in attrs.fields(Config):
        assert isinstance(field.type, type)
        found[field.name] = field.type
    return found
