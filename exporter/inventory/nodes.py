"""Read typed values out of YAML nodes, collecting every error with its file, line and key path."""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml

from exporter import i18n
from exporter.i18n import _

try:  # libyaml makes large inventories load several times faster
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Node = yaml.Node
E = TypeVar("E", bound=enum.Enum)

_NULL_TAG = "tag:yaml.org,2002:null"
_STR_TAG = "tag:yaml.org,2002:str"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


class _TextLoader(_Loader):
    """Tag plain scalars as null or text only: values are read as written, never as YAML types.

    PyYAML's regex resolver is a quarter of the load time of a large inventory, and guessing
    ints, floats, booleans and dates is exactly what would turn code `21.10` into 21.1.
    """

    def resolve(self, kind: type[Node], value: str, implicit: tuple[bool, bool]) -> str:
        """Return the tag of a node: null or str for plain scalars, the default otherwise."""
        if kind is yaml.ScalarNode:
            return _NULL_TAG if implicit[0] and value in _NULLS else _STR_TAG
        return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]


_SCALAR_TEXT_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
}
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$")


@dataclass(frozen=True, slots=True)
class ConfigError:
    """One problem in a configuration or inventory file."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigLoadError(Exception):
    """Every problem found in one load, reported together."""

    def __init__(self, errors: list[ConfigError]) -> None:
        # In file order, so an operator can fix them top to bottom.
        self.errors = sorted(errors, key=lambda e: (e.file, e.line, e.column))
        super().__init__("\n".join(str(e) for e in self.errors))

    def __reduce__(self) -> tuple[type[ConfigLoadError], tuple[list[ConfigError]]]:
        # Loads run in a child process; the errors must cross back intact.
        return (ConfigLoadError, (self.errors,))


def mapping_keys(node: Node) -> tuple[str, ...]:
    """Return a mapping node's keys, for mappings whose keys are data (names), not a schema."""
    value = getattr(node, "value", None)
    if not isinstance(node, yaml.MappingNode) or not isinstance(value, list):
        return ()
    return tuple(str(k.value) for k, _ in value)


def join(path: str, key: str | int) -> str:
    """Return the key path of a child: `sites[3]`, `sites[3].devices`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


MAX_FILE_BYTES = 128 << 20  # a national shard's inventory is tens of MB
MAX_EXPANSION = 4  # aliases may make a file this many times its own nodes (plus a margin)
MAX_TEXT = 1024  # characters of a value, unless a key allows more
_SHOWN = 60  # characters of a wrong value echoed in an error
_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
         (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))  # fmt: skip


def read_text_file(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """Return a UTF-8 text file's text, or raise ValueError saying in words why it is not one."""
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        size = f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit:,} bytes"
        raise ValueError(_("larger than {size}: is it the right file?").format(size=size))
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise ValueError(_("the file is {name} text; save it as UTF-8").format(name=name))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValueError(
            _(
                "not UTF-8 text (line {line}, byte {start}): save it as UTF-8 (a spreadsheet's "
                "'CSV UTF-8', an editor's 'UTF-8' encoding)"
            ).format(line=line, start=exc.start)
        ) from None


