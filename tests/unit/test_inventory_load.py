"""Loading valid configurations and inventories into typed, immutable objects."""

from __future__ import annotations

import dataclasses
import importlib.util
import ipaddress
import sys
from pathlib import Path

import pytest

from exporter.inventory import areas
from exporter.inventory.load import load, load_config
from exporter.inventory.model import AddressFamily, DeviceKind
from exporter.inventory.nodes import ConfigLoadError, parse_duration
from tests.conftest import REPO, SHARED, device_yaml, require, site_yaml

# The messages are checked in English (the catalogue's keys); test_config_messages.py reads
# them in Bahasa Indonesia, as they are shown by default.
pytestmark = pytest.mark.usefixtures("english")


def _place(province: str, name: str) -> str:
    return (
        f'    province: {{code: "{province}", name: {name}}}\n'
        f'    regency: {{code: "{province}.01", name: R}}\n'
        f'    district: {{code: "{province}.01.01", name: D}}\n'
        f'    village: {{code: "{province}.01.01.2001", name: V}}\n'
    )


def test_files_in_a_directory_merge_into_one_inventory(write_inventory) -> None:  # type: ignore[no-untyped-def]
    targets = write_inventory(device_yaml("bts-1", "127.0.0.1", kind="bts"), "")
    (targets / "regency").mkdir()
    (targets / "regency" / "sites.yml").write_text(
        "devices:\n"
        + device_yaml("rtr-1", "127.0.0.2", "parent: bts-1")
        + "sites:\n"
        + site_yaml("tps-1", ["rtr-1"])
        + site_yaml("tps-2", [])
    )
    (targets / ".hidden.yaml").write_text("not: [valid")  # editors' files are ignored
    _config, inventory = load(None, [targets])
    assert set(inventory.devices) == {"bts-1", "rtr-1"}
    assert inventory.devices["rtr-1"].parent == "bts-1"
    assert inventory.sites["tps-1"].devices == ("rtr-1",)
    assert inventory.sites["tps-2"].is_blank_spot
    assert [d.id for d in inventory.topological_devices()] == ["bts-1", "rtr-1"]
    assert inventory.sites_behind() == {"rtr-1": ("tps-1",), "bts-1": ("tps-1",)}
    assert inventory.children() == {"bts-1": ("rtr-1",)}


@pytest.mark.parametrize(
    ("province", "zone"),
    [
        ("21", "Asia/Jakarta"),  # Kepulauan Riau: WIB
        ("61", "Asia/Pontianak"),  # Kalimantan Barat: WIB, its own IANA zone
        ("63", "Asia/Makassar"),  # Kalimantan Selatan: WITA
        ("51", "Asia/Makassar"),  # Bali: WITA
        ("81", "Asia/Jayapura"),  # Maluku: WIT
        ("95", "Asia/Jayapura"),  # Papua Pegunungan: WIT
    ],
)
def test_timezone_is_derived_from_the_province(tmp_path: Path, province: str, zone: str) -> None:
    name = areas.PROVINCE_NAMES[province]
    (tmp_path / "s.yaml").write_text(
        f"sites:\n  - id: tps-1\n    name: T\n{_place(province, name)}"
    )
    _config, inventory = load(None, [tmp_path])
    assert inventory.sites["tps-1"].timezone == zone


def test_province_names_are_those_of_the_area_data() -> None:
    provinces = SHARED / "data" / "idn-area" / "provinces.csv"
    require(provinces.is_file(), "needs ../shared/data/idn-area")
    rows = [line.split(",", 1) for line in provinces.read_text().splitlines()[1:]]
    assert dict((code, name.strip()) for code, name in rows) == areas.PROVINCE_NAMES


