"""The `tps-exporter` command: run the exporter, check an inventory, or probe one device."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from exporter import __version__, i18n, logs
from exporter.exposition.connections import (
    KEEPALIVE_TIMEOUT,
    CappedSite,
    connection_cap,
    raise_file_limit,
)
from exporter.exposition.web import make_app
from exporter.exposition.webconfig import WebConfig, load_web_config, server_context
from exporter.i18n import N_, _, n_
from exporter.inventory.importer import run_import
from exporter.inventory.model import Config, Inventory
from exporter.inventory.nodes import ConfigLoadError, did_you_mean
from exporter.pollers.icmp import IcmpPoller
from exporter.pollers.icmp_socket import IcmpPermissionError, IcmpTransport, SocketMode
from exporter.pollers.probe import probe
from exporter.pollers.resolver import Resolver
from exporter.pollers.snmp import SnmpPoller
from exporter.pollers.snmp_udp import EngineClient
from exporter.report import command as report_command
from exporter.runtime import Exporter, Source

log = logging.getLogger("tps_exporter")

# argparse's own words ("usage:", "options", its errors) are looked up through its module's `_`
# each time they are shown; pointing that at our catalogue gives them in the person's language.
ARGPARSE_TEXTS = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("unrecognized arguments: %s"),
    N_("the following arguments are required: %s"),
    N_("expected one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("invalid %(type)s value: %(value)r"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("%(prog)s: error: %(message)s\n"),
)
argparse._ = _  # type: ignore[attr-defined]

DEFAULT_CONFIG = Path("tps-exporter.yml")
DEFAULT_LISTEN = ":9811"
EXIT_CONFIG, EXIT_PERMISSION, EXIT_USAGE = 1, 2, 64


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    given = list(sys.argv[1:] if argv is None else argv)
    with i18n.language(i18n.from_argv(given)):
        return _main(given)


def _main(given: list[str]) -> int:
    """Run the command line `given`, in the language already chosen."""
    args = build_parser().parse_args(given)
    logs.setup(args.log_level, args.log_format)
    source = _source(args)
    if args.command == "check":
        return _check(source)
    if args.command == "probe":
        return asyncio.run(_probe(source, args.device_id, args.icmp_socket))
    if args.command == "import":
        return _import(args)
    if args.command == "report":
        return report_command.run(args)
    web_config = _web_config_or_report(args.web_config_file)
    if web_config is None:
        return EXIT_CONFIG
    return asyncio.run(_serve(source, args.web_listen_address, args.icmp_socket, web_config))


def _common(parser: argparse.ArgumentParser, default: object) -> None:
    """Add the flags every command takes; subcommands default to SUPPRESS to keep main's value."""

    def d(value: object) -> object:
        return value if default is None else default

    parser.add_argument(
        "--config.file",
        dest="config_file",
        type=Path,
        default=d(None),
        help=_("exporter configuration (default: tps-exporter.yml if present)"),
    )
    parser.add_argument(
        "--targets",
        dest="targets",
        type=Path,
        action="append",
        default=d([]),
        help=_("inventory file or directory; repeatable; overrides the config's"),
    )
    parser.add_argument("--log.level", dest="log_level", choices=list(logs.LEVELS),
                        default=d("info"), help=_("how much to log (default info)"))  # fmt: skip
    parser.add_argument("--log.format", dest="log_format", choices=["logfmt", "json"],
                        default=d("logfmt"), help=_("log lines as logfmt or JSON"))  # fmt: skip
    parser.add_argument("--lang", dest="lang", choices=i18n.LANGUAGES, default=d(i18n.DEFAULT),
                        help=_("language: id (default) or en; or set $TPS_LANG"))  # fmt: skip
    parser.add_argument("--shard", dest="shard", type=_shard, default=d((1, 1)), metavar="I/N",
                        help=_("poll only shard I of N (by site id), e.g. 2/4"))  # fmt: skip
    parser.add_argument("--icmp.socket", dest="icmp_socket", choices=["auto", "dgram", "raw"],
                        default=d("auto"),
                        help=_("auto: unprivileged datagram socket, else raw"))  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """Return the command line: a run, and the check, probe, import and report commands."""
    parser = argparse.ArgumentParser(
        prog="tps-exporter",
        description=_(
            "Poll the devices that connect polling stations (TPS) and export their "
            "state to Prometheus. Without a command it runs the exporter."
        ),
    )
    parser.add_argument("--version", action="version", version=f"tps-exporter {__version__}",
                        help=_("print the version and exit"))  # fmt: skip
    parser.add_argument("--web.listen-address", dest="web_listen_address", default=DEFAULT_LISTEN,
                        help=_("where to serve /metrics and the status page (default {listen})")
                        .format(listen=DEFAULT_LISTEN))  # fmt: skip
    parser.add_argument("--web.config.file", dest="web_config_file", type=Path, default=None,
                        help=_("TLS and basic auth (exporter-toolkit format)"))  # fmt: skip
    _common(parser, None)
    parser.set_defaults(command="run")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title=_("commands"))
    check = commands.add_parser("check", help=_("validate the configuration and inventory"),
                                description=_("Read the configuration and every inventory file "
                                              "and list every error with its file, line and key; "
                                              "change nothing."))  # fmt: skip
    _common(check, argparse.SUPPRESS)
    probe = commands.add_parser(
        "probe",
        help=_("poll one device now and print what came back"),
        description=_(
            "Ping and poll one device of the inventory once, as the exporter would; "
            "print each answer."
        ),
    )
    probe.add_argument("device_id", metavar="DEVICE_ID", help=_("the device's id in the inventory"))
    _common(probe, argparse.SUPPRESS)
    _import_parser(commands)
    report_command.add_parser(commands)
    return parser


