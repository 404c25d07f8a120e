"""Plan, then apply: an ordered list of steps, each saying exactly what it will do.

--dry-run renders the plan; apply() runs the very same Step objects. There is no other
place that decides whether something is really done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Step:
    title: str
    detail: dict[str, Any]            # what exactly: argv, registry rows, paths (JSON-able)
    action: Callable[[], Any] = field(repr=False)


@dataclass
class Plan:
    title: str
    summary: dict[str, Any]
    steps: list[Step] = field(default_factory=list)

    def add(self, title: str, detail: dict[str, Any], action: Callable[[], Any]) -> None:
        self.steps.append(Step(title, detail, action))

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "summary": self.summary,
                "steps": [{"title": s.title, **s.detail} for s in self.steps]}


def apply(plan: Plan) -> list[Any]:
    return [step.action() for step in plan.steps]
