"""MQTT topic filters as small frozen value objects, and topic-to-adapter routing."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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

    @property
    def specificity(self) -> tuple[int, ...]:
        """Per level 2 for a literal, 1 for ``+``, 0 for ``#``; greater is more specific."""
        return tuple(0 if level == "#" else 1 if level == "+" else 2 for level in self._levels)

    @property
    def _levels(self) -> list[str]:
        return self.value.split("/")

    def overlaps(self, other: TopicFilter) -> bool:
        """Whether some topic matches both filters."""
        mine, theirs = self._levels, other._levels
        for a, b in zip(mine, theirs, strict=False):
            if a == "#" or b == "#":
                return True
            if a != b and "+" not in (a, b):
                return False
        return len(mine) == len(theirs) or "#" in (mine[len(theirs) :] + theirs[len(mine) :])[:1]

    def covers(self, other: TopicFilter) -> bool:
        """Whether every topic ``other`` matches also matches this filter."""
        mine, theirs = self._levels, other._levels
        for index, level in enumerate(mine):
            if level == "#":
                return True
            if index >= len(theirs):
                return False
            if level != "+" and level != theirs[index]:
                return False
        return len(mine) == len(theirs)

    def shared(self, group: str | None) -> str:
        """The subscription string, as an MQTT v5 shared subscription when ``group`` is set."""
        return f"$share/{group}/{self.value}" if group else self.value


class TopicRouter(Generic[T]):
    """Finds the target for a topic: the one whose matching filter is the most specific.

    Specificity compares filters level by level from the left: a literal level beats ``+``,
    which beats ``#``; so ``+/status/em:0`` beats ``+/status/+`` (a mapping can take one
    component of a device family a built-in adapter owns) and ``a/+`` beats ``a/#``. Two
    targets whose filters are equally specific and can match one same topic are refused at
    construction (:class:`ConfigError`): which one got the message would be an accident of
    order. Results are cached per topic (devices publish on the same topics over and over);
    the cache is bounded so a flood of distinct topics cannot grow it without limit.
    """

    def __init__(
        self,
        routes: Iterable[tuple[Sequence[TopicFilter], T]],
        cache_size: int = 65536,
        name: Callable[[T], str] = str,
    ):
        self._routes = [(tuple(filters), target) for filters, target in routes]
        # Most specific first, so the first match is the winner.
        self._ranked = sorted(
            ((f, target) for filters, target in self._routes for f in filters),
            key=lambda item: item[0].specificity,
            reverse=True,
        )
        self._refuse_ties(name)
        self._cache: dict[str, T | None] = {}
        self._cache_size = cache_size

    def _refuse_ties(self, name: Callable[[T], str]) -> None:
        for index, (first, owner) in enumerate(self._ranked):
            for second, other in self._ranked[index + 1 :]:
                if second.specificity != first.specificity:
                    break
                if other is not owner and first.overlaps(second):
                    raise ConfigError(
                        "topic routing",
                        f"{name(owner)!r} ({first.value}) and {name(other)!r} "
                        f"({second.value}) claim the same topics with equal specificity",
                    )

    @property
    def filters(self) -> list[TopicFilter]:
        """What to subscribe to: every filter not already covered by another one, so that a
        broker that sends one copy per matching subscription (Mosquitto does) sends one."""
        unique = list(dict.fromkeys(f for filters, _ in self._routes for f in filters))
        return [f for f in unique if not any(o != f and o.covers(f) for o in unique)]

    def route(self, topic: str) -> T | None:
        try:
            return self._cache[topic]
        except KeyError:
            pass
        found = next((target for f, target in self._ranked if f.matches(topic)), None)
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[topic] = found
        return found
