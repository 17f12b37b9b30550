"""Which stored task runs ops may re-send, and with which arguments.

Only the project's own tasks (registered on the Celery app, named ``apps.*``
or ``workers.*``) whose class says ``idempotent = True`` may be re-sent: running
them twice does no harm. Arguments are recovered from what django-celery-results
stored (the JSON-encoded ``argsrepr``/``kwargsrepr`` of the message).
What does not belong here: sending anything (see ``apps.ops.services.task_retry``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
from typing import Any

from celery import Task

from apps.ops.broker import celery_app

_PROJECT_TASK = re.compile(r"^(apps|workers)(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_TASK_MODULE = re.compile(r"^(apps\.[a-z_][a-z0-9_]*\.tasks|workers\.[a-z_][a-z0-9_]*)$")


# Celery cuts ``argsrepr``/``kwargsrepr`` at this size (``app.amqp.argsrepr_maxsize``).
REPR_MAXSIZE = 1024


class ArgumentsUnavailable(Exception):
    """The stored arguments cannot be turned back into the original call."""


def project_task_get(name: str | None) -> Task | None:
    """The registered project task of this name, importing its module if needed."""
    if not name or not _PROJECT_TASK.match(name):
        return None
    app = celery_app()
    task = app.tasks.get(name)
    module = name.rsplit(".", 1)[0]
    # The web process registers a task when its module is first imported; import
    # only task modules (``apps.<app>.tasks``, ``workers.<module>``), nothing else.
    if task is None and _TASK_MODULE.match(module):
        try:
            importlib.import_module(module)
        except ImportError:
            return None
        task = app.tasks.get(name)
    return task


def refusal_reason(name: str | None) -> str | None:
    """Why a run of this task may not be re-sent by ops, or None if it may."""
    if not name:
        return "the result does not record the task name"
    task = project_task_get(name)
    if task is None:
        return f"{name} is not one of the project's registered tasks"
    if getattr(task, "idempotent", False) is not True:
        return f"{name} is not marked idempotent"
    return None


def is_retryable(name: str | None) -> bool:
    return refusal_reason(name) is None


def _contains_ellipsis(value: Any) -> bool:
    """Celery's saferepr writes ``...`` where it cut a nested value short."""
    if value is Ellipsis:
        return True
    if isinstance(value, dict):
        return any(_contains_ellipsis(v) for v in (*value.keys(), *value.values()))
    if isinstance(value, list | tuple | set):
        return any(_contains_ellipsis(v) for v in value)
    return False


def _decode(stored: str | None, *, kind: type) -> Any:
    if not stored:
        return kind()
    try:
        value = json.loads(stored)
    except ValueError:
        value = stored
    if isinstance(value, str):
        if len(value) >= REPR_MAXSIZE:
            raise ArgumentsUnavailable("stored arguments were truncated when the task was sent")
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError) as exc:
            raise ArgumentsUnavailable(f"stored arguments are not literal: {value[:80]}") from exc
    if _contains_ellipsis(value):
        raise ArgumentsUnavailable("stored arguments were truncated when the task was sent")
    if kind is dict and isinstance(value, dict):
        return value
    if kind is tuple and isinstance(value, list | tuple):
        return tuple(value)
    raise ArgumentsUnavailable(f"stored arguments have an unexpected shape: {type(value).__name__}")


def positional_args(task: Task, *, stored_args: str | None, stored_kwargs: str | None) -> list[Any]:
    """The original call as positional arguments (``workers.enqueue.publish`` sends ids only)."""
    args = _decode(stored_args, kind=tuple)
    kwargs = _decode(stored_kwargs, kind=dict)
    try:
        bound = inspect.signature(task.run).bind(*args, **kwargs)
    except TypeError as exc:
        raise ArgumentsUnavailable(f"stored arguments do not fit {task.name}: {exc}") from exc
    if bound.kwargs:
        raise ArgumentsUnavailable(f"{task.name} takes keyword-only arguments")
    return list(bound.args)
