"""Loops in processes: task trees of any depth, and a budget for runs that never wait.

SpiffWorkflow 3.2.0 stops walking a task tree at depth 1000. Every pass through a gateway
back-loop nests the next iteration's tasks under the previous ones, so a three-task loop reaches
depth 1000 after 333 passes. Beyond it, `get_tasks()` and `is_completed()` no longer see the
READY task: the engine stops and calls the workflow finished while a step is still open
(SpiffWorkflow's TaskIterator, `max_depth=1000`). A request that "completes" with work left undone
is a lost step, so the walk limit is lifted here. The iterators are iterative (no recursion), so
depth costs time, not stack. Runaway loops that never wait for anyone are stopped by a budget
(RunBudget) instead: they would otherwise block a web request or a worker for good. The budget
counts engine steps and the CPU time of the running thread, never wall-clock seconds, so a busy
machine does not stop a legitimate loop early.
"""

import time

from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskIterator

SPIFF_MAX_DEPTH = 1000  # the library's default, checked below so an upgrade is noticed
UNLIMITED = 10**9
# One run (engine steps until someone or something must act): a loop of scripts that never
# waits costs more per pass as its tree deepens; 2000 steps take a few CPU seconds.
RUN_STEP_BUDGET = 2000
RUN_CPU_SECONDS_BUDGET = 30.0  # CPU time of the thread running the engine, not wall clock


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

    def __init__(self, bpmn_id: str | None, steps: int, cpu_seconds: float):
        super().__init__(bpmn_id, steps, cpu_seconds)
        self.bpmn_id, self.steps, self.cpu_seconds = bpmn_id, steps, cpu_seconds


class RunBudget:
    """Counts the steps of one run (do_engine_steps' did_complete_task); raises RunawayRun."""

    def __init__(self):
        self.max_steps, self.max_cpu = RUN_STEP_BUDGET, RUN_CPU_SECONDS_BUDGET
        self.steps, self.started = 0, time.thread_time()

    def count(self, task) -> None:
        self.steps += 1
        cpu = time.thread_time() - self.started
        if self.steps > self.max_steps or cpu > self.max_cpu:
            raise RunawayRun(getattr(task.task_spec, "bpmn_id", None), self.steps, cpu)
