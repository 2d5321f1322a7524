"""The one reader of Tongban's configuration YAML: the systems file, connector configs, mappings, lookup files,
catalogues, calendars and the other settings files.

``yaml.safe_load`` reads YAML 1.1 as a machine would, and three of its habits turn a typo into silently wrong
configuration that only fails record by record, much later:

- a key written twice keeps the last one (a second ``result:`` field replaced the first, without a word):
  here it is an error naming the file, the line of both and the key;
- a mapping key is typed like a value: ``{01: issued, 02: not_permitted}`` had the *number* 1 as its key, so
  the source's ``'01'`` never matched; ``{07: b, 08: c}`` gave 7 and ``'08'`` (not octal); ``{yes: f, on: g}``
  collapsed into one key ``True``. Here every key is the text as written: ``'01'``, ``'08'``, ``'yes'``, ``'on'``;
- values keep their YAML types (``required: true``, ``size: 100``, ``holidays: [2026-10-01]``) — the files
  rely on them. A value that *means* text but was read as another type (``yes`` read as true, ``01`` read as 1)
  is for the reader of that value to refuse: the mapping compiler does so for code-table values of text and
  code fields (:mod:`gateway.mapping.targets`).

Every error is a :class:`~gateway.contract.errors.ConfigError` naming the file and the line::

    data = read_yaml(Path("mappings/jn_zjj.yaml"))
    doc = load_yaml_document(text, where="mappings/jn_zjj.yaml")
    doc.data, doc.line("fields", "result")        # the parsed data, and the line a key was written on
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gateway.contract.errors import ConfigError, yaml_problem

_MERGE = "tag:yaml.org,2002:merge"


class _ConfigLoader(yaml.SafeLoader):
    """``SafeLoader`` with mapping keys as written (merge keys ``<<`` still work). Duplicate keys are found on
    the composed nodes before this runs (:func:`_walk`), where the path to them is known."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:  # type: ignore[override]
        if not isinstance(node, MappingNode):
            raise ConstructorError(None, None, f"expected a mapping node, but found {node.id}", node.start_mark)
        self.flatten_mapping(node)  # merged keys first: the mapping's own keys override them, as YAML says
        mapping: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode):
                key: Any = key_node.value
            else:
                key = self.construct_object(key_node, deep=deep)
                if not isinstance(key, Hashable):
                    raise ConstructorError("while constructing a mapping", node.start_mark,
                                           "found an unhashable key", key_node.start_mark)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping


class WrittenInt(int):
    """An integer YAML read from text that is not how the number is written (``01``, ``010`` — octal 8 —, ``0x1F``,
    ``1_000``, ``1:30`` — 90): the text as written is kept (``written``) for a reader that compares it with what
    records hold, where ``'01'`` is a code and 1 is not (:mod:`gateway.mapping.compiler` refuses it in conditions)."""

    written: str

    def __new__(cls, value: int, written: str) -> WrittenInt:
        self = super().__new__(cls, value)
        self.written = written
        return self


def _construct_int(loader: yaml.SafeLoader, node: ScalarNode) -> int:
    value = yaml.SafeLoader.construct_yaml_int(loader, node)
    text = str(node.value)
    if text.lstrip("+-").isdigit() and not text.lstrip("+-").startswith("0"):
        return value  # written as it is: the common case, and no str() of a number of any length
    try:
        decimal = str(value)
    except ValueError:  # over Python's 4300 digits (0b1… of any length): its reader refuses it, saying so
        return value
    return value if text.lstrip("+") == decimal else WrittenInt(value, text)


_ConfigLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """A parsed configuration file: its data and the line each mapping key was written on."""

    where: str
    data: Any
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)
    duplicates: dict[str, ConfigError] = field(default_factory=dict)
    """By entry name: a key written twice inside one entry of the ``isolated`` mapping (or the entry's own name
    written twice) — that entry's mistake, not the whole file's (see :func:`load_yaml_document`)."""

    def line(self, *path: Any) -> int | None:
        """The 1-based line of the key at ``path`` (mapping keys as written, list positions as ints), if known."""
        return self.lines.get(tuple(path))

    def at(self, *path: Any) -> str:
        """``FILE: line N`` for the key at ``path`` (``FILE`` alone when the line is not known)."""
        line = self.line(*path)
        return f"{self.where}: line {line}" if line is not None else self.where


