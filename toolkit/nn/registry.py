"""Turning the names users write ('rmsprop', 'relu', 'mse') into the objects that do the work."""

from __future__ import annotations

import difflib
from typing import Any, Callable


def resolve(identifier: Any, registry: dict[str, Callable[[], Any]], kind: str, base: type) -> Any:
    """The ``kind`` object that ``identifier`` names: an instance of ``base`` is returned as it is,
    a string is looked up in ``registry`` (case-insensitively), anything else is a TypeError.

    An unknown name is a ValueError listing the valid names, with the closest one suggested.
    """
    if isinstance(identifier, base):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, base):
        return identifier()
    if not isinstance(identifier, str):
        raise TypeError(
            f"{kind} must be a name such as {next(iter(registry))!r} or a {base.__name__} "
            f"object, got {type(identifier).__name__} {identifier!r}"
        )
    key = identifier.lower()
    if key in registry:
        return registry[key]()
    close = difflib.get_close_matches(key, registry, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"unknown {kind} {identifier!r}.{hint} Valid {kind} names: {', '.join(sorted(registry))}"
    )
