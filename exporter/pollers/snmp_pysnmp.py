"""The SnmpClient implemented with pysnmp's asyncio API."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp, udp6
from pysnmp.error import PySnmpError
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    Udp6TransportTarget,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
    next_cmd,
)
from pysnmp.proto.errind import ErrorIndication, RequestTimedOut
from pysnmp.proto.error import StatusInformation
from pysnmp.proto.rfc1902 import ObjectName

from exporter.inventory.model import AuthProtocol, PrivProtocol, SnmpAuth, SnmpVersion
from exporter.pollers.snmp_client import (
    SnmpAuthError,
    SnmpBadResponseError,
    SnmpError,
    SnmpTarget,
    SnmpTimeoutError,
    SnmpType,
    VarBind,
)
from exporter.pollers.sockets import enlarge

# pysnmp's errorIndication names for credentials the agent refused.
_AUTH_ERRORS = ("wrongDigest", "unknownUserName", "unknownSecurityName", "decryptionError",
                "authenticationError", "unsupportedSecLevel", "unknownEngineID")  # fmt: skip
_AUTH_PROTOCOLS = {
    AuthProtocol.MD5: "usmHMACMD5AuthProtocol",
    AuthProtocol.SHA: "usmHMACSHAAuthProtocol",
    AuthProtocol.SHA224: "usmHMAC128SHA224AuthProtocol",
    AuthProtocol.SHA256: "usmHMAC192SHA256AuthProtocol",
    AuthProtocol.SHA384: "usmHMAC256SHA384AuthProtocol",
    AuthProtocol.SHA512: "usmHMAC384SHA512AuthProtocol",
}
_PRIV_PROTOCOLS = {
    PrivProtocol.DES: "usmDESPrivProtocol",
    PrivProtocol.AES: "usmAesCfb128Protocol",
    PrivProtocol.AES192: "usmAesCfb192Protocol",
    PrivProtocol.AES256: "usmAesCfb256Protocol",
}
_TYPES = {
    "Integer": SnmpType.INTEGER, "Integer32": SnmpType.INTEGER,
    "OctetString": SnmpType.OCTETS, "Bits": SnmpType.OCTETS,
    "ObjectIdentifier": SnmpType.OID, "ObjectName": SnmpType.OID,
    "IpAddress": SnmpType.IP_ADDRESS, "Counter32": SnmpType.COUNTER32,
    "Gauge32": SnmpType.GAUGE32, "Unsigned32": SnmpType.GAUGE32,
    "TimeTicks": SnmpType.TIMETICKS, "Counter64": SnmpType.COUNTER64,
    "Opaque": SnmpType.OPAQUE, "Null": SnmpType.NULL,
    "NoSuchObject": SnmpType.NO_SUCH_OBJECT, "NoSuchInstance": SnmpType.NO_SUCH_INSTANCE,
    "EndOfMibView": SnmpType.END_OF_MIB_VIEW,
}  # fmt: skip


class _BigBufferUdp(udp.UdpAsyncioTransport):  # type: ignore[misc]
    """pysnmp's UDP transport with a receive buffer large enough for many replies at once."""

    def connection_made(self, transport: asyncio.DatagramTransport) -> None:
        _enlarge(transport)
        super().connection_made(transport)


class _BigBufferUdp6(udp6.Udp6AsyncioTransport):  # type: ignore[misc]
    """The same for IPv6."""

    def connection_made(self, transport: asyncio.DatagramTransport) -> None:
        _enlarge(transport)
        super().connection_made(transport)