def _walk(node: Node | None, prefix: tuple[Any, ...], lines: dict[tuple[Any, ...], int], where: str,
          seen: set[int], inside: set[int], isolated: _Isolated | None = None) -> None:
    """Record the line of every key and list item; refuse a key written twice in one mapping, and an alias inside
    the node it names (``x: &loop [*loop]``: every reader of the data after this one recursed without end). A node
    reached again through an alias (``*x``) elsewhere is walked once: an alias bomb costs nothing here."""
    if id(node) in inside:
        mark = node.start_mark if node is not None else None
        line = f": line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where}{line}: an alias refers to a value that contains it (a recursive alias, "
                          f"under {'.'.join(map(str, prefix)) or 'the top'}): no setting can hold an endless value")
    if id(node) in seen:  # an alias: an entry that borrows a value with a key written twice shares its mistake
        if isolated is not None:
            isolated.borrowed(node, prefix)
        return
    seen.add(id(node))
    inside.add(id(node))
    try:
        _walk_children(node, prefix, lines, where, seen, inside, isolated)
    finally:
        inside.discard(id(node))


def _walk_children(node: Node | None, prefix: tuple[Any, ...], lines: dict[tuple[Any, ...], int], where: str,
                   seen: set[int], inside: set[int], isolated: _Isolated | None) -> None:
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isolated is not None and isinstance(key_node, ScalarNode) and key_node.tag == _MERGE:
                for merged in value_node.value if isinstance(value_node, SequenceNode) else [value_node]:
                    isolated.borrowed(merged, prefix, into=node)
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
                continue
            path = (*prefix, key_node.value)
            line = key_node.start_mark.line + 1
            if path in lines:
                under = f" under {'.'.join(map(str, prefix))}" if prefix else ""
                problem = ConfigError(
                    f"{where}: line {line}: key {key_node.value!r}{under} is written twice (first at line "
                    f"{lines[path]}); YAML would silently keep only the last one: remove or rename one of them")
                entry = isolated.entry(path) if isolated is not None else None
                if entry is None:
                    raise problem
                isolated.found.setdefault(entry, problem)
                isolated.tainted.setdefault(id(node), problem)
            lines[path] = line
            _walk(value_node, path, lines, where, seen, inside, isolated)
            if isolated is not None:
                isolated.spread(value_node, node)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*prefix, index)] = item.start_mark.line + 1
            _walk(item, (*prefix, index), lines, where, seen, inside, isolated)
            if isolated is not None:
                isolated.spread(item, node)


@dataclass
class _Isolated:
    """Where a key written twice is one entry's mistake: inside ``<mapping>.<entry>`` (or the entry's name itself)."""

    mapping: str
    found: dict[str, ConfigError] = field(default_factory=dict)
    tainted: dict[int, ConfigError] = field(default_factory=dict)
    """Nodes (by id) holding a key written twice, at any depth: an entry that reaches one through an alias
    (``c: *base``) or a merge (``<<: *base``) shares the mistake — YAML gave it the last value silently too."""

    def entry(self, path: tuple[Any, ...]) -> str | None:
        return str(path[1]) if len(path) >= 2 and path[0] == self.mapping else None

    def spread(self, child: Node | None, parent: Node) -> None:
        """A parent holds what its child holds."""
        if id(child) in self.tainted:
            self.tainted.setdefault(id(parent), self.tainted[id(child)])

    def borrowed(self, node: Node | None, prefix: tuple[Any, ...], into: Node | None = None) -> None:
        """``node`` reached again at ``prefix`` (an alias, or merged ``into`` a mapping there)."""
        problem = self.tainted.get(id(node))
        if problem is None:
            return
        entry = self.entry(prefix)
        if entry is None:
            raise problem  # borrowed outside the isolated entries: the whole file's mistake, as before
        self.found.setdefault(entry, problem)
        if into is not None:
            self.tainted.setdefault(id(into), problem)


