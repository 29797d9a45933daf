"""SNMP profiles: what to poll on a kind of device, and which metric each value becomes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from exporter.i18n import _
from exporter.inventory.nodes import ConfigError, Node, Reader, compose_file, join, mapping_keys
from exporter.metrics import catalogue

BUILTIN = Path(__file__).with_name("builtin_profiles.yaml")
OID = re.compile(r"[0-2](\.\d+)+")
LABEL = re.compile(r"[a-z_][a-z0-9_]*")
METRIC = re.compile(r"tps_[a-z0-9_]+")


@dataclass(frozen=True, slots=True)
class Source:
    """One OID a value may come from, and how to scale it into base units."""

    oid: str
    scale: float = 1.0


@dataclass(frozen=True, slots=True)
class Field:
    """One value: the metric it feeds, where it comes from, and how it is converted."""

    metric: str
    sources: tuple[Source, ...]  # the first one the agent has wins, row by row
    enum: tuple[tuple[int, str], ...] = ()  # raw value -> state label text (value 1)
    enum_label: str = "status"
    mapping: tuple[tuple[int, float], ...] = ()  # raw value -> metric value
    default: float | None = None  # for raw values the mapping does not list
    skip: frozenset[float] = frozenset()  # raw values that mean "no value", e.g. -9999
    fixed: tuple[tuple[str, str], ...] = ()  # fixed labels, e.g. radio="1" for a scalar


@dataclass(frozen=True, slots=True)
class Info:
    """An `_info` metric whose labels are text values read from the agent."""

    metric: str
    labels: tuple[tuple[str, tuple[str, ...]], ...]  # label -> OIDs, first present wins
    fixed: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Table:
    """Columns walked together, one row per index."""

    index_label: str
    columns: tuple[Field, ...]
    info: Info | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """What to poll on one kind of device."""

    name: str
    scalars: tuple[Field, ...] = ()
    info: Info | None = None
    tables: tuple[Table, ...] = ()
    origin: str = ""

    def get_oids(self) -> list[str]:
        """Return the scalar OIDs fetched with GET."""
        oids = [s.oid for f in self.scalars for s in f.sources]
        if self.info is not None:
            oids += [oid for _, choices in self.info.labels for oid in choices]
        return list(dict.fromkeys(oids))

    def walk_oids(self) -> list[str]:
        """Return the table columns walked with GETBULK."""
        oids = []
        for table in self.tables:
            oids += [s.oid for f in table.columns for s in f.sources]
            if table.info is not None:
                oids += [oid for _, choices in table.info.labels for oid in choices]
        return list(dict.fromkeys(oids))


@dataclass
class Profiles:
    """Profiles by name, and metrics that operators' own profile files declare."""

    profiles: dict[str, Profile] = field(default_factory=dict)
    metrics: dict[str, catalogue.Metric] = field(default_factory=dict)


def load_profiles(paths: list[Path], errors: list[ConfigError]) -> Profiles:
    """Read the built-in profiles, then the operator's files, which may add but not replace."""
    out = Profiles()
    for path in [BUILTIN, *paths]:
        _read_file(path, out, errors)
    return out


def _read_file(path: Path, out: Profiles, errors: list[ConfigError]) -> None:
    root = compose_file(path, errors)
    if root is None or Reader.is_null(root):
        return
    r = Reader(str(path), errors)
    top = r.mapping(root, "", ("metrics", "profiles"))
    if top is None:
        return
    if "metrics" in top:
        for i, node in enumerate(r.sequence(top["metrics"], "metrics") or ()):
            metric = _metric(r, node, join("metrics", i), out)
            if metric is not None:
                out.metrics[metric.name] = metric
    if "profiles" in top and (
        m := r.mapping(top["profiles"], "profiles", mapping_keys(top["profiles"]))
    ):
        for name, node in m.items():
            if name in out.profiles:
                r.error(
                    node,
                    join("profiles", name),
                    _("profile {name!r} is already defined ({origin})").format(
                        name=name, origin=out.profiles[name].origin
                    ),
                )
                continue
            profile = _profile(r, node, join("profiles", name), name, out)
            if profile is not None:
                out.profiles[name] = profile


