from collections.abc import Iterator
from pathlib import Path

import pytest

from seshat_trio.storage import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "db") as s:
        yield s
