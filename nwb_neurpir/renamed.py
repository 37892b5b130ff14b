"""Keywords of the Python API that were renamed: the old name still works for a release, with a ``FutureWarning``."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

__all__ = ["accepts_ophys_series"]

Function = TypeVar("Function", bound=Callable[..., Any])


def accepts_ophys_series(function: Function) -> Function:
    """``function`` (which takes ``series=``) also taking ``ophys_series=``, the keyword's name until 0.2.2: with a
    ``FutureWarning`` and the same result; giving both is a ``TypeError``."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - the wrapped function's
        if "ophys_series" in kwargs:
            if "series" in kwargs:
                raise TypeError(f"{function.__name__}() got both series= and ophys_series= (its old name); "
                                "give series= only")
            warnings.warn("ophys_series= is now series= (the calcium traces or the units table to read); "
                          "ophys_series= will be removed in a later release", FutureWarning, stacklevel=2)
            kwargs["series"] = kwargs.pop("ophys_series")
        return function(*args, **kwargs)

    return cast(Function, wrapper)