def _enlarge(transport: asyncio.DatagramTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    # At 200 concurrent requests the default ~208 KB overflowed and each lost reply cost a timeout.
    with contextlib.suppress(OSError):
        enlarge(sock)


class _Target4(UdpTransportTarget):  # type: ignore[misc]
    PROTO_TRANSPORT = _BigBufferUdp


class _Target6(Udp6TransportTarget):  # type: ignore[misc]
    PROTO_TRANSPORT = _BigBufferUdp6


class PysnmpClient:
    """GET and walk over one shared pysnmp engine, with a bound on requests in flight."""

    def __init__(self, max_concurrent: int = 64) -> None:
        self._engine = SnmpEngine()
        self._limit = asyncio.Semaphore(max_concurrent)
        # Keyed by the whole auth, so a reload that changes a password takes effect at once.
        self._auth_data: dict[SnmpAuth, Any] = {}

    async def get(self, target: SnmpTarget, oids: Sequence[str]) -> list[VarBind]:
        """Return the values of scalar OIDs, missing ones typed as no-such."""
        async with self._limit, _engine_errors():
            transport = await self._transport(target)
            result = await get_cmd(self._engine, self._auth(target.auth), transport,
                                   ContextData(contextName=target.auth.context_name),
                                   *(ObjectType(ObjectIdentity(o)) for o in oids),
                                   lookupMib=False)  # fmt: skip
        return [_varbind(vb) for vb in _checked(result)]

    async def walk(self, target: SnmpTarget, oid: str) -> list[VarBind]:
        """Return every value under `oid`, with GETBULK (GETNEXT for SNMPv1)."""
        prefix = ObjectName(oid)
        current = prefix
        out: list[VarBind] = []
        while True:
            async with self._limit, _engine_errors():
                result = await self._next(target, current)
            varbinds = _checked(result)
            if not varbinds:
                return out
            for name, value in varbinds:
                if not prefix.isPrefixOf(name) or type(value).__name__ == "EndOfMibView":
                    return out
                if name <= current:  # an agent that does not advance would loop forever
                    raise SnmpBadResponseError(f"OID not increasing after {current}")
                vb = _varbind((name, value))
                out.append(vb)
                current = name
                size = len(vb.oid) + (len(vb.value) if isinstance(vb.value, bytes) else 8)
                target.budget.charge(1, size, len(out))

    async def walk_columns(
        self, target: SnmpTarget, oids: Sequence[str]
    ) -> dict[str, list[VarBind]]:
        """Return every value under each column, one column after the other."""
        return {oid: await self.walk(target, oid) for oid in oids}

    async def _next(self, target: SnmpTarget, oid: Any) -> Any:
        """Ask for what follows `oid`: one GETBULK, or one GETNEXT for SNMPv1."""
        transport = await self._transport(target)
        auth = self._auth(target.auth)
        context = ContextData(contextName=target.auth.context_name)
        request = ObjectType(ObjectIdentity(oid))
        if target.auth.version is SnmpVersion.V1:
            return await next_cmd(self._engine, auth, transport, context, request, lookupMib=False)
        # Raw SMI types only: resolving names through MIBs is slow and changes value types.
        return await bulk_cmd(
            self._engine,
            auth,
            transport,
            context,
            0,
            target.max_repetitions,
            request,
            lookupMib=False,
        )

    def receive_buffer_bytes(self) -> int | None:
        """Return the IPv4 socket's receive buffer size, once a request has opened it."""
        dispatcher = self._engine.transport_dispatcher
        transport = dispatcher.get_transport(udp.DOMAIN_NAME) if dispatcher else None
        asyncio_transport = getattr(transport, "transport", None)
        sock = asyncio_transport.get_extra_info("socket") if asyncio_transport else None
        return None if sock is None else int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))

    def close(self) -> None:
        """Close the engine's sockets."""
        with contextlib.suppress(Exception):
            self._engine.close_dispatcher()

    async def _transport(self, target: SnmpTarget) -> Any:
        cls = _Target6 if ":" in target.address else _Target4
        return await cls.create((target.address, target.port), timeout=target.timeout,
                                retries=target.retries)  # fmt: skip

    def _auth(self, auth: SnmpAuth) -> Any:
        data = self._auth_data.get(auth)
        if data is None:
            data = self._auth_data[auth] = _auth_data(auth)
        return data


def _auth_data(auth: SnmpAuth) -> Any:
    import pysnmp.hlapi.v3arch.asyncio as hlapi  # noqa: PLC0415 - protocol objects by name

    if auth.version is not SnmpVersion.V3:
        assert auth.community is not None
        return CommunityData(
            auth.community.reveal(), mpModel=0 if auth.version is SnmpVersion.V1 else 1
        )
    kwargs: dict[str, Any] = {}
    if auth.auth_protocol is not None and auth.auth_password is not None:
        kwargs["authKey"] = auth.auth_password.reveal()
        kwargs["authProtocol"] = getattr(hlapi, _AUTH_PROTOCOLS[auth.auth_protocol])
    if auth.priv_protocol is not None and auth.priv_password is not None:
        kwargs["privKey"] = auth.priv_password.reveal()
        kwargs["privProtocol"] = getattr(hlapi, _PRIV_PROTOCOLS[auth.priv_protocol])
    return UsmUserData(auth.username, **kwargs)


@contextlib.asynccontextmanager
async def _engine_errors() -> AsyncIterator[None]:
    """Turn what pysnmp raises (rather than returns) into the client's error tree."""
    try:
        yield
    except StatusInformation as exc:
        indication = exc.get("errorIndication") if hasattr(exc, "get") else None
        if isinstance(indication, ErrorIndication):
            raise _indication_error(indication) from None
        raise SnmpBadResponseError(str(exc)) from None
    except PySnmpError as exc:
        raise SnmpBadResponseError(str(exc)) from None


def _indication_error(indication: Any) -> SnmpError:
    if isinstance(indication, RequestTimedOut):
        return SnmpTimeoutError(str(indication))
    name = type(indication).__name__
    if any(name.lower() == a.lower() for a in _AUTH_ERRORS) or "auth" in name.lower():
        return SnmpAuthError(str(indication))
    return SnmpError(f"{name}: {indication}")


def _checked(result: tuple[Any, Any, Any, Any]) -> list[tuple[Any, Any]]:
    """Return a response's varbinds, or raise the error it carries."""
    indication, status, index, varbinds = result
    if indication is not None:
        raise _indication_error(indication)
    if status and int(status) != 0:
        where = f" at {varbinds[int(index) - 1][0]}" if index and varbinds else ""
        raise SnmpBadResponseError(f"{status.prettyPrint()}{where}")
    return list(varbinds)


def _varbind(pair: tuple[Any, Any]) -> VarBind:
    name, value = pair
    kind = _TYPES.get(type(value).__name__)
    if kind is None:
        # Subclasses (TextualConventions) still carry their base SMI type.
        kind = next((t for base in type(value).__mro__ if (t := _TYPES.get(base.__name__))),
                    SnmpType.OPAQUE)  # fmt: skip
    oid = str(name)
    if kind in (SnmpType.NO_SUCH_OBJECT, SnmpType.NO_SUCH_INSTANCE, SnmpType.END_OF_MIB_VIEW,
                SnmpType.NULL):  # fmt: skip
        return VarBind(oid, kind, None)
    if kind is SnmpType.OCTETS or kind is SnmpType.OPAQUE:
        return VarBind(oid, kind, bytes(value.asOctets()))
    if kind is SnmpType.OID:
        return VarBind(oid, kind, str(value))
    if kind is SnmpType.IP_ADDRESS:
        return VarBind(oid, kind, value.prettyPrint())
    return VarBind(oid, kind, int(value))
