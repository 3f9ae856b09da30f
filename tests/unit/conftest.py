"""Each unit test gets a cache directory of its own.

snakepacker remembers small records there (validated project tables, size reports by
image id). The fake engine names images by digests of their inputs, so two tests that
build the same fake image with different histories would otherwise read each other's
records; and a unit test has no business writing to the developer's cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def own_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAKEPACKER_CACHE", str(tmp_path_factory.mktemp("cache")))
