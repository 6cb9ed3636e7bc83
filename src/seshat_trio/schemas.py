"""Loading of the Cap'n Proto schemas in the repository's `schemas/` directory.

The `.capnp` files are the contract (storage records, the wire between nodes); every
module that encodes them loads its schema through `load_schema`, from the source tree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import capnp

# This file is <repo>/src/seshat_trio/schemas.py.
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def load_schema(name: str) -> Any:
    """The parsed schema `name` (e.g. "raft.capnp"); FileNotFoundError names the path."""
    path = SCHEMA_DIR / name
    if not path.is_file():
        raise FileNotFoundError(
            f"Cap'n Proto schema {path} is missing: seshat-trio runs from a source checkout "
            "(pip install -e .), which holds schemas/"
        )
    return capnp.load(str(path))
