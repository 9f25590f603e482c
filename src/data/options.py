"""Typed data options from whatever a caller holds: a config dataclass, a Hydra node or a plain
mapping shaped like the YAML (notebooks, tests), checked against the dataclass.

The dataclasses in ``src.config.schema`` are the option types and the one place their defaults
live; this module only turns other shapes into them, with one-line errors for bad keys and values.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from src.errors import SegmentationError

T = TypeVar("T")


def typed_options(schema: type[T], given: Any, group: str) -> T:
    """``given`` as an instance of ``schema`` (returned as is when it already is one)."""
    if isinstance(given, schema):
        return given
    if given is None:
        given = {}
    if isinstance(given, DictConfig):
        given = OmegaConf.to_container(given, resolve=True)
    if not isinstance(given, Mapping):
        raise SegmentationError(
            f"the {group} options must be a mapping of option names to values, got {given!r}."
        )
    values = {str(k): _plain(v) for k, v in given.items()}
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), values))
    except OmegaConfBaseException as exc:
        key = (
            getattr(exc, "full_key", None) or getattr(exc, "key", None) or _culprit(schema, values)
        )
        message = _first_line(exc)
        hint = "" if "expected one of" in message else _choices(schema, key)
        raise SegmentationError(f"bad {group} option {group}.{key}: {message}{hint}") from None


def _culprit(schema: type, values: dict[str, Any]) -> str:
    """The first key whose value alone does not fit ``schema`` (for errors that name none)."""
    for key, value in values.items():
        try:
            OmegaConf.merge(OmegaConf.structured(schema), {key: value})
        except OmegaConfBaseException:
            return key
    return "?"


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, DictConfig):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]


def _choices(schema: type, key: str) -> str:
    name = str(key).split(".")[-1]
    fields = schema.__dataclass_fields__
    if name not in fields:
        return f". The options are {', '.join(fields)}; fix the spelling."
    enum = _enum_type(schema, name)
    return f". Valid values: {', '.join(m.value for m in enum)}." if enum else ""


def _enum_type(schema: type, name: str) -> type[Enum] | None:
    import typing

    hints = typing.get_type_hints(schema)
    hint = hints.get(name)
    for candidate in (hint, *typing.get_args(hint)):
        if isinstance(candidate, type) and issubclass(candidate, Enum):
            return candidate
    return None
