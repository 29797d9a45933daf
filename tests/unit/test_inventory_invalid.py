"""Each invalid inventory in tests/testdata/invalid gives exactly these errors: file, line, key."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.inventory.load import load
from exporter.inventory.nodes import ConfigLoadError
from tests.conftest import REPO

# The messages are checked in English (the catalogue's keys); test_config_messages.py reads
# them in Bahasa Indonesia, as they are shown by default.
pytestmark = pytest.mark.usefixtures("english")

D = "tests/testdata/invalid"
ALLOWED = (
    "allowed: id, name, kind, operator, address, family, parent, checks, icmp, snmp, down_after"
)
EXPECTED: dict[str, list[str]] = {
    "bad_yaml.yaml": [
        f"{D}/bad_yaml.yaml:5:6: invalid YAML: did not find expected ',' or ']' "
        "(while parsing a flow sequence started on line 4)",
    ],
    "unknown_key.yaml": [
        f"{D}/unknown_key.yaml:2:5: devices[0].address: required key is missing",
        f"{D}/unknown_key.yaml:4:5: devices[0].adress: unknown key (did you mean 'address'?); "
        + ALLOWED,
    ],
    "duplicate_id.yaml": [
        f"{D}/duplicate_id.yaml:3:5: devices[1].id: duplicate id 'rtr-1' "
        f"(first at {D}/duplicate_id.yaml:2)",
    ],
    "duplicate_across_files": [
        f"{D}/duplicate_across_files/b.yaml:4:5: devices[1].id: duplicate id 'bts-1' "
        f"(first at {D}/duplicate_across_files/a.yaml:2)",
    ],
    "duplicate_key.yaml": [
        f"{D}/duplicate_key.yaml:5:5: devices[0].kind: duplicate key (first set on line 3)",
    ],
    "dangling_parent.yaml": [
        f"{D}/dangling_parent.yaml:5:13: devices[0].parent: unknown device 'bts-missing'",
    ],
    "dangling_site_device.yaml": [
        f"{D}/dangling_site_device.yaml:10:22: sites[0].devices[1]: unknown device 'rtr-2' "
        "(did you mean 'rtr-1'?)",
    ],
    "parent_cycle.yaml": [
        f"{D}/parent_cycle.yaml:2:56: devices[0].parent: parent cycle: "
        "bts-a -> bts-c -> bts-b -> bts-a",
        f"{D}/parent_cycle.yaml:5:59: devices[3].parent: parent cycle: rtr-1 -> rtr-1",
    ],
    "bad_address.yaml": [
        f"{D}/bad_address.yaml:2:40: devices[0].address: '300.1.2.3' is not an IPv4 address, "
        "an IPv6 address or a valid hostname",
        f"{D}/bad_address.yaml:3:40: devices[1].address: ::1 is an IPv6 address but family is ipv4",
        f"{D}/bad_address.yaml:4:40: devices[2].address: 'router_3.example' is not an IPv4 "
        "address, an IPv6 address or a valid hostname",
    ],
    "bad_area_code.yaml": [
        f"{D}/bad_area_code.yaml:7:14: sites[0].village.code: "
        "village code 21.72.01.1001 is not inside 21.71.10",
        f"{D}/bad_area_code.yaml:12:22: sites[1].district.code: "
        "'21.71.1' does not match \\d{2}\\.\\d{2}\\.\\d{2}",
    ],
    "missing_required.yaml": [
        f"{D}/missing_required.yaml:2:5: sites[0].village: required key is missing",
        f"{D}/missing_required.yaml:8:5: devices[0].kind: required key is missing",
    ],
    "bad_durations.yaml": [
        f"{D}/bad_durations.yaml:6:17: devices[0].icmp.interval: "
        "must be a duration like 30s, 1m or 500ms, not '30 sec'",
        f"{D}/bad_durations.yaml:7:14: devices[0].icmp.count: must be between 1 and 100, not 0",
        f"{D}/bad_durations.yaml:11:11: devices[1].icmp: a poll takes up to (count-1) x spacing "
        "+ timeout = 4s, which must be shorter than interval (2s)",
    ],
    "bad_site_values.yaml": [
        f"{D}/bad_site_values.yaml:2:5: sites[0]: "
        "latitude and longitude go together: set both or neither",
        f"{D}/bad_site_values.yaml:8:15: sites[0].timezone: unknown time zone 'Asia/Batam'",
        f"{D}/bad_site_values.yaml:12:15: sites[1].province.code: "
        "unknown province 99; set timezone for this site",
        f"{D}/bad_site_values.yaml:16:15: sites[1].latitude: must be between -90 and 90, not 91",
    ],
    "wrong_types.yaml": [
        f"{D}/wrong_types.yaml:2:3: devices: must be a list, not a mapping",
        f"{D}/wrong_types.yaml:4:5: sites[0]: must be a mapping, not the value 'just a string'",
        f"{D}/wrong_types.yaml:5:5: sites[1]: "
        "required keys are missing: province, regency, district, village",
        f"{D}/wrong_types.yaml:7:14: sites[1].devices: must be a list, not the value 'rtr-1'",
    ],
    "unknown_check.yaml": [
        f"{D}/unknown_check.yaml:2:60: devices[0].checks[0]: "
        "unknown value 'http'; expected one of: icmp, snmp",
        f"{D}/unknown_check.yaml:3:59: devices[1].checks: "
        "must name at least one check (icmp, snmp)",
        f"{D}/unknown_check.yaml:4:67: devices[2].owner: unknown key; " + ALLOWED,
    ],
}


def test_every_invalid_file_has_an_expectation() -> None:
    on_disk = {p.name for p in (REPO / D).iterdir()}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_invalid_inventory_gives_exact_errors(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    with pytest.raises(ConfigLoadError) as caught:
        load(None, [Path(D) / name])
    assert [str(e) for e in caught.value.errors] == EXPECTED[name]