def _metric(r: Reader, node: Node, path: str, out: Profiles) -> catalogue.Metric | None:
    m = r.mapping(node, path, ("name", "type", "help", "labels", "unit"),
                  required=("name", "type", "help"))  # fmt: skip
    if m is None or "name" not in m or "type" not in m or "help" not in m:
        return None
    name = r.string(m["name"], join(path, "name"), METRIC)
    kind = r.choice(m["type"], join(path, "type"), catalogue.Type)
    help_text = r.string(m["help"], join(path, "help"))
    labels: list[str] = ["device"]
    for i, label in enumerate(r.sequence(m["labels"], join(path, "labels")) or ()
                              if "labels" in m else ()):  # fmt: skip
        text = r.string(label, join(join(path, "labels"), i), LABEL)
        if text is not None and text != "device":
            labels.append(text)
    if name is None or kind is None or help_text is None:
        return None
    if name in catalogue.BY_NAME or name in out.metrics:
        r.error(
            m["name"], join(path, "name"), _("metric {name} is already declared").format(name=name)
        )
        return None
    if kind is catalogue.Type.COUNTER and not name.endswith("_total"):
        r.error(m["name"], join(path, "name"), _("a counter's name must end in _total"))
        return None
    unit = r.string(m["unit"], join(path, "unit")) if "unit" in m else ""
    return catalogue.Metric(name, kind, help_text, tuple(labels), unit or "")


def _profile(r: Reader, node: Node, path: str, name: str, out: Profiles) -> Profile | None:
    m = r.mapping(node, path, ("scalars", "info", "tables"))
    if m is None:
        return None
    ok = len(r.errors)
    scalars = tuple(
        f
        for item_path, n in _items(r, m, "scalars", path)
        if (f := _field(r, n, item_path, None, out)) is not None
    )
    info = _info(r, m["info"], join(path, "info"), None, out) if "info" in m else None
    tables = tuple(
        t
        for item_path, n in _items(r, m, "tables", path)
        if (t := _table(r, n, item_path, out)) is not None
    )
    if len(r.errors) > ok:
        return None
    if not scalars and info is None and not tables:
        r.error(node, path, _("a profile needs scalars, info or tables"))
        return None
    return Profile(name, scalars, info, tables, f"{r.file}:{r.line(node)}")


def _items(r: Reader, m: dict[str, Node], key: str, path: str) -> list[tuple[str, Node]]:
    """Return the items of an optional list with the key path of each."""
    if key not in m:
        return []
    return [
        (join(join(path, key), i), n)
        for i, n in enumerate(r.sequence(m[key], join(path, key)) or ())
    ]


def _table(r: Reader, node: Node, path: str, out: Profiles) -> Table | None:
    m = r.mapping(node, path, ("index_label", "columns", "info"),
                  required=("index_label", "columns"))  # fmt: skip
    if m is None or "index_label" not in m or "columns" not in m:
        return None
    index = r.string(m["index_label"], join(path, "index_label"), LABEL)
    if index is None:
        return None
    columns = tuple(
        f
        for i, n in enumerate(r.sequence(m["columns"], join(path, "columns")) or ())
        if (f := _field(r, n, join(join(path, "columns"), i), index, out)) is not None
    )
    info = _info(r, m["info"], join(path, "info"), index, out) if "info" in m else None
    return Table(index, columns, info)


_FIELD_KEYS = ("metric", "oid", "sources", "scale", "enum", "enum_label", "map", "default",
               "skip", "fixed")  # fmt: skip


def _field(r: Reader, node: Node, path: str, index: str | None, out: Profiles) -> Field | None:
    m = r.mapping(node, path, _FIELD_KEYS, required=("metric",))
    if m is None or "metric" not in m:
        return None
    ok = len(r.errors)
    metric = _known_metric(r, m["metric"], join(path, "metric"), out)
    sources = _sources(r, m, path)
    enum = _int_keyed(r, m, "enum", path, r.string)
    mapping = _int_keyed(r, m, "map", path, lambda n, p: r.number(n, p, -1e18, 1e18))
    default = r.number(m["default"], join(path, "default"), -1e18, 1e18) if "default" in m else None
    skip = frozenset(
        v for p, n in _items(r, m, "skip", path) if (v := r.number(n, p, -1e18, 1e18)) is not None
    )
    fixed = _fixed(r, m, path)
    enum_label = "status"
    if "enum_label" in m:
        enum_label = r.string(m["enum_label"], join(path, "enum_label"), LABEL) or enum_label
    if len(r.errors) > ok or metric is None or not sources:
        return None
    produced = {"device", *fixed, *([index] if index else []), *([enum_label] if enum else [])}
    _check_labels(r, m["metric"], join(path, "metric"), metric, produced)
    if enum and mapping:
        r.error(node, path, _("use either enum or map, not both"))
    return Field(metric.name, sources, tuple(enum.items()), enum_label, tuple(mapping.items()),
                 default, skip, tuple(sorted(fixed.items())))  # fmt: skip