def load_yaml_document(text: str, *, where: str, isolated: str | None = None) -> YamlDocument:
    """Parse one configuration document (see the module docstring); raises :class:`ConfigError`.

    ``isolated``: a top-level mapping whose entries are independent (``systems``): a key written twice inside one
    of them — or one entry's name written twice, a block pasted without renaming it — is that entry's mistake,
    kept in :attr:`YamlDocument.duplicates` for the caller to set the entry aside; it did not stop every other
    entry from loading (the DAG factory built nothing but its error DAG)."""
    loader = _ConfigLoader(text)
    lines: dict[tuple[Any, ...], int] = {}
    scope = _Isolated(isolated) if isolated is not None else None
    try:
        node = loader.get_single_node()
        _walk(node, (), lines, where, set(), set(), scope)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise yaml_problem(where, exc) from None
    except RecursionError:  # PyYAML's composer and constructor recurse: nesting thousands of levels deep
        raise ConfigError(f"{where}: nested too deeply to read (thousands of levels): no configuration needs "
                          "that; look for a runaway indentation or bracket") from None
    except ValueError as exc:  # not a YAMLError: int() of more than 4300 digits, a date like 2026-13-45
        raise _unreadable_value(text, where, exc) from None
    finally:
        loader.dispose()
    return YamlDocument(where, data, lines, scope.found if scope is not None else {})


def _unreadable_value(text: str, where: str, exc: ValueError) -> ConfigError:
    """What a value PyYAML's constructors raise ``ValueError`` for is, with its line when it can be found."""
    limit = sys.get_int_max_str_digits()
    long = re.search(r"\d{%d,}" % (limit + 1), text)
    if long is not None:
        line = text.count("\n", 0, long.start()) + 1
        return ConfigError(f"{where}: line {line}: an integer of more than {limit} digits is longer than any value a "
                           f"setting holds ({exc}): quote it if text was meant")
    return ConfigError(f"{where}: a value cannot be read: {exc}")


def load_yaml(text: str, *, where: str) -> Any:
    """The data of one configuration document (``None`` for an empty one); raises :class:`ConfigError`."""
    return load_yaml_document(text, where=where).data


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'defaults'?)`` when ``word`` is close to one of ``choices``, else ``''``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def refuse_unknown_keys(document: YamlDocument, allowed: Iterable[str], *, what: str) -> None:
    """Every top-level key of ``document`` is one of ``allowed`` (or starts with ``x-``/``x_``: a place to keep YAML
    anchors, as compose files do). A key written slightly wrong (``default:``, ``databse_url:``, ``holiday:``)
    was read by nobody, without a word: its settings silently did not apply. Raises :class:`ConfigError` naming
    the line, the key and the nearest right one."""
    if not isinstance(document.data, Mapping):
        return
    known = sorted(allowed)
    for key in document.data:
        if key in known or (isinstance(key, str) and key.startswith(("x-", "x_"))):
            continue
        raise ConfigError(f"{document.at(key)}: {key!r} is not a setting of {what}{did_you_mean(str(key), known)}; "
                          f"it has: {', '.join(known)}")


def read_config_text(path: str | Path, *, where: str | None = None) -> str:
    """The text of a configuration file: UTF-8, with or without a BOM (Windows Notepad writes one). A file saved in
    another encoding — GBK, what a Chinese Windows editor saves by default — is a :class:`ConfigError` naming the
    file, the line and what to do; it was a bare ``UnicodeDecodeError`` naming no file, and the DAG file lost every
    DAG to it."""
    path = Path(path)
    name = where or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read it: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        try:
            raw.decode("gb18030")
            guess = " (it reads as GBK/GB18030: a Chinese Windows editor's default)"
        except UnicodeDecodeError:
            guess = ""
        raise ConfigError(f"{name}: line {line}: the file is not UTF-8{guess}: save it as UTF-8") from None


def read_yaml(path: str | Path, *, where: str | None = None) -> Any:
    """:func:`load_yaml` of a file; a file that cannot be read is a :class:`ConfigError` naming it."""
    return load_yaml(read_config_text(path, where=where), where=where or str(path))


__all__ = ["WrittenInt", "YamlDocument", "did_you_mean", "load_yaml", "load_yaml_document", "read_config_text", "read_yaml",
           "refuse_unknown_keys"]
