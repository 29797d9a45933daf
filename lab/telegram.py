"""A stand-in for Telegram's Bot API on loopback: it takes sendMessage as Telegram does and
refuses what Telegram refuses (over 4,096 characters, broken or unknown HTML), so tests, the
demo and the latency benchmark see each message exactly as a phone would, or see it lost."""

from __future__ import annotations

import html
import http.server
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

import yaml

from lab.local import serve_http

LIMIT = 4096  # characters of text after entities are parsed, counted in UTF-16 code units
# The tags Telegram's HTML mode knows (https://core.telegram.org/bots/api#html-style).
TAGS = frozenset({
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
    "span", "tg-spoiler", "tg-emoji", "blockquote",
})  # fmt: skip
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)([^<>]*)>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")


class TelegramError(ValueError):
    """What Telegram would answer instead of sending the message."""


def check_html(text: str) -> str:
    """Return the text a reader sees, or raise TelegramError as Telegram would refuse it."""
    seen: list[str] = []
    stack: list[str] = []
    at = 0
    for match in _TAG.finditer(text):
        seen.append(_plain(text[at : match.start()]))
        closing, name, rest = match.group(1), match.group(2).lower(), match.group(3)
        if name not in TAGS:
            raise TelegramError(f"can't parse entities: unsupported start tag {name!r}")
        if closing:
            if not stack or stack.pop() != name:
                raise TelegramError(f"can't parse entities: unexpected end tag {name!r}")
        else:
            if name == "a" and "href=" not in rest:
                raise TelegramError("can't parse entities: a link without href")
            stack.append(name)
        at = match.end()
    seen.append(_plain(text[at:]))
    if stack:
        raise TelegramError(
            f"can't parse entities: can't find end tag corresponding to {stack[-1]!r}"
        )
    return "".join(seen)


def _plain(segment: str) -> str:
    """Return a text segment with its entities read; <, > and bare & are errors."""
    for bad in ("<", ">"):
        if bad in segment:
            raise TelegramError(f"can't parse entities: unexpected {bad!r} outside a tag")
    for index in (m.start() for m in re.finditer("&", segment)):
        if not _ENTITY.match(segment, index):
            raise TelegramError("can't parse entities: a bare '&' (write &amp;)")
    return html.unescape(segment)


def check_message(text: str, parse_mode: str) -> str:
    """Return the text as shown, or raise TelegramError: empty, broken HTML, or too long."""
    shown = check_html(text) if parse_mode.upper() == "HTML" else text
    if not shown.strip():
        raise TelegramError("message text is empty")
    if len(shown.encode("utf-16-le")) // 2 > LIMIT:
        raise TelegramError("message is too long")
    return shown


@dataclass
class Message:
    """One sendMessage call: what was asked, what the phone shows, and Telegram's verdict."""

    chat_id: str
    text: str
    shown: str
    error: str
    at: float


@dataclass
class TelegramStandIn:
    """Serves /bot<token>/sendMessage on 127.0.0.1 and keeps every call, refused ones too."""

    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Called with each sendMessage call as it arrives (the demo prints it).
    on_message: Callable[[Message], None] = lambda _message: None

    def __post_init__(self) -> None:
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.endswith("/sendMessage"):
                    stand_in.answer(self, body)
                else:  # a webhook receiver pointed here too: taken, not a Telegram message
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server, self.url = serve_http(Handler)

    def answer(self, handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        """Check one call and reply as Telegram does: ok with the message, or 400 and why."""
        fields = _fields(body, handler.headers.get("Content-Type", ""))
        text, mode = str(fields.get("text", "")), str(fields.get("parse_mode", ""))
        try:
            shown, error = check_message(text, mode), ""
        except TelegramError as exc:
            shown, error = "", str(exc)
        message = Message(str(fields.get("chat_id", "")), text, shown, error, time.monotonic())
        with self.lock:
            self.messages.append(message)
        self.on_message(message)
        if error:
            reply = {"ok": False, "error_code": 400, "description": f"Bad Request: {error}"}
            status = 400
        else:
            chat = {"id": _integer(fields.get("chat_id")), "type": "group"}
            reply = {"ok": True, "result": {"message_id": len(self.messages), "date": 0,
                                            "chat": chat, "text": shown}}  # fmt: skip
            status = 200
        data = json.dumps(reply).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def sent(self, since: float = 0.0) -> list[Message]:
        """Return the messages Telegram would have delivered, received after `since`."""
        with self.lock:
            return [m for m in self.messages if m.at >= since and not m.error]

    def refused(self) -> list[Message]:
        """Return the calls Telegram would have refused."""
        with self.lock:
            return [m for m in self.messages if m.error]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _integer(value: object) -> int:
    """Return a chat id as the number Telegram answers with (clients send it as a string)."""
    try:
        return int(str(value))
    except ValueError:
        return 0


def _fields(body: bytes, content_type: str) -> dict[str, object]:
    if "json" in content_type:
        try:
            value = json.loads(body or b"{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    return dict(urllib.parse.parse_qsl(body.decode(errors="replace")))


def receivers_to(config: dict[str, object], webhook_url: str, telegram_url: str) -> str:
    """Return an Alertmanager config with its receivers pointed at local stand-ins, and only
    that changed."""
    for receiver in config["receivers"]:  # type: ignore[attr-defined]
        for telegram in receiver.get("telegram_configs", []):
            telegram["api_url"] = telegram_url
        receiver["webhook_configs"] = [{"url": f"{webhook_url}/{receiver['name']}"}]
    return yaml.safe_dump(config, allow_unicode=True)