def test_a_misspelt_area_name_is_refused_where_it_is_written(tmp_path: Path) -> None:
    # The code is right, the name is not: routed by name, its alerts would go to the national
    # NOC instead of the province; counted by name, its regency would be counted twice.
    riau = site_yaml("tps-1", [])
    typo = site_yaml("tps-2", []).replace("name: Kepulauan Riau", "name: Kepulauan Riao")
    other = site_yaml("tps-3", []).replace("name: Kota Batam", "name: Kota Batm")
    (tmp_path / "s.yaml").write_text("sites:\n" + riau + typo + other)
    with pytest.raises(ConfigLoadError) as caught:
        load(None, [tmp_path])
    messages = [str(e) for e in caught.value.errors]
    assert len(messages) == 2, messages
    assert messages[0].endswith(
        "sites[1].province.name: province 21 is 'Kepulauan Riau', not 'Kepulauan Riao'"
    )
    assert (
        f"sites[2].regency.name: regency 21.71 is named 'Kota Batam' at {tmp_path / 's.yaml'}:"
        in (messages[1])
    )
    assert messages[1].endswith(", not 'Kota Batm'")


def test_every_province_in_the_area_data_has_a_time_zone() -> None:
    provinces = SHARED / "data" / "idn-area" / "provinces.csv"
    require(provinces.is_file(), "needs ../shared/data/idn-area")
    codes = [line.split(",")[0] for line in provinces.read_text().splitlines()[1:]]
    assert len(codes) == 38
    assert [c for c in codes if areas.province_timezone(c) is None] == []


def test_timezone_alias_and_explicit_zone(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "sites:\n"
        + site_yaml("tps-1", [], "timezone: WITA\n")
        + site_yaml("tps-2", [], "timezone: Asia/Kuala_Lumpur\nlatitude: 3.1\nlongitude: 101.7\n")
    )
    _config, inventory = load(None, [tmp_path])
    assert inventory.sites["tps-1"].timezone == "Asia/Makassar"
    assert inventory.sites["tps-2"].timezone == "Asia/Kuala_Lumpur"
    assert (inventory.sites["tps-2"].latitude, inventory.sites["tps-2"].longitude) == (3.1, 101.7)


def test_codes_written_as_numbers_stay_codes(tmp_path: Path) -> None:
    # An operator writes `code: 21` and `code: 21.10`: YAML would read 21 and 21.1.
    (tmp_path / "s.yaml").write_text(
        "sites:\n  - id: tps-1\n    name: T\n    province: {code: 21, name: Kepulauan Riau}\n"
        "    regency: {code: 21.10, name: R}\n    district: {code: 21.10.01, name: D}\n"
        "    village: {code: 21.10.01.2001, name: V}\n"
    )
    _config, inventory = load(None, [tmp_path])
    assert inventory.sites["tps-1"].place.regency.code == "21.10"


def test_values_are_read_as_written_not_as_yaml_types(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "devices:\n  - {id: 2024-02-14, kind: router, address: 127.0.0.1, operator: no}\n"
        "  - {id: r2, kind: router, address: 127.0.0.2, operator: 'null', name: ~}\n"
    )
    _config, inventory = load(None, [tmp_path])
    assert inventory.devices["2024-02-14"].operator == "no"  # not False
    assert inventory.devices["r2"].operator == "null"  # quoted: text
    assert inventory.devices["r2"].name == ""  # plain ~: null


def test_device_overrides_and_defaults(tmp_path: Path) -> None:
    (tmp_path / "tps-exporter.yml").write_text(
        "targets: [inv]\nicmp: {interval: 1m, count: 5, max_rtt: 1500ms}\nstate: {down_after: 2}\n"
    )
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "d.yaml").write_text(
        "devices:\n"
        + device_yaml(
            "vsat-1",
            "VSAT-1.Example.",
            "icmp: {timeout: 3s}\ndown_after: 5\nfamily: ipv6\noperator: BAKTI\n",
            kind="vsat",
        )
        + device_yaml("rtr-1", "::1")
    )
    config, inventory = load(tmp_path / "tps-exporter.yml")
    assert config.targets == (tmp_path / "inv",)  # relative to the config file
    vsat = inventory.devices["vsat-1"]
    assert vsat.address == "vsat-1.example"
    assert vsat.kind is DeviceKind.VSAT and vsat.family is AddressFamily.IPV6
    assert (vsat.icmp.interval, vsat.icmp.count, vsat.icmp.timeout) == (60, 5, 3)
    assert vsat.icmp.max_rtt == 1.5
    assert vsat.state.down_after == 5
    assert inventory.devices["rtr-1"].state.down_after == 2
    assert inventory.devices["rtr-1"].icmp.timeout == 2  # the built-in default
    with pytest.raises(dataclasses.FrozenInstanceError):
        vsat.address = "127.0.0.1"  # type: ignore[misc]


