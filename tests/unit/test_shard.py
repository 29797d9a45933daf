"""Sharding the inventory: every site in exactly one shard, with every device it needs."""

from __future__ import annotations

import pytest

from exporter.inventory.load import load
from exporter.inventory.model import Inventory
from tests.conftest import REPO


@pytest.fixture(scope="module")
def example() -> Inventory:
    return load(REPO / "tps-exporter.yml")[1]


@pytest.mark.parametrize("count", [1, 2, 3, 8])
def test_shards_partition_the_sites_and_carry_their_devices(example: Inventory, count: int) -> None:
    shards = [example.shard(i, count) for i in range(1, count + 1)]
    site_ids = [s for shard in shards for s in shard.sites]
    assert sorted(site_ids) == sorted(example.sites)  # each site exactly once
    for shard in shards:
        for site in shard.sites.values():
            for device_id in (*site.devices, *site.power):
                current: str | None = device_id
                while current is not None:  # the device and every parent above it
                    assert current in shard.devices
                    current = shard.devices[current].parent
    # Sites that share devices shard together, so no field device is polled twice here.
    assert sum(len(s.devices) for s in shards) == len(example.devices)


def test_shards_are_balanced_and_stable(example: Inventory) -> None:
    sizes = [len(example.shard(i, 4).sites) for i in range(1, 5)]
    assert min(sizes) > len(example.sites) / 4 * 0.7
    assert example.shard(3, 4).sites.keys() == example.shard(3, 4).sites.keys()