def _info(r: Reader, node: Node, path: str, index: str | None, out: Profiles) -> Info | None:
    m = r.mapping(node, path, ("metric", "labels", "fixed"), required=("metric", "labels"))
    if m is None or "metric" not in m or "labels" not in m:
        return None
    fixed = _fixed(r, m, path)
    metric = _known_metric(r, m["metric"], join(path, "metric"), out)
    labels: list[tuple[str, tuple[str, ...]]] = []
    lm = r.mapping(m["labels"], join(path, "labels"), mapping_keys(m["labels"])) or {}
    for key, value in lm.items():
        oids = _oid_list(r, value, join(join(path, "labels"), key))
        if oids:
            labels.append((key, oids))
    if metric is None:
        return None
    produced = {"device", *fixed, *(k for k, _ in labels), *([index] if index else [])}
    # An info label the device does not report is rendered empty, which PromQL reads as absent.
    _check_labels(r, m["metric"], join(path, "metric"), metric, produced, subset=True)
    return Info(metric.name, tuple(labels), tuple(sorted(fixed.items())))


def _fixed(r: Reader, m: dict[str, Node], path: str) -> dict[str, str]:
    """Return labels with a fixed value, such as radio="1" for a device with one modem."""
    out: dict[str, str] = {}
    if "fixed" not in m:
        return out
    for key, value in (
        r.mapping(m["fixed"], join(path, "fixed"), mapping_keys(m["fixed"])) or {}
    ).items():
        text = r.string(value, join(join(path, "fixed"), key))
        if not LABEL.fullmatch(key):
            r.error(
                value,
                join(join(path, "fixed"), key),
                _("invalid label name {key!r}").format(key=key),
            )
        elif text is not None:
            out[key] = text
    return out


def _known_metric(r: Reader, node: Node, path: str, out: Profiles) -> catalogue.Metric | None:
    name = r.string(node, path)
    if name is None:
        return None
    metric = catalogue.BY_NAME.get(name) or out.metrics.get(name)
    if metric is None:
        r.error(
            node,
            path,
            _("unknown metric {name}: declare it under metrics: first").format(name=name),
        )
    return metric


def _check_labels(
    r: Reader,
    node: Node,
    path: str,
    metric: catalogue.Metric,
    produced: set[str],
    *,
    subset: bool = False,
) -> None:
    expected = set(metric.labels) - set(catalogue.POLLER_LABELS.get(metric.name, ()))
    if produced != expected and not (subset and produced <= expected and "device" in produced):
        r.error(
            node,
            path,
            _("{name} has labels {sorted}, but this mapping gives {sorted2}").format(
                name=metric.name, sorted=sorted(expected), sorted2=sorted(produced)
            ),
        )


def _sources(r: Reader, m: dict[str, Node], path: str) -> tuple[Source, ...]:
    scale = r.number(m["scale"], join(path, "scale"), -1e18, 1e18) if "scale" in m else 1.0
    if "oid" in m:
        return tuple(Source(oid, scale or 1.0) for oid in _oid_list(r, m["oid"], join(path, "oid")))
    if "sources" not in m:
        r.error(None, path, _("needs oid or sources"))
        return ()
    out = []
    for i, node in enumerate(r.sequence(m["sources"], join(path, "sources")) or ()):
        sm = r.mapping(node, join(join(path, "sources"), i), ("oid", "scale"), required=("oid",))
        if sm is None or "oid" not in sm:
            continue
        oid = r.string(sm["oid"], join(join(join(path, "sources"), i), "oid"), OID)
        factor = 1.0
        if "scale" in sm:
            scale_path = join(join(join(path, "sources"), i), "scale")
            factor = r.number(sm["scale"], scale_path, -1e18, 1e18) or 1.0
        if oid:
            out.append(Source(oid, factor))
    return tuple(out)


def _oid_list(r: Reader, node: Node, path: str) -> tuple[str, ...]:
    if hasattr(node, "value") and isinstance(node.value, list):
        items = r.sequence(node, path) or []
        return tuple(o for i, n in enumerate(items) if (o := r.string(n, join(path, i), OID)))
    oid = r.string(node, path, OID)
    return (oid,) if oid else ()


def _int_keyed(r: Reader, m: dict[str, Node], key: str, path: str, read):  # type: ignore[no-untyped-def]
    out: dict[int, object] = {}
    if key not in m:
        return out
    mapping = r.mapping(m[key], join(path, key), mapping_keys(m[key])) or {}
    for raw, node in mapping.items():
        try:
            number = int(raw)
        except ValueError:
            r.error(
                node,
                join(join(path, key), raw),
                _("keys must be integers, not {raw!r}").format(raw=raw),
            )
            continue
        value = read(node, join(join(path, key), raw))
        if value is not None:
            out[number] = value
    return out
