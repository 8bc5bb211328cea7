"""Reading a YAML input file: text encoding, safe loading, duplicate keys, key lines.

Every problem is an :class:`~sim.errors.InputError` naming the file and, where there is
one, the line: a file that is not UTF-8 (UTF-16 from a Windows editor, Latin-1), a key
given twice in one mapping (YAML would silently keep the last one), text that is not
YAML at all.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import yaml

from sim.errors import InputError


class _Loader(yaml.SafeLoader):
    """Safe YAML without implicit timestamps: ``2024-02-30`` stays text for the calendar
    check to report (PyYAML would raise a bare ValueError while building the date)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def decode_text(path: Path, raw: bytes) -> str:
    """``raw`` as UTF-8 text (a UTF-8 byte-order mark is allowed), or an InputError."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
        len(raw) > 1 and (raw[0] == 0 or raw[1] == 0)
    ):
        raise InputError(f"{path}: the file is UTF-16 text; expected UTF-8 (save it as UTF-8)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputError(
            f"{path}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x}); expected a UTF-8 "
            "file (save it as UTF-8)"
        ) from None


def line_map(path: Path, text: str) -> dict[tuple[str, ...], int]:
    """Key path -> 1-based line of that key; a key given twice in a mapping is an error."""
    lines: dict[tuple[str, ...], int] = {}
    seen_nodes: set[int] = set()

    def walk(node: yaml.Node, at: tuple[str, ...]) -> None:
        if id(node) in seen_nodes:  # an alias: walked already (and no exponential walk)
            return
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for k, v in node.value:
                name, line = str(k.value), k.start_mark.line + 1
                if name in first and name != "<<":
                    key = ".".join((*at, name))
                    raise InputError(
                        f"{path}:{line}: {key}: duplicate key (first given at line "
                        f"{first[name]}); give each key once"
                    )
                first[name] = line
                lines[(*at, name)] = line
                walk(v, (*at, name))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                lines[(*at, str(i))] = v.start_mark.line + 1
                walk(v, (*at, str(i)))

    root = yaml.compose(text, Loader=_Loader)
    if root is not None:
        walk(root, ())
    return lines


def read_yaml(path: Path, what: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    """The parsed content of ``path`` and the line of every key."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read {what} ({e.strerror})") from None
    text = decode_text(path, raw)
    try:
        lines = line_map(path, text)
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise InputError(f"{path}{where}: not valid YAML: {problem}") from None
    except RecursionError:
        raise InputError(f"{path}: not valid YAML: nested too deeply") from None
    return data, lines
