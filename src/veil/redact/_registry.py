"""The recognizer registry: a named set of recognizers, duplicates refused."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from veil.errors import Conflict, NotFound
from veil.redact._model import Recognizer

__all__ = ["RecognizerRegistry"]


class RecognizerRegistry:
    """An ordered collection of recognizers keyed by their unique names.

    The registry is a configuration object: build it, then hand it to a
    `Redactor`, which takes a snapshot. Changing the registry afterwards does not
    change redactors already built, so a redactor stays safe to share between
    threads.
    """

    def __init__(self, recognizers: Iterable[Recognizer] = ()) -> None:
        self._by_name: dict[str, Recognizer] = {}
        for recognizer in recognizers:
            self.register(recognizer)

    def register(self, recognizer: Recognizer) -> None:
        """Add `recognizer`.

        Raises:
            Conflict: A recognizer with the same name is already registered; two
                rules answering to one name would make findings unattributable.
        """
        if recognizer.name in self._by_name:
            raise Conflict(f"a recognizer named {recognizer.name!r} is already registered")
        self._by_name[recognizer.name] = recognizer

    def unregister(self, name: str) -> None:
        """Remove the recognizer called `name`.

        Raises:
            NotFound: No recognizer has that name.
        """
        if self._by_name.pop(name, None) is None:
            raise NotFound(f"no recognizer named {name!r}")

    def names(self) -> tuple[str, ...]:
        """Return the registered names in registration order."""
        return tuple(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Recognizer]:
        return iter(tuple(self._by_name.values()))

    def __len__(self) -> int:
        return len(self._by_name)
