"""Reading a YAML mapping into a frozen dataclass, guided by the dataclass's own fields.

The fields ARE the declaration of the keys; nothing else lists them. For each field:

* its YAML name is the field's name, or ``key(yaml=...)``;
* its parser follows from its type (``str``, ``bool``, ``int``, ``float``, ``timedelta``,
  ``Path`` relative to the config file's folder, ``tuple[str, ...]``, a ``Literal`` of
  strings, any of them ``| None``), or ``key(parse=...)``;
* its default is the dataclass default, or ``key(default_from=...)`` when it depends on the
  file's folder or on a key read before it; a field with neither is required;
* a dataclass-typed field is a nested section (``poll:``; typed ``X | None = None``, it is
  None when the file leaves it out); a tuple of dataclasses is a list of entries
  (``feeds:``), a tuple of a union of dataclasses a list whose entries say which one they
  are by their ``type`` (``channels:``).

Problems are recorded on the YamlDoc as they are found, and reading carries on with the
default, so one pass reports everything.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

from watcher.config.values import (
    as_bool,
    as_float,
    as_int,
    as_str,
    as_str_list,
    did_you_mean,
    kind_of,
    one_of,
    parse_duration,
)
from watcher.yamlpos import YamlDoc, YamlPath

T = TypeVar("T")

_METADATA = "watcher.config"
_MISSING: Any = dataclasses.MISSING
_UNSET: Any = object()  # Key.empty not given (None is a value it may take)


class KeepDefault(Exception):
    """Raised by a parser to keep the key's default for this value (``interval: auto``)."""


class Section:
    """Typed access to one mapping in a YAML document, recording problems as it goes."""

    def __init__(self, doc: YamlDoc, path: YamlPath, allowed: set[str] | frozenset[str]
                 ) -> None:
        self.doc = doc
        self.path = path
        value = value_at(doc.data, path)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            doc.problem(path, f"expected a mapping, got {kind_of(value)}")
            value = {}
        self.data: dict[str, Any] = value
        for key in value:
            if key not in allowed:
                doc.problem((*path, key), f"unknown key '{key}'{did_you_mean(key, allowed)}",
                            key=True)

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, convert: Callable[[Any], T], default: T) -> T:
        if key not in self.data or self.data[key] is None:
            return default
        try:
            return convert(self.data[key])
        except KeepDefault:
            return default
        except (ValueError, TypeError) as exc:
            self.doc.problem((*self.path, key), f"{key}: {exc}")
            return default

    def require(self, key: str, convert: Callable[[Any], T], default: T) -> T:
        if key not in self.data or self.data[key] in (None, ""):
            self.doc.problem(self.path, f"missing required key '{key}'")
            return default
        return self.get(key, convert, default)

    def items(self, key: str) -> list[YamlPath]:
        """Paths of the entries of a list-valued key."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.doc.problem((*self.path, key),
                             f"{key}: expected a list, got {kind_of(value)}")
            return []
        return [(*self.path, key, index) for index in range(len(value))]


def value_at(data: Any, path: YamlPath) -> Any:
    for step in path:
        if isinstance(data, dict) and isinstance(step, str):
            data = data.get(step)
        elif isinstance(data, list) and isinstance(step, int) and step < len(data):
            data = data[step]
        else:
            return None
    return data


@dataclass
class Reading:
    """One pass over one file: where it lives and the top-level values read so far."""

    doc: YamlDoc
    folder: Path  # relative paths resolve against the config file's folder
    top: dict[str, Any] = dataclasses.field(default_factory=dict)  # by field name


@dataclass(frozen=True)
class Key:
    """How a field departs from what its name and type imply (see the module docstring)."""

    yaml: str | None = None  # the name in the file, when it is not the field's
    also: tuple[str, ...] = ()  # more names for one list, read before ``yaml`` and joined
    parse: Callable[[Any], Any] | None = None
    default_from: Callable[[Reading], Any] | None = None
    empty: Any = _UNSET  # the value when the key is written with nothing after it
    check: Callable[[Any], str | None] | None = None  # on the value in force, default too
    unique: str | None = None  # within a list: message for a repeat ({what} {value} {line})
    item: str = ""  # for a list: what one entry is called in messages ("feed")
    in_yaml: bool = True


def key(**options: Any) -> dict[str, Key]:
    """Field metadata: ``field(default=..., metadata=key(parse=as_positive_int))``."""
    return {_METADATA: Key(**options)}


# A repeated name, as every list with names reports it.
UNIQUE_NAME = "duplicate {what} name '{value}' (first defined on line {line})"


@dataclass(frozen=True)
class _Spec:
    name: str  # the field's
    yaml: str
    hint: Any
    key: Key
    default: Any


@functools.cache
def _specs(cls: type) -> tuple[_Spec, ...]:
    hints = typing.get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        meta: Key = f.metadata.get(_METADATA, Key())
        if not meta.in_yaml:
            continue
        default: Any = f.default
        if callable(f.default_factory):  # MISSING when there is none
            default = f.default_factory()
        specs.append(_Spec(f.name, meta.yaml or f.name, hints[f.name], meta, default))
    return tuple(specs)


@functools.cache
def yaml_keys(cls: type) -> frozenset[str]:
    """Every key a mapping read as ``cls`` may hold."""
    return frozenset(n for spec in _specs(cls) for n in (*spec.key.also, spec.yaml))


@dataclass
class _Entries:
    """One list being read: its entries' name for messages, and the unique values seen."""

    what: str
    seen: dict[str, dict[Any, YamlPath]] = dataclasses.field(default_factory=dict)


