"""Objects a hostile or broken producer could pickle into ``job.meta`` (importable by workers)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class ExplodingMapping(Mapping[str, Any]):
    """A carrier whose every read raises."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("SECRET-VALUE from __getitem__")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("SECRET-VALUE from __iter__")

    def __len__(self) -> int:
        raise RuntimeError("SECRET-VALUE from __len__")

    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError("SECRET-VALUE from get")


class ExplodingMeta(dict):  # type: ignore[type-arg]
    """A ``meta`` whose ``get`` raises."""

    def get(self, key: Any, default: Any = None) -> Any:
        raise RuntimeError("SECRET-VALUE from meta.get")