def test_default_targets_are_beside_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "c.yml").write_text("icmp: {count: 2}\n")
    assert load_config(tmp_path / "c.yml").targets == (tmp_path / "targets",)
    (tmp_path / "empty.yml").write_text("# nothing set\n")
    assert load_config(tmp_path / "empty.yml").targets == (tmp_path / "targets",)


def test_targets_on_the_command_line_override_the_config(tmp_path: Path) -> None:
    (tmp_path / "c.yml").write_text("targets: [nowhere]\n")
    config = load_config(tmp_path / "c.yml", [tmp_path / "here"])
    assert config.targets == (tmp_path / "here",)


def test_config_file_errors_name_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "c.yml").write_text(
        "targets: [t]\nicmp:\n  interval: 10s\n  timeout: 20s\nstate: {down_afer: 2}\nextra: 1\n"
    )
    with pytest.raises(ConfigLoadError) as caught:
        load_config(tmp_path / "c.yml")
    c = str(tmp_path / "c.yml")
    assert [str(e) for e in caught.value.errors] == [
        f"{c}:3:3: icmp: a poll takes up to (count-1) x spacing + timeout = 22s, "
        "which must be shorter than interval (10s)",
        f"{c}:5:9: state.down_afer: unknown key (did you mean 'down_after'?); "
        "allowed: down_after, window, confirm_interval",
        f"{c}:6:1: extra: unknown key; allowed: targets, icmp, state, resolver, snmp, election, "
        "reload",
    ]


def test_missing_targets_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigLoadError, match="no such file or directory"):
        load(None, [tmp_path / "absent"])


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("1m30s", 90),
        ("500ms", 0.5),
        ("2", 2),
        ("0.25", 0.25),
        ("1h", 3600),
        ("1d", 86400),
        ("1.5s", 1.5),
        ("", None),
        ("30 sec", None),
        ("-1", None),
        ("1ms1s", None),
    ],
)
def test_parse_duration(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


def test_example_inventory_loads() -> None:
    config, inventory = load(REPO / "tps-exporter.yml")
    assert len(inventory.sites) == 3327  # Kepulauan Riau's TPS count for the 2024 Pilkada
    regencies = {s.place.regency.name for s in inventory.sites.values()}
    assert len(regencies) == 7
    villages = {s.place.village.code for s in inventory.sites.values()}
    assert len(villages) == 419
    assert 0 < sum(s.is_blank_spot for s in inventory.sites.values()) < 100
    assert {s.timezone for s in inventory.sites.values()} == {"Asia/Jakarta"}
    assert all(ipaddress.ip_address(d.address).is_loopback for d in inventory.devices.values())
    assert any(len(s.devices) > 1 for s in inventory.sites.values())
    assert config.icmp.interval == 30


def test_example_inventory_is_reproducible_from_the_area_data(tmp_path: Path) -> None:
    areas_dir = SHARED / "data" / "idn-area"
    require(areas_dir.is_dir(), "needs ../shared/data/idn-area")
    spec = importlib.util.spec_from_file_location(
        "make_example", REPO / "scripts" / "make_example_inventory.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_example"] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    files = module.build(areas_dir)
    committed = sorted(
        p.relative_to(REPO / "targets").as_posix() for p in (REPO / "targets").rglob("*.yaml")
    )
    assert sorted(files) == committed
    for path, text in files.items():
        assert (REPO / "targets" / path).read_text(encoding="utf-8") == text, path


def test_sites_of_a_village_share_one_place(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "sites:\n"
        + site_yaml("tps-1", [])
        + site_yaml("tps-2", [])
        + "  - id: tps-3\n    name: TPS 3\n"
        + _place("63", "Kalimantan Selatan")
    )
    _config, inventory = load(None, [tmp_path])
    one, two, three = (inventory.sites[i].place for i in ("tps-1", "tps-2", "tps-3"))
    assert one is two and one == two
    assert three is not one and three.province.name == "Kalimantan Selatan"
