"""Every metric the exporter exposes, declared once: rules, dashboards and tests refer to this."""

from __future__ import annotations

import enum
from dataclasses import dataclass

NAMESPACE = "tps"


class Type(enum.StrEnum):
    """The Prometheus metric types used here (an `_info` metric is a gauge of value 1)."""

    GAUGE = "gauge"
    COUNTER = "counter"
    HISTOGRAM = "histogram"


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric family: its name, what it means, its labels and its unit."""

    name: str
    type: Type
    help: str
    labels: tuple[str, ...] = ()
    unit: str = ""

    def series_names(self) -> tuple[str, ...]:
        """Return the sample names this family produces (histograms have three)."""
        if self.type is Type.HISTOGRAM:
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


SITE_LABELS = (
    "site",
    "name",
    "province",
    "province_code",
    "regency",
    "regency_code",
    "district",
    "district_code",
    "village",
    "village_code",
    "timezone",
    "zone",
    "latitude",
    "longitude",
)
# The place and time zone of a device are those of most of the TPS behind it.
DEVICE_LABELS = ("device", "name", "kind", "operator", "address", "family", "parent",
                 "province", "regency", "district", "village", "timezone")  # fmt: skip

# Sites: one `_info` series carries the place; the others stay lean and join on `site`.
SITE_INFO = Metric(
    "tps_site_info",
    Type.GAUGE,
    "Metadata of a TPS: its place in the hierarchy, time zone and coordinates.",
    SITE_LABELS,
)
SITE_DEVICE_INFO = Metric(
    "tps_site_device_info",
    Type.GAUGE,
    "A device a TPS can send its results through (any one working is enough).",
    ("site", "device"),
)
SITE_POWER_INFO = Metric(
    "tps_site_power_device_info",
    Type.GAUGE,
    "A device that keeps a TPS's devices powered (UPS, solar controller).",
    ("site", "device"),
)
SITE_UP = Metric(
    "tps_site_up",
    Type.GAUGE,
    "Whether a TPS can reach the network now (1 up or degraded, 0 otherwise).",
    ("site",),
)
SITE_STATUS = Metric(
    "tps_site_status",
    Type.GAUGE,
    "The current status of a TPS (up, degraded, down, blank_spot, no_data), why, and the device "
    "at fault (the highest one down on its path); always 1.",
    ("site", "status", "reason", "device"),
)
SITE_STATUS_SINCE = Metric(
    "tps_site_status_since_timestamp_seconds",
    Type.GAUGE,
    "When a TPS entered its current status, as a Unix time.",
    ("site",),
    "seconds",
)
SITES = Metric("tps_sites", Type.GAUGE, "Number of TPS in each status.", ("status",))

# Devices.
DEVICE_INFO = Metric(
    "tps_device_info",
    Type.GAUGE,
    "Metadata of a device: kind, operator, address and parent device.",
    DEVICE_LABELS,
)
DEVICE_UP = Metric(
    "tps_device_up",
    Type.GAUGE,
    "Whether a device answers now (1 up or degraded, 0 otherwise).",
    ("device",),
)
DEVICE_STATUS = Metric(
    "tps_device_status",
    Type.GAUGE,
    "The current status of a device (up, degraded, down, unreachable, unknown) and why; always 1.",
    ("device", "status", "reason"),
)
DEVICE_STATUS_SINCE = Metric(
    "tps_device_status_since_timestamp_seconds",
    Type.GAUGE,
    "When a device entered its current status, as a Unix time.",
    ("device",),
    "seconds",
)
DEVICE_FAILURES = Metric(
    "tps_device_consecutive_failures",
    Type.GAUGE,
    "Polls in a row that got no answer from a device.",
    ("device",),
)
DEVICE_LAST_SUCCESS = Metric(
    "tps_device_last_success_timestamp_seconds",
    Type.GAUGE,
    "When a device last answered a poll, as a Unix time.",
    ("device",),
    "seconds",
)
DEVICE_LAST_POLL = Metric(
    "tps_device_last_poll_timestamp_seconds",
    Type.GAUGE,
    "When a device's last poll finished, as a Unix time.",
    ("device",),
    "seconds",
)
DEVICE_DEPENDENT_SITES = Metric(
    "tps_device_dependent_sites",
    Type.GAUGE,
    "Number of TPS that need a device, directly or through devices behind it.",
    ("device",),
)
ELECTION_PHASE = Metric(
    "tps_election_phase",
    Type.GAUGE,
    "The election phase now in each time zone (run_up, voting, counting, recap, none); always 1.",
    ("timezone", "zone", "phase", "election", "rehearsal"),
)
DEVICES = Metric("tps_devices", Type.GAUGE, "Number of devices in each status.", ("status",))

# ICMP measurements of the last poll of each device.
ICMP_RTT = Metric(
    "tps_icmp_rtt_seconds",
    Type.GAUGE,
    "Round-trip time of the last poll's echoes: min, avg or max.",
    ("device", "stat"),
    "seconds",
)
ICMP_LOSS = Metric(
    "tps_icmp_loss_ratio",
    Type.GAUGE,
    "Share of the last poll's echoes that got no reply in time.",
    ("device",),
    "ratio",
)
ICMP_JITTER = Metric(
    "tps_icmp_jitter_seconds",
    Type.GAUGE,
    "Mean difference between successive round trips in the last poll.",
    ("device",),
    "seconds",
)
ICMP_REQUESTS = Metric(
    "tps_icmp_echo_requests_total", Type.COUNTER, "Echo requests sent to a device.", ("device",)
)
ICMP_REPLIES = Metric(
    "tps_icmp_echo_replies_total",
    Type.COUNTER,
    "Echo replies received from a device in time.",
    ("device",),
)

# SNMP: whether the agent answers, and the values built-in profiles map from vendor MIBs.
SNMP_UP = Metric(
    "tps_snmp_up",
    Type.GAUGE,
    "Whether the device's SNMP agent answered its last poll (1) or not (0).",
    ("device",),
)
SNMP_DURATION = Metric(
    "tps_snmp_poll_duration_seconds",
    Type.GAUGE,
    "How long the device's last SNMP poll took.",
    ("device",),
    "seconds",
)
SNMP_ERRORS = Metric(
    "tps_snmp_errors_total",
    Type.COUNTER,
    "SNMP requests that failed, by reason (timeout, auth, no_such_object, bad_response, "
    "walk_too_long: a table past the poll's limits).",
    ("device", "reason"),
)
SNMP_LAST_SUCCESS = Metric(
    "tps_snmp_last_success_timestamp_seconds",
    Type.GAUGE,
    "When the device's SNMP agent last answered, as a Unix time.",
    ("device",),
    "seconds",
)
DEVICE_SNMP_INFO = Metric(
    "tps_device_snmp_info",
    Type.GAUGE,
    "What the device says it is over SNMP: sysName, sysDescr, sysObjectID.",
    ("device", "sys_name", "sys_descr", "sys_object_id"),
)
DEVICE_UPTIME = Metric(
    "tps_device_uptime_seconds",
    Type.GAUGE,
    "Time since the device's SNMP agent (re)started (sysUpTime).",
    ("device",),
    "seconds",
)
DEVICE_REBOOTS = Metric(
    "tps_device_reboots_total",
    Type.COUNTER,
    "Reboots seen by the exporter: times the device's uptime went backwards.",
    ("device",),
)
DEVICE_TEMPERATURE = Metric(
    "tps_device_temperature_celsius",
    Type.GAUGE,
    "Temperature of a device's sensor, in degrees Celsius.",
    ("device", "sensor"),
    "celsius",
)
DEVICE_VOLTAGE = Metric(
    "tps_device_supply_voltage_volts",
    Type.GAUGE,
    "Supply voltage measured by the device.",
    ("device", "sensor"),
    "volts",
)
DEVICE_WAN_UP = Metric(
    "tps_device_wan_up",
    Type.GAUGE,
    "Whether any of the device's WAN interfaces is operationally up (1) or none is (0).",
    ("device",),
)
INTERFACE_INFO = Metric(
    "tps_interface_info",
    Type.GAUGE,
    "Names of a device's interface, and whether it is marked as a WAN interface.",
    ("device", "interface", "name", "descr", "alias", "wan"),
)
INTERFACE_UP = Metric(
    "tps_interface_up",
    Type.GAUGE,
    "Whether an interface is operationally up (ifOperStatus up).",
    ("device", "interface"),
)
INTERFACE_ADMIN_UP = Metric(
    "tps_interface_admin_up",
    Type.GAUGE,
    "Whether an interface is administratively up (ifAdminStatus up).",
    ("device", "interface"),
)
INTERFACE_RX = Metric(
    "tps_interface_received_bytes_total",
    Type.COUNTER,
    "Bytes received on an interface (64-bit counter where the agent has one).",
    ("device", "interface"),
    "bytes",
)
INTERFACE_TX = Metric(
    "tps_interface_transmitted_bytes_total",
    Type.COUNTER,
    "Bytes sent on an interface (64-bit counter where the agent has one).",
    ("device", "interface"),
    "bytes",
)
INTERFACE_SPEED = Metric(
    "tps_interface_speed_bytes",
    Type.GAUGE,
    "Nominal speed of an interface, in bytes per second.",
    ("device", "interface"),
    "bytes",
)
UPS_BATTERY_STATUS = Metric(
    "tps_ups_battery_status",
    Type.GAUGE,
    "Battery status of a UPS (normal, low, depleted, unknown, ...); always 1.",
    ("device", "status"),
)
UPS_ON_BATTERY = Metric(
    "tps_ups_on_battery",
    Type.GAUGE,
    "Whether a UPS is feeding its load from the battery (mains lost).",
    ("device",),
)
UPS_CHARGE = Metric(
    "tps_ups_battery_charge_ratio",
    Type.GAUGE,
    "Battery charge remaining, 0 to 1.",
    ("device",),
    "ratio",
)
UPS_RUNTIME = Metric(
    "tps_ups_battery_runtime_seconds",
    Type.GAUGE,
    "Estimated time the battery can still carry the load.",
    ("device",),
    "seconds",
)
UPS_TIME_ON_BATTERY = Metric(
    "tps_ups_time_on_battery_seconds",
    Type.GAUGE,
    "Time since the UPS switched to battery (0 when on mains).",
    ("device",),
    "seconds",
)
UPS_VOLTAGE = Metric(
    "tps_ups_battery_voltage_volts", Type.GAUGE, "Battery voltage of a UPS.", ("device",), "volts"
)
UPS_TEMPERATURE = Metric(
    "tps_ups_battery_temperature_celsius",
    Type.GAUGE,
    "Battery temperature of a UPS, in degrees Celsius.",
    ("device",),
    "celsius",
)
RADIO_INFO = Metric(
    "tps_radio_info",
    Type.GAUGE,
    "A radio or modem of a device: network technology, operator and connection state.",
    ("device", "radio", "technology", "operator", "state"),
)
RADIO_RSSI = Metric(
    "tps_radio_rssi_dbm",
    Type.GAUGE,
    "Received signal strength (RSSI) of a radio or modem, in dBm.",
    ("device", "radio"),
    "dbm",
)
RADIO_RSRP = Metric(
    "tps_radio_rsrp_dbm",
    Type.GAUGE,
    "LTE reference signal received power (RSRP), in dBm.",
    ("device", "radio"),
    "dbm",
)
RADIO_RSRQ = Metric(
    "tps_radio_rsrq_db",
    Type.GAUGE,
    "LTE reference signal received quality (RSRQ), in dB.",
    ("device", "radio"),
    "db",
)
RADIO_SINR = Metric(
    "tps_radio_sinr_db",
    Type.GAUGE,
    "Signal to interference and noise ratio (SINR, or SNR where that is what the device has).",
    ("device", "radio"),
    "db",
)
RADIO_NOISE = Metric(
    "tps_radio_noise_floor_dbm",
    Type.GAUGE,
    "Noise floor seen by a radio, in dBm.",
    ("device", "radio"),
    "dbm",
)
RADIO_FREQUENCY = Metric(
    "tps_radio_frequency_hertz",
    Type.GAUGE,
    "Carrier frequency of a radio.",
    ("device", "radio"),
    "hertz",
)

# Labels the SNMP poller adds itself rather than reading them from the agent.
POLLER_LABELS: dict[str, tuple[str, ...]] = {"tps_interface_info": ("wan",)}

# The exporter itself.
POLLS = Metric(
    "tps_polls_total",
    Type.COUNTER,
    "Device polls completed, by protocol and result (success, failure).",
    ("protocol", "result"),
)
POLL_ERRORS = Metric(
    "tps_poll_errors_total",
    Type.COUNTER,
    "Polls that got no answer, by protocol and reason.",
    ("protocol", "reason"),
)
POLL_DURATION = Metric(
    "tps_poll_duration_seconds",
    Type.HISTOGRAM,
    "Time one poll of one device took, first request to last reply or deadline.",
    ("protocol",),
    "seconds",
)
POLL_LAG = Metric(
    "tps_poll_lag_seconds",
    Type.HISTOGRAM,
    "How late polls started against their schedule.",
    ("protocol",),
    "seconds",
)
POLL_OVERDUE = Metric(
    "tps_poll_overdue_seconds",
    Type.GAUGE,
    "How long the most overdue poll has been waiting to start (0 when on schedule).",
    ("protocol",),
    "seconds",
)
LOOP_LAG = Metric(
    "tps_event_loop_lag_seconds",
    Type.HISTOGRAM,
    "How late the event loop ran a task due every 100 ms: what every poll and scrape waits.",
    (),
    "seconds",
)
POLLS_SKIPPED = Metric(
    "tps_polls_skipped_total",
    Type.COUNTER,
    "Polls not started because the device's previous poll was still running.",
    ("protocol",),
)
SNMP_DISCARDED = Metric(
    "tps_snmp_replies_discarded_total",
    Type.COUNTER,
    "SNMP datagrams thrown away: unsolicited (from an address no request is waiting on, not "
    "decoded), malformed (do not decode) or unmatched (late, duplicated, a wrong request id).",
    ("reason",),
)
ICMP_SOCKET_INFO = Metric(
    "tps_icmp_socket_info",
    Type.GAUGE,
    "The kind of ICMP socket in use per address family (dgram or raw).",
    ("family", "kind"),
)
CONFIG_RELOAD_OK = Metric(
    "tps_config_last_reload_successful",
    Type.GAUGE,
    "Whether the last configuration and inventory reload succeeded.",
)
CONFIG_RELOAD_TIME = Metric(
    "tps_config_last_reload_success_timestamp_seconds",
    Type.GAUGE,
    "When the configuration and inventory were last loaded successfully, as a Unix time.",
    (),
    "seconds",
)
CONFIG_RELOADS = Metric(
    "tps_config_reloads_total",
    Type.COUNTER,
    "Reload attempts, by result (success, failure).",
    ("result",),
)
INVENTORY_SITES = Metric(
    "tps_inventory_sites",
    Type.GAUGE,
    "TPS in the inventory being polled (this shard's); a fall means files went missing.",
)
INVENTORY_DEVICES = Metric(
    "tps_inventory_devices",
    Type.GAUGE,
    "Devices in the inventory being polled (this shard's).",
)
BUILD_INFO = Metric(
    "tps_build_info",
    Type.GAUGE,
    "Version of tps-exporter and of the Python that runs it.",
    ("version", "python_version"),
)

# The process, under the names every Prometheus client library uses.
PROCESS_CPU = Metric(
    "process_cpu_seconds_total",
    Type.COUNTER,
    "Total user and system CPU time spent in seconds.",
    (),
    "seconds",
)
PROCESS_RSS = Metric(
    "process_resident_memory_bytes", Type.GAUGE, "Resident memory size in bytes.", (), "bytes"
)
PROCESS_START = Metric(
    "process_start_time_seconds",
    Type.GAUGE,
    "Start time of the process since unix epoch in seconds.",
    (),
    "seconds",
)
PROCESS_FDS = Metric("process_open_fds", Type.GAUGE, "Number of open file descriptors.")

# Families filled from SNMP profiles rather than written one by one by the renderer.
PROFILE_METRICS: tuple[Metric, ...] = (
    DEVICE_SNMP_INFO,
    DEVICE_UPTIME,
    DEVICE_TEMPERATURE,
    DEVICE_VOLTAGE,
    INTERFACE_INFO,
    INTERFACE_UP,
    INTERFACE_ADMIN_UP,
    INTERFACE_RX,
    INTERFACE_TX,
    INTERFACE_SPEED,
    UPS_BATTERY_STATUS,
    UPS_ON_BATTERY,
    UPS_CHARGE,
    UPS_RUNTIME,
    UPS_TIME_ON_BATTERY,
    UPS_VOLTAGE,
    UPS_TEMPERATURE,
    RADIO_INFO,
    RADIO_RSSI,
    RADIO_RSRP,
    RADIO_RSRQ,
    RADIO_SINR,
    RADIO_NOISE,
    RADIO_FREQUENCY,
)

CATALOGUE: tuple[Metric, ...] = (
    SITE_INFO,
    SITE_DEVICE_INFO,
    SITE_POWER_INFO,
    SITE_UP,
    SITE_STATUS,
    SITE_STATUS_SINCE,
    SITES,
    DEVICE_INFO,
    DEVICE_UP,
    DEVICE_STATUS,
    DEVICE_STATUS_SINCE,
    DEVICE_FAILURES,
    DEVICE_LAST_SUCCESS,
    DEVICE_LAST_POLL,
    DEVICE_DEPENDENT_SITES,
    ELECTION_PHASE,
    DEVICES,
    ICMP_RTT,
    ICMP_LOSS,
    ICMP_JITTER,
    ICMP_REQUESTS,
    ICMP_REPLIES,
    SNMP_UP,
    SNMP_DURATION,
    SNMP_ERRORS,
    SNMP_LAST_SUCCESS,
    *PROFILE_METRICS,
    DEVICE_REBOOTS,
    DEVICE_WAN_UP,
    POLLS,
    POLL_ERRORS,
    POLL_DURATION,
    POLL_LAG,
    POLL_OVERDUE,
    LOOP_LAG,
    POLLS_SKIPPED,
    SNMP_DISCARDED,
    ICMP_SOCKET_INFO,
    CONFIG_RELOAD_OK,
    CONFIG_RELOAD_TIME,
    CONFIG_RELOADS,
    INVENTORY_SITES,
    INVENTORY_DEVICES,
    BUILD_INFO,
    PROCESS_CPU,
    PROCESS_RSS,
    PROCESS_START,
    PROCESS_FDS,
)

BY_NAME: dict[str, Metric] = {m.name: m for m in CATALOGUE}


def series_names() -> set[str]:
    """Return every sample name the exporter can produce, for checking rules and dashboards."""
    return {name for metric in CATALOGUE for name in metric.series_names()}
