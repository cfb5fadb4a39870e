"""The explorer with its map page replaced by a recorder of the commands the widget sends
(shared by the explorer tests; imported by name: pytest puts this folder on ``sys.path``)."""

from __future__ import annotations

from typing import Any

from workbench.explorer._screen import Explorer, explore


class Recorder:
    """Stands in for MapFrame.post: keeps the commands the widget sends to the map page."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def __call__(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def last(self, kind: str) -> dict[str, Any]:
        return [m for m in self.sent if m["type"] == kind][-1]

    def kinds(self) -> list[str]:
        return [m["type"] for m in self.sent]


def recorded_explorer(world: Any, **options: Any) -> tuple[Explorer, Recorder]:
    """``explore(world.case, world.run, **options)`` whose page commands are recorded."""
    explorer = explore(world.case, world.run, **options)
    recorder = Recorder()
    explorer.map.post = recorder  # type: ignore[method-assign]
    return explorer, recorder
