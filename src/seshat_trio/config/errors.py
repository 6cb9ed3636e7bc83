"""Configuration problems and the error that carries all of them."""

from collections.abc import Sequence

import attrs


@attrs.frozen
class Problem:
    """One thing wrong with the configuration; `key` is a dotted key such as
    `raft.heartbeat_ms`, or empty when the problem is not about one key."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}" if self.key else self.message


class ConfigError(Exception):
    """The configuration is unusable; `problems` holds one human-readable line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)
