"""Plan, then apply: an ordered list of steps, each saying exactly what it will do.

--dry-run renders the plan; apply() runs the very same Step objects. There is no other
place that decides whether something is really done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from xenpair.errors import XenpairError


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
    # what apply() returns: a typed result object (a dataclass of the command's core module)
    # that the steps fill in and the CLI renders
    result: Any = None

    def add(self, title: str, detail: dict[str, Any], action: Callable[[], Any]) -> None:
        self.steps.append(Step(title, detail, action))

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "summary": self.summary,
                "steps": [{"title": s.title, **s.detail} for s in self.steps]}


def apply(plan: Plan) -> Any:
    """Run every step in order; return plan.result.

    Once a step has made something worth reporting (e.g. machines were built), a later step's
    failure or an interrupt must not hide it: the result records it (result.stopped_at) and
    apply stops there and returns the result instead of raising.
    """
    for step in plan.steps:
        try:
            step.action()
        except (XenpairError, OSError, KeyboardInterrupt) as e:
            if not (hasattr(plan.result, "must_report") and plan.result.must_report()):
                raise
            plan.result.stopped_at = {"step": step.title, "error": _message(e),
                                      "interrupted": isinstance(e, KeyboardInterrupt),
                                      "not_done": [s.title for s in plan.steps[plan.steps.index(step) + 1:]]}
            return plan.result
    return plan.result


def _message(e: BaseException) -> str:
    if isinstance(e, KeyboardInterrupt):
        return "interrupted"
    if isinstance(e, OSError) and e.strerror:
        return f"{e.strerror}: {e.filename}" if e.filename else e.strerror
    return str(e)
