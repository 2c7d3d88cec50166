"""YAML loading that remembers where every value came from, for ``file:line:col`` errors.

PyYAML's composer gives nodes with marks; we convert them to plain Python values and keep a
map from each value's path (tuple of keys/indexes) to its 1-based line and column.
``${VAR}`` and ``${VAR:-default}`` in string scalars read the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from watcher.errors import Problem

YamlPath = tuple[str | int, ...]
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# libyaml's parser keeps the same marks and is several times faster on a rules.yaml of
# thousands of rules (docs/rules.md); the pure-Python one where PyYAML was built without it.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class YamlDoc:
    file: str
    data: Any
    value_marks: dict[YamlPath, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[YamlPath, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def where(self, path: YamlPath, *, key: bool = False) -> tuple[int, int]:
        """Line and column of the value (or its key) at ``path``, else of the nearest parent."""
        marks = self.key_marks if key else self.value_marks
        probe = path
        while probe:
            if probe in marks:
                return marks[probe]
            if probe in self.value_marks:
                return self.value_marks[probe]
            probe = probe[:-1]
        return self.value_marks.get((), (1, 1))

    def problem(self, path: YamlPath, message: str, *, key: bool = False,
                detail: str = "") -> Problem:
        line, col = self.where(path, key=key)
        found = Problem(self.file, line, col, message, detail)
        self.problems.append(found)
        return found


def expand_env(text: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace ``${VAR}`` references; returns the text and the names that were missing."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    return _ENV_REF.sub(substitute, text), missing


def load_yaml(path: Path, *, display_name: str | None = None,
              environ: Mapping[str, str] | None = None) -> YamlDoc:
    """Parse ``path``; syntax errors, duplicate keys and missing ``${VAR}`` become problems."""
    env = os.environ if environ is None else environ
    name = display_name or str(path)
    doc = YamlDoc(file=name, data=None)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        doc.problems.append(Problem(name, 1, 1, f"cannot read file: {exc.strerror or exc}"))
        return doc
    except UnicodeDecodeError as exc:
        doc.problems.append(Problem(name, 1, 1, f"not UTF-8: {exc.reason}"))
        return doc
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        doc.problems.append(Problem(name, line, col, f"YAML syntax error: {exc.problem}"))
        return doc
    except yaml.YAMLError as exc:
        doc.problems.append(Problem(name, 1, 1, f"YAML error: {exc}"))
        return doc
    if node is None:
        doc.data = {}
        return doc
    doc.data = _convert(node, (), doc, env)
    return doc


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _convert(node: yaml.Node, path: YamlPath, doc: YamlDoc, env: Mapping[str, str]) -> Any:
    doc.value_marks[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar_value(key_node)
            key_text = str(key)
            child = (*path, key_text)
            if key_text in result:
                line, col = _mark(key_node)
                doc.problems.append(Problem(doc.file, line, col, f"duplicate key '{key_text}'"))
                continue
            doc.key_marks[child] = _mark(key_node)
            result[key_text] = _convert(value_node, child, doc, env)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, index), doc, env) for index, item in enumerate(node.value)]
    value = _scalar_value(node)
    if isinstance(value, str) and "${" in value:
        value, missing = expand_env(value, env)
        for name in missing:
            line, col = _mark(node)
            doc.problems.append(
                Problem(doc.file, line, col, f"environment variable ${{{name}}} is not set"))
    return value


def _scalar_value(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return f"<{node.tag}>"
    if node.tag == _STR_TAG:
        return node.value  # most scalars of a rules file; nothing to resolve
    # Resolve the scalar with the safe constructor so "15" is an int and "yes" is a bool.
    return _constructor().construct_scalar_value(node)


_STR_TAG = "tag:yaml.org,2002:str"


class _ScalarConstructor(yaml.constructor.SafeConstructor):
    def construct_scalar_value(self, node: yaml.ScalarNode) -> Any:
        # construct_object remembers every node it built; a scalar needs none of that.
        return self.yaml_constructors.get(node.tag, type(self).construct_undefined)(self, node)


_made: list[_ScalarConstructor] = []


def _constructor() -> _ScalarConstructor:
    if not _made:
        _made.append(_ScalarConstructor())
    return _made[0]
