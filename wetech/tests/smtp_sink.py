"""A real SMTP server for the tests: aiosmtpd on a free loopback port, in a thread.

It keeps every message it accepted (with its Message-ID and envelope recipients). It can be
stopped and started again on the same port (a mail server that is down, then back), refuse some
recipients for good (550), or stall a DATA command until told to go on (a server that has not yet
accepted a message when its client dies); a stalled message is then refused, never kept.
"""

import asyncio
import email
import threading
from dataclasses import dataclass
from email.message import Message

from aiosmtpd.controller import Controller

from wetech.tests.worker_helpers import free_port


@dataclass(frozen=True)
class Received:
    message_id: str
    rcpt_tos: tuple[str, ...]
    subject: str
    message: Message


class _Handler:
    def __init__(self, sink: "SmtpSink"):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.sink.refused:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.sink.stall_next.is_set():
            self.sink.stall_next.clear()
            self.sink.stalled.set()
            await asyncio.get_running_loop().run_in_executor(None, self.sink.go_on.wait)
            return "451 4.3.0 Stalled, nothing was accepted"
        message = email.message_from_bytes(envelope.content)
        with self.sink.lock:
            self.sink.received.append(
                Received(
                    message_id=message["Message-ID"],
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    subject=" ".join(str(message["Subject"]).split()),
                    message=message,
                )
            )
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.received: list[Received] = []
        self.refused: set[str] = set()
        self.lock = threading.Lock()
        self.stall_next = threading.Event()
        self.stalled = threading.Event()
        self.go_on = threading.Event()
        self._controller: Controller | None = None

    @property
    def email_url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> "SmtpSink":
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        self.go_on.set()  # a stalled DATA must not outlive the server
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def message_ids(self) -> list[str]:
        with self.lock:
            return [message.message_id for message in self.received]

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
