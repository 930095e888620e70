"""Run-config classes (`dg.Config`) take their defaults from the library's config dataclasses and
functions, so each default is written once, in the Dagster-free library."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any


def default(source, name: str) -> Any:
    """The default of field `name` of a dataclass `source`, or of parameter `name` of a function `source`."""
    if dataclasses.is_dataclass(source):
        field = source.__dataclass_fields__[name]
        if field.default is dataclasses.MISSING:
            raise ValueError(f"{source.__name__}.{name} has no plain default")
        return field.default
    value = inspect.signature(source).parameters[name].default
    if value is inspect.Parameter.empty:
        raise ValueError(f"{source.__name__}({name}) has no default")
    return value


def dataclass_kwargs(settings, cls) -> dict[str, Any]:
    """The values of `settings` (a `dg.Config`) whose names are fields of the dataclass `cls`."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in settings.model_dump().items() if k in names}
