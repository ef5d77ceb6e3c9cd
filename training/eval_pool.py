"""The process pool behind `evaluate_parallel`: evaluation episodes run in spawned workers.

The pool knows jobs (actor index, episode index) and their outcomes (success, control steps),
not envs or actors: a `Plan`, sent once to each worker, describes the jobs and builds the
`Runner` that runs them in a process (training/evaluate.py defines the one in use).

- workers are started with `spawn`: `fork` would copy MuJoCo's GL context and torch's thread
  pools into the child, neither of which survives it. Each worker imports `sim` (with the
  plan's module) before it opens a GL context (EGL, Triton before Mesa: see sim/gl.py),
  builds its own env and GL context, loads its own copy of the policy, and runs torch on one
  thread;
- episodes are handed out one at a time from a queue, so a long episode never idles the
  others; outcomes are recorded by job, so they do not depend on the number of workers or on
  which worker ran what;
- an episode that raises, or a worker that dies, stops the run with an `EvalError` naming
  the actor, episode and seed; the workers are terminated on any error or Ctrl-C.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Literal, Protocol

import torch


class EvalError(RuntimeError):
    """An episode raised or a worker died; the message names the actor, episode and seed."""


Job = tuple[int, int]  # (index into the actors, episode index)
Outcome = tuple[bool, int]  # (success, control steps)


class Runner(Protocol):
    """Runs jobs in one process, building what it needs (env, actors) on first use."""

    def run(self, job: Job) -> Outcome: ...

    def close(self) -> None: ...


class Plan(Protocol):
    """Everything needed to run any job; sent once to each worker, so it must pickle."""

    def describe(self, job: Job) -> str:
        """The job as error messages name it: actor, episode and seed."""
        ...

    def runner(self) -> Runner: ...


def run_here(plan: Plan, jobs: list[Job], record: Callable[[Job, Outcome], None]) -> None:
    """The jobs in order, in this process, with torch on one thread as in a worker (batch-1
    inference gains nothing from more, and loses badly when other processes share the cores)."""
    runner = plan.runner()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for job in jobs:
            try:
                outcome = runner.run(job)
            except Exception as err:
                raise EvalError(
                    f"{plan.describe(job)} failed: {type(err).__name__}: {err}"
                ) from err
            record(job, outcome)
    finally:
        torch.set_num_threads(threads)
        runner.close()


@dataclass(frozen=True)
class _Report:
    """Worker -> parent: a job started, finished, or raised (with the worker's traceback)."""

    kind: Literal["start", "done", "fail"]
    worker: int
    job: Job
    outcome: Outcome | None = None
    error: str = ""


_POLL_S = 0.2  # how often the parent checks on its workers while no report arrives
_DEATH_GRACE_S = 1.0  # a dead worker's last reports can still be in the pipe this long
_EXIT_S = 30.0  # time for workers to close their envs and exit after the last job


def run_in_workers(
    plan: Plan, jobs: list[Job], workers: int, record: Callable[[Job, Outcome], None]
) -> None:
    """Hand `jobs` to `workers` spawned processes one at a time; stop all of them on error."""
    ctx = multiprocessing.get_context("spawn")
    todo: multiprocessing.Queue[Job | None] = ctx.Queue()
    reports: multiprocessing.Queue[_Report] = ctx.Queue()
    for job in jobs:
        todo.put(job)
    for _ in range(workers):
        todo.put(None)  # one stop sign per worker
    procs: list[BaseProcess] = [
        ctx.Process(
            target=_worker_main, args=(w, plan, todo, reports), name=f"vitac-eval-{w}", daemon=True
        )
        for w in range(workers)
    ]
    running: dict[int, Job | None] = dict.fromkeys(range(workers))
    dead_since: dict[int, float] = {}
    try:
        with _children_ignore_sigint():
            for proc in procs:
                proc.start()
        remaining = len(jobs)
        while remaining:
            try:
                report = reports.get(timeout=_POLL_S)
            except queue.Empty:
                _check_workers(plan, procs, running, dead_since, remaining)
                continue
            if report.kind == "start":
                running[report.worker] = report.job
            elif report.kind == "done" and report.outcome is not None:
                running[report.worker] = None
                remaining -= 1
                record(report.job, report.outcome)
            else:
                raise EvalError(
                    f"{plan.describe(report.job)} failed in worker {report.worker}: {report.error}"
                )
        for proc in procs:
            proc.join(timeout=_EXIT_S)
    finally:
        for proc in procs:
            if proc.pid is not None and proc.is_alive():
                proc.terminate()
        for proc in procs:
            if proc.pid is not None:
                proc.join()
        todo.cancel_join_thread()  # unsent stop signs must not block this process's exit
        todo.close()
        reports.close()


def _check_workers(
    plan: Plan,
    procs: list[BaseProcess],
    running: dict[int, Job | None],
    dead_since: dict[int, float],
    remaining: int,
) -> None:
    """Raise EvalError if a worker died holding a job, or all died with jobs left."""
    now = time.monotonic()
    for w, proc in enumerate(procs):
        if proc.exitcode is not None:
            dead_since.setdefault(w, now)
    settled = [w for w, since in dead_since.items() if now - since >= _DEATH_GRACE_S]
    for w in settled:
        job = running[w]
        if job is not None:
            raise EvalError(
                f"worker {w} died ({_exit_reason(procs[w].exitcode)}) while running "
                f"{plan.describe(job)}"
            )
    if len(settled) == len(procs):
        reasons = ", ".join(f"worker {w}: {_exit_reason(procs[w].exitcode)}" for w in settled)
        raise EvalError(f"all workers exited with {remaining} episode(s) left ({reasons})")


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


@contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Processes started inside inherit SIGINT ignored: Ctrl-C reaches only the parent,
    which then terminates them (no KeyboardInterrupt tracebacks from every worker)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _worker_main(
    worker: int,
    plan: Plan,
    todo: multiprocessing.Queue[Job | None],
    reports: multiprocessing.Queue[_Report],
) -> None:
    """A worker process: run jobs until a stop sign, the first error, or the parent's death."""
    torch.set_num_threads(1)  # one core per worker; the workers are the parallelism
    parent = os.getppid()
    runner = plan.runner()
    try:
        while os.getppid() == parent:  # else orphaned: the parent died without stopping us
            try:
                job = todo.get(timeout=1.0)
            except queue.Empty:
                continue
            if job is None:
                return
            reports.put(_Report("start", worker, job))
            try:
                outcome = runner.run(job)
            except Exception as err:
                details = traceback.format_exc()
                error = f"{type(err).__name__}: {err}\n\nworker traceback:\n{details}"
                reports.put(_Report("fail", worker, job, error=error))
                return
            reports.put(_Report("done", worker, job, outcome))
    finally:
        runner.close()
