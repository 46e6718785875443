"""MQTT topic filters as small frozen value objects, and topic-to-adapter routing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from hub.errors import ConfigError

__all__ = ["TopicFilter", "TopicRouter"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TopicFilter:
    """An MQTT subscription filter (``+`` one level, ``#`` the rest), validated on creation."""

    value: str

    def __post_init__(self) -> None:
        levels = self.value.split("/")
        if not self.value or "\x00" in self.value:
            raise ConfigError("topic filter", f"{self.value!r} is empty or holds NUL")
        for index, level in enumerate(levels):
            if "#" in level and (level != "#" or index != len(levels) - 1):
                raise ConfigError("topic filter", f"{self.value!r}: '#' must be a whole last level")
            if "+" in level and level != "+":
                raise ConfigError("topic filter", f"{self.value!r}: '+' must be a whole level")

    def matches(self, topic: str) -> bool:
        """Whether ``topic`` (a concrete topic name) falls under this filter."""
        pattern = self.value.split("/")
        levels = topic.split("/")
        for index, part in enumerate(pattern):
            if part == "#":
                return True
            if index >= len(levels):
                return False
            if part != "+" and part != levels[index]:
                return False
        return len(levels) == len(pattern)

    def shared(self, group: str | None) -> str:
        """The subscription string, as an MQTT v5 shared subscription when ``group`` is set."""
        return f"$share/{group}/{self.value}" if group else self.value


class TopicRouter(Generic[T]):
    """Finds the target for a topic: the first whose filters match. Results are cached per
    topic (devices publish on the same topics over and over); the cache is bounded so a flood
    of distinct topics cannot grow it without limit."""

    def __init__(self, routes: Iterable[tuple[Sequence[TopicFilter], T]], cache_size: int = 65536):
        self._routes = [(tuple(filters), target) for filters, target in routes]
        self._cache: dict[str, T | None] = {}
        self._cache_size = cache_size

    @property
    def filters(self) -> list[TopicFilter]:
        return [topic_filter for filters, _ in self._routes for topic_filter in filters]

    def route(self, topic: str) -> T | None:
        try:
            return self._cache[topic]
        except KeyError:
            pass
        found = next(
            (target for filters, target in self._routes if any(f.matches(topic) for f in filters)),
            None,
        )
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[topic] = found
        return found