def compose_file(path: Path, errors: list[ConfigError]) -> Node | None:
    """Parse one YAML file into a node tree, or record why it cannot be read."""
    try:
        text = read_text_file(path)
    except OSError as exc:
        errors.append(
            ConfigError(
                str(path),
                0,
                0,
                "",
                _("cannot read file: {value}").format(value=exc.strerror or exc),
            )
        )
        return None
    except ValueError as exc:
        errors.append(
            ConfigError(str(path), 0, 0, "", _("cannot read file: {exc}").format(exc=exc))
        )
        return None
    try:
        root = yaml.compose(text, Loader=_TextLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = yaml_problem(exc, text)
        errors.append(
            ConfigError(
                str(path), line, column, "", _("invalid YAML: {problem}").format(problem=problem)
            )
        )
        return None
    except yaml.YAMLError as exc:
        errors.append(ConfigError(str(path), 0, 0, "", _("invalid YAML: {exc}").format(exc=exc)))
        return None
    if root is not None and not _expansion_is_bounded(root):
        problem = _("its aliases (*name) repeat the same parts too many times; use fewer")
        errors.append(
            ConfigError(str(path), 0, 0, "", _("invalid YAML: {problem}").format(problem=problem))
        )
        return None
    return root


def yaml_problem(exc: yaml.MarkedYAMLError, text: str) -> str:
    """Say in words what is wrong where PyYAML stopped: tabs and indentation first, as those
    are what people hand-editing an inventory get wrong."""
    mark = exc.problem_mark or exc.context_mark
    started = exc.context_mark.line + 1 if exc.context_mark else 0
    lines = text.splitlines()
    here = lines[mark.line] if mark and mark.line < len(lines) else ""
    problem = exc.problem or ""
    if "\t" in here[: len(here) - len(here.lstrip())] or (
        mark and here[mark.column : mark.column + 1] == "\t"
    ):
        return _("a tab in the indentation: YAML indents with spaces only; replace the tab with "
                 "spaces")  # fmt: skip
    if (
        "expected '-' indicator" in problem
        or "expected <block end>" in problem
        or ("expected key" in problem)
    ):
        return _("the indentation of this line does not match the lines above it (the block "
                 "started on line {started}): indent it like the other items of the block, with "
                 "spaces").format(started=started)  # fmt: skip
    if "mapping values are not allowed" in problem:
        return _("a ':' where none can be: is this line indented too far, or does a value hold "
                 "': '? (put such a value in quotes)")  # fmt: skip
    if "could not find expected ':'" in problem:
        return _("a key without its ':' (the mapping started on line {started})").format(
            started=started
        )
    if "cannot start any token" in problem and mark and here[mark.column : mark.column + 1]:
        return _("a value cannot start with {char!r}: put the value in quotes").format(
            char=here[mark.column]
        )
    if exc.context and started and started != (mark.line + 1 if mark else 0):
        # Say where the unclosed construct began: that is usually the line to fix.
        return _("{problem} ({context} started on line {started})").format(
            problem=problem, context=exc.context, started=started
        )
    return problem or _("not YAML")


def _expansion_is_bounded(root: Node) -> bool:
    """Whether walking the tree, aliases followed, visits a bounded multiple of its nodes.

    Nested aliases ("billion laughs") make a small file a huge tree; sizes are counted once per
    distinct node, so the check itself is linear.
    """
    sizes: dict[int, int] = {}
    order: list[Node] = []
    stack = [root]
    while stack:  # every distinct node once, parents before children
        node = stack.pop()
        if id(node) in sizes:
            continue
        sizes[id(node)] = 1
        order.append(node)
        stack.extend(_children(node))
    for node in reversed(order):  # children before parents
        sizes[id(node)] = 1 + sum(sizes[id(c)] for c in _children(node))
    return sizes[id(root)] <= MAX_EXPANSION * len(order) + 10_000


def _children(node: Node) -> list[Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


class Reader:
    """Typed accessors over the nodes of one file; each failure becomes a `ConfigError`."""

    def __init__(self, file: str, errors: list[ConfigError]) -> None:
        self.file = file
        self.errors = errors

    def error(self, node: Node | None, path: str, message: str) -> None:
        """Record a problem at a node's position."""
        line, column = (node.start_mark.line + 1, node.start_mark.column + 1) if node else (0, 0)
        self.errors.append(ConfigError(self.file, line, column, path, message))

    @staticmethod
    def line(node: Node) -> int:
        """Return the 1-based line a node starts on."""
        return int(node.start_mark.line) + 1

    @staticmethod
    def is_null(node: Node | None) -> bool:
        """Return whether a node is absent or an explicit YAML null."""
        return node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG)

    def mapping(
        self,
        node: Node,
        path: str,
        allowed: Iterable[str],
        required: Iterable[str] = (),
    ) -> dict[str, Node] | None:
        """Return a mapping's children by key, rejecting unknown, duplicate and missing keys."""
        if not isinstance(node, yaml.MappingNode):
            self.error(node, path, _("must be a mapping, not {kind}").format(kind=_kind(node)))
            return None
        allowed = tuple(allowed)
        out: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(key_node, path, _("keys must be plain strings"))
                continue
            key = str(key_node.value)
            if key not in allowed:
                self.error(key_node, join(path, key), _unknown_key(key, allowed))
            elif key in out:
                first = self.line(out[key])
                self.error(
                    key_node,
                    join(path, key),
                    _("duplicate key (first set on line {first})").format(first=first),
                )
            else:
                out[key] = value_node
        missing = [key for key in required if self.is_null(out.get(key))]
        if len(missing) == 1:
            self.error(node, join(path, missing[0]), _("required key is missing"))
        elif missing:
            self.error(
                node,
                path,
                _("required keys are missing: {values}").format(values=", ".join(missing)),
            )
        return out

    def sequence(self, node: Node, path: str) -> list[Node] | None:
        """Return a list's items, or record that the node is not a list."""
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, path, _("must be a list, not {kind}").format(kind=_kind(node)))
            return None
        return list(node.value)

    def string(
        self,
        node: Node,
        path: str,
        pattern: re.Pattern[str] | None = None,
        max_length: int = MAX_TEXT,
    ) -> str | None:
        """Return a scalar's text as written (so `21` and `21.71` stay codes, not numbers)."""
        if not isinstance(node, yaml.ScalarNode) or node.tag not in _SCALAR_TEXT_TAGS:
            self.error(node, path, _("must be a string, not {kind}").format(kind=_kind(node)))
            return None
        text = str(node.value).strip()
        if not text:
            self.error(node, path, _("must not be empty"))
            return None
        if len(text) > max_length:
            self.error(
                node,
                path,
                _("is {count} characters long; at most {max_length}").format(
                    count=i18n.number(len(text)), max_length=i18n.number(max_length)
                ),
            )
            return None
        if pattern is not None and not pattern.fullmatch(text):
            self.error(
                node,
                path,
                _("{value} does not match {pattern}").format(
                    value=_shown(text), pattern=pattern.pattern
                ),
            )
            return None
        return text

    def integer(self, node: Node, path: str, low: int, high: int) -> int | None:
        """Return an integer within [low, high]."""
        text = self._scalar_text(node, path, "an integer")
        if text is None:
            return None
        try:
            value = int(text.replace("_", ""), 10)
        except ValueError:
            self.error(node, path, _("must be an integer, not {value}").format(value=_shown(text)))
            return None
        if not low <= value <= high:
            self.error(
                node,
                path,
                _("must be between {low} and {high}, not {value}").format(
                    low=low, high=high, value=value
                ),
            )
            return None
        return value

    def number(self, node: Node, path: str, low: float, high: float) -> float | None:
        """Return a number within [low, high]."""
        text = self._scalar_text(node, path, "a number")
        if text is None:
            return None
        try:
            value = float(text.replace("_", ""))
        except ValueError:
            self.error(node, path, _("must be a number, not {value}").format(value=_shown(text)))
            return None
        if not low <= value <= high:
            self.error(
                node,
                path,
                _("must be between {low} and {high}, not {value}").format(
                    low=format(low, "g"), high=format(high, "g"), value=format(value, "g")
                ),
            )
            return None
        return value

    def duration(self, node: Node, path: str, low: float, high: float) -> float | None:
        """Return a duration in seconds, written like `30s`, `1m30s`, `500ms` or plain seconds."""
        text = self._scalar_text(node, path, "a duration")
        if text is None:
            return None
        seconds = parse_duration(text)
        if seconds is None:
            self.error(
                node,
                path,
                _("must be a duration like 30s, 1m or 500ms, not {value}").format(
                    value=_shown(text)
                ),
            )
            return None
        if not low <= seconds <= high:
            self.error(
                node,
                path,
                _("must be between {duration} and {duration2}, not {text}").format(
                    duration=_fmt_s(low), duration2=_fmt_s(high), text=text
                ),
            )
            return None
        return seconds

    def choice(self, node: Node, path: str, enum_type: type[E]) -> E | None:
        """Return one of an enumeration's values, listing the valid ones on error."""
        text = self.string(node, path)
        if text is None:
            return None
        for member in enum_type:
            if member.value == text:
                return member
        valid = ", ".join(str(m.value) for m in enum_type)
        self.error(
            node,
            path,
            _("unknown value {value}; expected one of: {valid}").format(
                value=_shown(text), valid=valid
            ),
        )
        return None

    def _scalar_text(self, node: Node, path: str, what: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL_TAG:
            self.error(
                node, path, _("must be {what}, not {kind}").format(what=what, kind=_kind(node))
            )
            return None
        return str(node.value).strip()


def parse_duration(text: str) -> float | None:
    """Return seconds for a Prometheus-style duration or a plain number, or None."""
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return value if value >= 0 else None
    match = _DURATION.fullmatch(text)
    if not match or not text:
        return None
    days, hours, minutes, seconds, millis = (float(g) if g else 0.0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds + millis / 1000


def _fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:g}ms" if seconds < 1 else f"{seconds:g}s"


def _kind(node: Node | None) -> str:
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG):
        return _("empty (null)")
    if isinstance(node, yaml.MappingNode):
        return _("a mapping")
    if isinstance(node, yaml.SequenceNode):
        return _("a list")
    return _("the value {value}").format(value=_shown(str(node.value)))


def _shown(text: str) -> str:
    """Return a value for an error message: quoted, and cut short if it is long."""
    if len(text) <= _SHOWN:
        return repr(text)
    return _("{start!r}... ({count} characters)").format(
        start=text[:_SHOWN], count=i18n.number(len(text))
    )


def did_you_mean(word: str, known: Sequence[str], *, cutoff: float = 0.75, n: int = 1) -> str:
    """Return ` (did you mean 'x'?)` naming the closest of `known`, or "" when none is close:
    for keys, device ids in the inventory and on the command line alike."""
    close = difflib.get_close_matches(word, known, n=n, cutoff=cutoff)
    if not close:
        return ""
    return " " + _("(did you mean {ids}?)").format(ids=", ".join(map(repr, close)))


def _unknown_key(key: str, allowed: tuple[str, ...]) -> str:
    hint = did_you_mean(key, allowed)
    return _("unknown key{hint}; allowed: {allowed}").format(hint=hint, allowed=", ".join(allowed))