def read_mapping(reading: Reading, path: YamlPath, cls: type,
                 entries: _Entries | None = None) -> dict[str, Any]:
    """The keyword arguments of ``cls`` read from the mapping at ``path``."""
    section = Section(reading.doc, path, yaml_keys(cls))
    values = reading.top if not path else {}
    for spec in _specs(cls):
        values[spec.name] = _read(reading, section, spec, entries)
    return dict(values)


def _read(reading: Reading, section: Section, spec: _Spec, entries: _Entries | None) -> Any:
    doc, meta, name = reading.doc, spec.key, spec.yaml
    hint = _without_none(spec.hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if spec.default is None and not section.has(name):
            return None  # an optional section left out (``http: ... | None = None``)
        return hint(**read_mapping(reading, (*section.path, name), hint))
    choices = _entry_types(hint)
    if choices:
        return _read_entries(reading, section, spec, choices)
    parse = meta.parse or _parser_for(hint, reading.folder)
    default = meta.default_from(reading) if meta.default_from else spec.default
    if meta.also:
        value = _read_joined(section, (*meta.also, name), parse, required=default is _MISSING)
    elif default is _MISSING:
        value = section.require(name, parse, _empty(hint))
    else:
        if meta.empty is not _UNSET and section.has(name):
            default = meta.empty
        value = section.get(name, parse, default)
    where = (*section.path, name)
    if meta.check and (message := meta.check(value)):
        doc.problem(where, f"{name}: {message}")
    if meta.unique and entries is not None and value:
        seen = entries.seen.setdefault(spec.name, {})
        if value in seen:
            line, _ = doc.where(seen[value])
            doc.problem(where, meta.unique.format(what=entries.what, value=value, line=line))
        else:
            seen[value] = where
    return value


def _read_joined(section: Section, names: tuple[str, ...], parse: Callable[[Any], Any],
                 required: bool) -> Any:
    """One list written under several names (``url:`` and ``urls:``), joined in order."""
    value: tuple[Any, ...] = ()
    for name in names:
        value += section.get(name, parse, ())
    if required and not value:
        section.doc.problem(section.path, f"missing required key '{names[-1]}'")
    return value


def _read_entries(reading: Reading, section: Section, spec: _Spec,
                  choices: tuple[type, ...]) -> tuple[Any, ...]:
    entries = _Entries(spec.key.item or spec.name)
    read: list[Any] = []
    for path in section.items(spec.yaml):
        cls = choices[0] if len(choices) == 1 else _entry_type(reading.doc, path, choices,
                                                              entries.what)
        if cls is not None:
            read.append(cls(**read_mapping(reading, path, cls, entries)))
    return tuple(read)


def _entry_type(doc: YamlDoc, path: YamlPath, choices: tuple[type, ...], what: str
                ) -> type | None:
    """Which of ``choices`` the entry at ``path`` is, by its ``type`` key."""
    by_type = {_type_name(cls): cls for cls in choices}
    raw = value_at(doc.data, path)
    kind = raw.get("type") if isinstance(raw, dict) else None
    cls = by_type.get(kind) if isinstance(kind, str) else None
    if cls is None:
        names = sorted(by_type)
        message = (f"{what} type must be one of: {', '.join(names)}" if kind is None else
                   f"unknown {what} type '{kind}'{did_you_mean(str(kind), names)}")
        doc.problem((*path, "type") if kind is not None else path, message)
        Section(doc, path, frozenset().union(*(yaml_keys(c) for c in choices)))
    return cls


def _type_name(cls: type) -> str:
    """The ``type:`` that selects ``cls``: its ``type`` field's default."""
    field = next(f for f in dataclasses.fields(cls) if f.name == "type")
    return str(field.default)


def _without_none(hint: Any) -> Any:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        rest = tuple(a for a in typing.get_args(hint) if a is not type(None))
        if len(rest) == 1:
            return rest[0]
    return hint


def _entry_types(hint: Any) -> tuple[type, ...]:
    """The dataclasses of a ``tuple[A, ...]`` or ``tuple[A | B, ...]`` field, else ()."""
    if typing.get_origin(hint) is not tuple:
        return ()
    item = typing.get_args(hint)[0]
    choices = typing.get_args(item) if isinstance(item, types.UnionType) else (item,)
    if all(dataclasses.is_dataclass(c) and isinstance(c, type) for c in choices):
        return tuple(choices)
    return ()


_BY_TYPE: Mapping[Any, Callable[[Any], Any]] = {
    str: as_str, bool: as_bool, int: as_int, float: as_float, timedelta: parse_duration,
    tuple[str, ...]: as_str_list,
}
_EMPTY: Mapping[Any, Any] = {str: "", Path: Path("."), tuple[str, ...]: ()}


def _parser_for(hint: Any, folder: Path) -> Callable[[Any], Any]:
    if typing.get_origin(hint) is Literal:
        return one_of(*typing.get_args(hint))
    if hint is Path:
        return functools.partial(relative_path, folder)
    if hint in _BY_TYPE:
        return _BY_TYPE[hint]
    raise TypeError(f"no parser for a {hint} key: give it key(parse=...)")


def _empty(hint: Any) -> Any:
    """What a missing required key reads as, so reading can carry on."""
    return _EMPTY.get(hint)


def relative_path(folder: Path, value: Any) -> Path:
    candidate = Path(as_str(value)).expanduser()
    return candidate if candidate.is_absolute() else (folder / candidate).resolve()
