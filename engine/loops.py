"""Loops in processes: task trees of any depth, and a budget for runs that never wait.

SpiffWorkflow 3.2.0 stops walking a task tree at depth 1000. Every pass through a gateway
back-loop nests the next iteration's tasks under the previous ones, so a three-task loop reaches
depth 1000 after 333 passes. Beyond it, `get_tasks()` and `is_completed()` no longer see the
READY task: the engine stops and calls the workflow finished while a step is still open
(../shared/spiffworkflow-notes, NOTES.md §9.2). A request that "completes" with work left undone
is a lost step, so the walk limit is lifted here. The iterators are iterative (no recursion), so
depth costs time, not stack. Runaway loops that never wait for anyone are stopped by a budget
(RunBudget) instead: they would otherwise block a web request or a worker for good.
"""

import time

from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator

SPIFF_MAX_DEPTH = 1000  # the library's default, checked below so an upgrade is noticed
UNLIMITED = 10**9
# One run (engine steps until someone or something must act): a loop of scripts that never
# waits costs more per pass as its tree deepens; 2000 passes take about 8 s on 2 cores.
RUN_STEP_BUDGET = 2000
RUN_SECONDS_BUDGET = 10.0


def lift_depth_limit() -> None:
    """Make SpiffWorkflow's task iterators walk trees of any depth (idempotent)."""
    for cls in (TaskIterator, BpmnTaskIterator):  # max_depth is the second keyword of both
        defaults = list(cls.__init__.__defaults__)
        if defaults[1] not in (SPIFF_MAX_DEPTH, UNLIMITED):
            raise RuntimeError(
                f"{cls.__name__}'s max_depth default is {defaults[1]!r}, not "
                f"{SPIFF_MAX_DEPTH}: check engine/loops.py against this SpiffWorkflow"
            )
        defaults[1] = UNLIMITED
        cls.__init__.__defaults__ = tuple(defaults)


class RunawayRun(Exception):
    """A run used up its budget; `runtime.run_until_blocked` turns it into ProcessFailed."""

    def __init__(self, bpmn_id: str | None, steps: int, seconds: float):
        super().__init__(bpmn_id, steps, seconds)
        self.bpmn_id, self.steps, self.seconds = bpmn_id, steps, seconds


class RunBudget:
    """Counts the steps of one run (do_engine_steps' did_complete_task); raises RunawayRun."""

    def __init__(self):
        self.steps, self.started = 0, time.monotonic()

    def count(self, task) -> None:
        self.steps += 1
        seconds = time.monotonic() - self.started
        if self.steps > RUN_STEP_BUDGET or seconds > RUN_SECONDS_BUDGET:
            raise RunawayRun(getattr(task.task_spec, "bpmn_id", None), self.steps, seconds)
