"""Device and site states from poll results: damping, parents, site reasons, thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.inventory.load import load
from exporter.inventory.model import Inventory
from exporter.pollers.results import Failure
from exporter.state.store import DeviceStatus, SiteStatus, Store
from tests.conftest import device_yaml, site_yaml
from tests.fakes import Clock, lost, ok, partial


def inventory(tmp_path: Path, devices: str, sites: str) -> Inventory:
    (tmp_path / "i.yaml").write_text(f"devices:\n{devices}sites:\n{sites}")
    return load(None, [tmp_path])[1]


@pytest.fixture
def chain(tmp_path: Path) -> Inventory:
    """A VSAT hub > BTS > router chain serving two TPS, a TPS with two ways out, a blank spot."""
    devices = (
        device_yaml("vsat-1", "127.0.0.1", kind="vsat")
        + device_yaml("bts-1", "127.0.0.2", "parent: vsat-1", kind="bts")
        + device_yaml("rtr-1", "127.0.0.3", "parent: bts-1")
        + device_yaml("sat-1", "127.0.0.4", kind="vsat")
    )
    sites = (
        site_yaml("tps-1", ["rtr-1"])
        + site_yaml("tps-2", ["rtr-1"])
        + site_yaml("tps-3", ["rtr-1", "sat-1"])
        + site_yaml("tps-4", [])
    )
    return inventory(tmp_path, devices, sites)


def status(store: Store, device_id: str) -> tuple[DeviceStatus, str]:
    state = store.devices[device_id]
    return state.status, state.reason


def site(store: Store, site_id: str) -> tuple[SiteStatus, str]:
    state = store.sites[site_id]
    return state.status, state.reason


def test_initial_states_are_no_data_and_blank_spot(chain: Inventory) -> None:
    store = Store(chain, Clock())
    assert status(store, "rtr-1") == (DeviceStatus.UNKNOWN, "no_data")
    assert site(store, "tps-1") == (SiteStatus.NO_DATA, "no_data")
    assert site(store, "tps-4") == (SiteStatus.BLANK_SPOT, "blank_spot")


def test_device_is_down_only_after_down_after_failures(chain: Inventory) -> None:
    clock = Clock()
    store = Store(chain, clock)
    for device_id in ("vsat-1", "bts-1", "rtr-1", "sat-1"):
        store.record_ping(device_id, ok())
    assert site(store, "tps-1") == (SiteStatus.UP, "none")
    first_failure = None
    for n in range(1, 3):  # two failures: still up (damping)
        clock.tick()
        first_failure = first_failure or clock.now
        store.record_ping("rtr-1", lost())
        assert status(store, "rtr-1") == (DeviceStatus.UP, "none"), n
        assert store.devices["rtr-1"].consecutive_failures == n
    clock.tick()
    store.record_ping("rtr-1", lost())
    assert status(store, "rtr-1") == (DeviceStatus.DOWN, "timeout")
    # Down since the first missed poll, not since damping let it show.
    assert store.devices["rtr-1"].since == first_failure
    assert site(store, "tps-1") == (SiteStatus.DOWN, "device_down")
    assert store.sites["tps-1"].since == first_failure
    # tps-3 still has its satellite access point: any one device is enough.
    assert site(store, "tps-3") == (SiteStatus.UP, "none")


def test_one_answer_brings_a_device_back_at_once(chain: Inventory) -> None:
    clock = Clock()
    store = Store(chain, clock)
    for _ in range(3):
        store.record_ping("rtr-1", lost(failure=Failure.UNREACHABLE))
    assert status(store, "rtr-1") == (DeviceStatus.DOWN, "unreachable")
    clock.tick()
    store.record_ping("rtr-1", ok())
    assert status(store, "rtr-1") == (DeviceStatus.UP, "none")
    assert store.devices["rtr-1"].since == clock.now
    assert store.devices["rtr-1"].last_success == clock.now
    assert store.devices["rtr-1"].consecutive_failures == 0


def test_never_answering_device_is_unknown_until_down_after(chain: Inventory) -> None:
    store = Store(chain, Clock())
    store.record_ping("sat-1", lost())
    store.record_ping("sat-1", lost())
    assert status(store, "sat-1") == (DeviceStatus.UNKNOWN, "no_data")
    store.record_ping("sat-1", lost(failure=Failure.RESOLVE_ERROR))
    assert status(store, "sat-1") == (DeviceStatus.DOWN, "resolve_error")


def test_children_of_a_down_parent_are_unreachable_not_down(chain: Inventory) -> None:
    clock = Clock()
    store = Store(chain, clock)
    for _ in range(3):
        for device_id in ("vsat-1", "bts-1", "rtr-1"):
            store.record_ping(device_id, lost())
    assert status(store, "vsat-1") == (DeviceStatus.DOWN, "timeout")
    assert status(store, "bts-1") == (DeviceStatus.UNREACHABLE, "parent_down")
    assert status(store, "rtr-1") == (DeviceStatus.UNREACHABLE, "parent_down")
    assert site(store, "tps-1") == (SiteStatus.DOWN, "upstream_down")
    # The hub comes back but the BTS is still silent: now the BTS itself is down.
    store.record_ping("vsat-1", ok())
    assert status(store, "bts-1") == (DeviceStatus.DOWN, "timeout")
    assert status(store, "rtr-1") == (DeviceStatus.UNREACHABLE, "parent_down")


def test_children_fail_before_their_parent_is_declared(chain: Inventory) -> None:
    # Order of arrival must not matter: the router is declared first, the hub after.
    store = Store(chain, Clock())
    for _ in range(3):
        store.record_ping("rtr-1", lost())
        store.record_ping("bts-1", lost())
    assert status(store, "rtr-1") == (DeviceStatus.UNREACHABLE, "parent_down")
    assert status(store, "bts-1") == (DeviceStatus.DOWN, "timeout")


def test_degraded_by_loss_over_the_window(chain: Inventory) -> None:
    store = Store(chain, Clock())
    store.record_ping("sat-1", ok())
    store.record_ping("sat-1", partial(received=2))  # 1 of 6 lost: 17% > 10%
    assert status(store, "sat-1") == (DeviceStatus.DEGRADED, "high_loss")
    for _ in range(8):
        store.record_ping("sat-1", ok())  # 1 of 30 lost: 3.3%
    assert status(store, "sat-1") == (DeviceStatus.UP, "none")


def test_degraded_by_latency_and_site_reason(chain: Inventory) -> None:
    store = Store(chain, Clock())
    store.record_ping("rtr-1", ok(rtt=1.2))  # over the 1 s default
    assert status(store, "rtr-1") == (DeviceStatus.DEGRADED, "high_latency")
    assert site(store, "tps-1") == (SiteStatus.DEGRADED, "high_latency")
    store.record_ping("sat-1", ok(rtt=0.6))
    assert site(store, "tps-3") == (SiteStatus.UP, "none")  # the better path wins


def test_failed_polls_do_not_count_as_loss_once_back(chain: Inventory) -> None:
    # An outage is a failure streak, not link quality: recovery is up, not degraded.
    store = Store(chain, Clock())
    store.record_ping("sat-1", ok())
    for _ in range(3):
        store.record_ping("sat-1", lost())
    store.record_ping("sat-1", ok())
    assert status(store, "sat-1") == (DeviceStatus.UP, "none")


def test_the_window_restarts_after_an_outage_so_its_edges_are_not_loss(chain: Inventory) -> None:
    store = Store(chain, Clock())
    state = store.devices["sat-1"]
    for _ in range(5):
        store.record_ping("sat-1", ok())
    store.record_ping("sat-1", partial(received=1))  # the power went off mid-poll
    for _ in range(3):
        store.record_ping("sat-1", lost())
    assert status(store, "sat-1") == (DeviceStatus.DOWN, "timeout")
    store.record_ping("sat-1", partial(received=1))  # and came back mid-poll
    assert status(store, "sat-1") == (DeviceStatus.UP, "none")
    assert (state.window_len, state.window_sent, state.window_loss()) == (0, 0, None)
    store.record_ping("sat-1", ok(rtt=0.2))
    assert (state.window_sent, state.window_received) == (3, 3)
    assert state.window_rtt() == pytest.approx(0.2)
    # A link still lossy after the repair is judged on the polls since.
    store.record_ping("sat-1", partial(received=2))
    assert status(store, "sat-1") == (DeviceStatus.DEGRADED, "high_loss")


def test_a_blip_shorter_than_damping_stays_in_the_window(chain: Inventory) -> None:
    # Not an outage the NOC was told of: echoes lost around it are the link's record.
    store = Store(chain, Clock())
    for _ in range(3):
        store.record_ping("sat-1", ok())
    store.record_ping("sat-1", partial(received=1))
    store.record_ping("sat-1", lost())
    store.record_ping("sat-1", ok())
    assert status(store, "sat-1") == (DeviceStatus.DEGRADED, "high_loss")  # 2 of 15 lost
    assert store.devices["sat-1"].window_len == 5


def test_counters_and_measurements(chain: Inventory) -> None:
    store = Store(chain, Clock())
    store.record_ping("sat-1", partial(received=2))
    store.record_ping("sat-1", lost(failure=Failure.SEND_ERROR))
    state = store.devices["sat-1"]
    assert (state.echo_requests, state.echo_replies) == (6, 2)
    assert store.polls == {("icmp", "success"): 1, ("icmp", "failure"): 1}
    assert store.poll_errors == {("icmp", "send_error"): 1}


def test_unknown_device_results_are_ignored(chain: Inventory) -> None:
    store = Store(chain, Clock())
    store.record_ping("removed-by-reload", ok())
    assert "removed-by-reload" not in store.devices


def test_adopt_keeps_state_of_unchanged_devices(chain: Inventory, tmp_path: Path) -> None:
    clock = Clock()
    old = Store(chain, clock)
    for _ in range(3):
        old.record_ping("rtr-1", lost())
    old.record_ping("sat-1", ok())
    clock.tick()
    (tmp_path / "new").mkdir()
    new_inventory = inventory(
        tmp_path / "new",
        device_yaml("rtr-1", "127.0.0.3") + device_yaml("sat-1", "127.0.0.99", kind="vsat"),
        site_yaml("tps-1", ["rtr-1"]) + site_yaml("tps-9", ["sat-1"]),
    )
    new = Store(new_inventory, clock)
    new.adopt(old)
    # rtr-1 lost its parent: still failing, now plainly down; since is kept from the old store.
    assert status(new, "rtr-1") == (DeviceStatus.DOWN, "timeout")
    assert new.devices["rtr-1"].since == old.devices["rtr-1"].since
    assert new.devices["rtr-1"].echo_requests == 9
    assert new.sites["tps-1"].since == old.sites["tps-1"].since
    # sat-1 now has another address: it starts afresh.
    assert status(new, "sat-1") == (DeviceStatus.UNKNOWN, "no_data")
    assert new.polls == old.polls


def test_a_down_site_names_the_device_really_down(chain: Inventory) -> None:
    store = Store(chain, Clock())
    for _ in range(3):
        for device_id in ("vsat-1", "bts-1", "rtr-1"):
            store.record_ping(device_id, lost())
    # The router and the BTS are only unreachable: the VSAT hub above them is the one down.
    assert (store.sites["tps-1"].reason, store.sites["tps-1"].device) == ("upstream_down", "vsat-1")
    store.record_ping("vsat-1", ok())
    assert (store.sites["tps-1"].reason, store.sites["tps-1"].device) == ("upstream_down", "bts-1")
    store.record_ping("bts-1", ok())
    assert (store.sites["tps-1"].reason, store.sites["tps-1"].device) == ("device_down", "rtr-1")
    store.record_ping("rtr-1", ok())
    assert (store.sites["tps-1"].status, store.sites["tps-1"].device) == (SiteStatus.UP, "")


def test_sites_behind_a_device_count_those_behind_its_children(chain: Inventory) -> None:
    behind = chain.sites_behind()
    assert behind["vsat-1"] == behind["bts-1"] == behind["rtr-1"] == ("tps-1", "tps-2", "tps-3")
    assert behind["sat-1"] == ("tps-3",)


def test_the_adequacy_window_holds_exactly_the_last_polls(chain: Inventory) -> None:
    store = Store(chain, Clock())
    state = store.devices["sat-1"]
    polls = [(3, 3, 0.3), (3, 1, 0.1), (3, 2, 0.4), (3, 0, 0.0), (3, 3, 0.6)]
    for sent, received, rtt_sum in polls:
        state.add_to_window((sent, received, rtt_sum))
    last = polls[-state.device.state.window :]  # the default window (10) holds all five
    assert (state.window_sent, state.window_received) == (15, 9)
    assert state.window_rtt_sum == pytest.approx(sum(p[2] for p in last))
    for _ in range(20):  # wrap the ring twice: only the last 10 remain
        state.add_to_window((2, 1, 0.5))
    assert (state.window_sent, state.window_received) == (20, 10)
    assert state.window_rtt_sum == pytest.approx(5.0)
    assert state.window_loss() == pytest.approx(0.5) and state.window_rtt() == pytest.approx(0.5)
