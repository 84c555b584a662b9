"""How every command ends on failure: one line on stderr and exit code 1."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from docket.errors import DocketError

F = TypeVar("F", bound=Callable[..., Any])


def reported(func: F) -> F:
    """Turn docket's errors (and OS errors) into ``error: <reason>`` and exit 1.

    Usage mistakes stay click's own: a usage line and exit code 2.
    """

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (DocketError, OSError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]