def _import_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sheet = commands.add_parser(
        "import",
        help=_("turn sheets (CSV, .xlsx) of TPS and devices into inventory files"),
        description=_(
            "Read a sheet of TPS (one row per TPS, or per TPS and device) and, "
            "optionally, a sheet of devices; check every place against the area data; "
            "write one inventory file per regency under --out, only if all of it "
            "loads."
        ),
    )
    sheet.add_argument(
        "tps_sheet", type=Path, metavar="TPS_SHEET", help=_("the sheet of TPS: .csv or .xlsx")
    )
    sheet.add_argument("--sheet", help=_("the workbook sheet of TPS (default: the active one)"))
    sheet.add_argument("--devices", type=Path, metavar="SHEET", help=_("a sheet of devices"))
    sheet.add_argument("--devices-sheet", help=_("the workbook sheet of devices"))
    sheet.add_argument("--areas", type=Path, default=os.environ.get("TPS_AREAS"),
                       help=_("idn-area data directory (default: $TPS_AREAS)"))  # fmt: skip
    sheet.add_argument("--out", type=Path, default=Path("targets"),
                       help=_("targets directory to write into (default: targets)"))  # fmt: skip
    sheet.add_argument("--skip-invalid", action="store_true",
                       help=_("write the usable rows even if some are not"))  # fmt: skip
    sheet.add_argument("--dry-run", action="store_true", help=_("check and report; write nothing"))
    sheet.add_argument("--progress", choices=["auto", "always", "never"], default="auto",
                       help=_("progress bar on stderr (auto: when it is a terminal)"))  # fmt: skip


