"""The product's words for its codes: statuses, reasons, figures and device kinds, in one place.

Metrics, alerts and rules keep the codes (`device_down`); people read these words instead. The two
figures are defined here once and used everywhere: *siap* (ready) is the share of TPS up, the
figure Diskominfo reports; *bisa kirim* (can send) is the share up or degraded.
"""

from __future__ import annotations

from exporter.i18n import N_, _

STATUSES = {
    "up": N_("Up"),
    "degraded": N_("Degraded"),
    "down": N_("Down"),
    "blank_spot": N_("Blank spot"),
    "no_data": N_("No data"),
    "unreachable": N_("Unreachable"),
    "unknown": N_("Unknown"),
}
READY = N_("ready")  # the share of TPS up
CAN_SEND = N_("can send")  # the share of TPS up or degraded

REASONS = {
    "none": N_("all well"),
    "blank_spot": N_("no device connects this TPS"),
    "no_data": N_("not polled yet"),
    "device_down": N_("its device is down"),
    "upstream_down": N_("a device upstream is down"),
    "parent_down": N_("the device it hangs on is down"),
    "high_loss": N_("packets lost"),
    "high_latency": N_("slow link"),
    "wan_down": N_("the internet link (WAN) is down"),
    "timeout": N_("does not answer ping"),
    "unreachable": N_("no route to the device"),
    "time_exceeded": N_("no route to the device (loop)"),
    "send_error": N_("the exporter could not send"),
    "resolve_error": N_("its name does not resolve"),
    "snmp_timeout": N_("answers ping, but not SNMP"),
    "snmp_auth": N_("refuses the SNMP credentials"),
    "snmp_bad_response": N_("sends broken SNMP answers"),
    "snmp_no_such_object": N_("SNMP does not have the values asked"),
    "snmp_no_such_instance": N_("SNMP does not have the values asked"),
    "snmp_walk_too_long": N_("SNMP answer too long"),
    "snmp_send_error": N_("the exporter could not send SNMP"),
}


def status(code: str) -> str:
    """Return a status in words: `down` -> Mati."""
    return _(STATUSES[code]) if code in STATUSES else code


def reason(code: str) -> str:
    """Return a reason in words: `device_down` -> perangkatnya mati; an unknown code as it is."""
    if code in REASONS:
        return _(REASONS[code])
    if code.startswith("snmp_"):
        return _("SNMP fails ({code})").format(code=code.removeprefix("snmp_"))
    return code
