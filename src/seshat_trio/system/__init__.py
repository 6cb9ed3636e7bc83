"""The system group (group 0): cluster-wide state replicated through its own Raft group.

`registry` holds the sans-IO core (named JSON sections, named operations over them),
`machine` the state machine a Raft driver replicates, `operations` the list of modules that
register operations, `layout` the members and shard map.
"""

from seshat_trio.system.registry import (
    OperationRefused,
    SystemState,
    encode_operation,
    register_operation,
)

__all__ = ["OperationRefused", "SystemState", "encode_operation", "register_operation"]