def _shard(text: str) -> tuple[int, int]:
    index, sep, count = text.partition("/")
    if not (sep and index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise argparse.ArgumentTypeError(
            _("expected I/N with 1 <= I <= N, like 2/4, not {text!r}").format(text=text)
        )
    return int(index), int(count)


def _source(args: argparse.Namespace) -> Source:
    config_file = args.config_file
    if config_file is None and not args.targets and DEFAULT_CONFIG.is_file():
        config_file = DEFAULT_CONFIG
    return Source(config_file, tuple(args.targets), args.shard)


def _load_or_report(source: Source, isolated: bool = False) -> tuple[Config, Inventory] | None:
    try:
        return source.load_isolated() if isolated else source.load()
    except ConfigLoadError as exc:
        print(n_("{count} error in the configuration or inventory:",
                 "{count} errors in the configuration or inventory:", len(exc.errors))
              .format(count=i18n.number(len(exc.errors))), file=sys.stderr)  # fmt: skip
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return None


def _web_config_or_report(path: Path | None) -> WebConfig | None:
    if path is None:
        return WebConfig()
    try:
        return load_web_config(path)
    except ConfigLoadError as exc:
        print(n_("{count} error in the web configuration:",
                 "{count} errors in the web configuration:", len(exc.errors))
              .format(count=i18n.number(len(exc.errors))), file=sys.stderr)  # fmt: skip
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return None


def _import(args: argparse.Namespace) -> int:
    if args.areas is None:
        print("import: " + _("give --areas DIR (the idn-area data) or set TPS_AREAS"),
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    show = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())
    return run_import(
        args.tps_sheet,
        args.devices,
        args.areas,
        args.out,
        sheets=(args.sheet, args.devices_sheet),
        skip_invalid=args.skip_invalid,
        dry_run=args.dry_run,
        progress=sys.stderr if show else None,
    )


def _check(source: Source) -> int:
    if source.config_file is None and not source.targets:
        print(_("no configuration found: there is no tps-exporter.yml here; give "
                "--config.file FILE or --targets DIR (a file or folder of inventory YAML)"),
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    loaded = _load_or_report(source)
    if loaded is None:
        return EXIT_CONFIG
    _config, inventory = loaded
    blank = sum(1 for s in inventory.sites.values() if s.is_blank_spot)
    shard = "" if source.shard == (1, 1) else " " + _("in shard {index}/{count}").format(
        index=source.shard[0], count=source.shard[1])  # fmt: skip
    print(_("OK: {sites} TPS ({blank} blank spots) and {devices} devices in {files} files{shard}")
          .format(sites=i18n.number(len(inventory.sites)), blank=i18n.number(blank),
                  devices=i18n.number(len(inventory.devices)),
                  files=i18n.number(len(inventory.files)), shard=shard))  # fmt: skip
    return 0


async def _probe(source: Source, device_id: str, mode: SocketMode) -> int:
    loaded = _load_or_report(source)
    if loaded is None:
        return EXIT_CONFIG
    config, inventory = loaded
    device = inventory.devices.get(device_id)
    if device is None:
        hint = did_you_mean(device_id, list(inventory.devices), cutoff=0.6, n=3)
        print(_("no device {id!r} in the inventory").format(id=device_id) + hint,
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    transport = _open_transport(mode)
    if transport is None:
        return EXIT_PERMISSION
    resolver = Resolver(config.resolver.refresh_interval, config.resolver.timeout)
    client = EngineClient(config.snmp_max_concurrent)
    try:
        snmp = SnmpPoller(client, resolver, config.snmp_auths, config.profiles)
        report = await probe(device, IcmpPoller(transport, resolver), snmp)
    finally:
        transport.close()
        resolver.close()
        client.close()
    print(report.text(), end="")
    return 0 if report.ok else 1


def _open_transport(mode: SocketMode) -> IcmpTransport | None:
    transport = IcmpTransport(mode)
    try:
        transport.open()
    except IcmpPermissionError as exc:
        print(exc, file=sys.stderr)
        return None
    return transport


def parse_listen_address(text: str) -> tuple[str | None, int]:
    """Split `host:port`, `[v6]:port` or `:port` (all interfaces)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(_("invalid --web.listen-address {text!r}; expected host:port or :port")
                         .format(text=text))  # fmt: skip
    host = host.strip("[]")
    return (host or None), int(port)


async def _serve(source: Source, listen: str, mode: SocketMode, web_config: WebConfig) -> int:
    try:
        host, port = parse_listen_address(listen)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    # A long-running process: load in a child so the parse's memory does not stay with us.
    loaded = _load_or_report(source, isolated=True)
    if loaded is None:
        return EXIT_CONFIG
    transport = _open_transport(mode)
    if transport is None:
        return EXIT_PERMISSION
    snmp_client = EngineClient(loaded[0].snmp_max_concurrent)
    exporter = Exporter(source, *loaded, transport, snmp_client)
    exporter.stats.socket_kinds = transport.socket_kinds
    runner = web.AppRunner(make_app(exporter, web_config), access_log=None, handle_signals=False,
                           keepalive_timeout=KEEPALIVE_TIMEOUT)  # fmt: skip
    await runner.setup()
    tls = server_context(web_config.tls) if web_config.tls else None
    cap = connection_cap(raise_file_limit())
    try:
        await CappedSite(runner, host, port, ssl_context=tls, cap=cap).start()
    except OSError as exc:
        print(_("cannot listen on {address}: {error}").format(address=listen,
              error=exc.strerror or exc), file=sys.stderr)  # fmt: skip
        await runner.cleanup()
        transport.close()
        return EXIT_USAGE
    exporter.start()
    sockets = ",".join(f"{family}={kind}" for family, kind in transport.socket_kinds.items())
    secured = {"tls": tls is not None, "basic_auth": bool(web_config.users)}
    log.info("listening", extra={"address": listen, "icmp_sockets": sockets, "max_connections": cap,
                                 **secured})  # fmt: skip
    await _wait_for_signals(exporter)
    log.info("shutting down")
    await exporter.stop()
    await runner.cleanup()
    transport.close()
    snmp_client.close()
    return 0


async def _wait_for_signals(exporter: Exporter) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reloads: set[asyncio.Task[list[str]]] = set()

    def reload() -> None:
        task = loop.create_task(exporter.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
