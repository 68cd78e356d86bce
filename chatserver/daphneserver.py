"""daphne, with the websocket and HTTP behaviour the protocols (docs/protocol.md, docs/api.md)
need.

daphne, as shipped, gets four things wrong for this server:

- **Close codes.** autobahn lets an application close only with 1000 or 3000-4999. The
  consumers close an oversize frame with 1009 (RFC 6455: message too big), which raised inside
  daphne; daphne logged the error with a traceback and closed with 1011 instead. Codes that
  RFC 6455 lets an endpoint send (1001-1003, 1007-1013) are now sent as they are.
  And frames beyond the websocket layer's own limit dropped the TCP connection without any
  close frame (1006 at the client); autobahn now closes those with 1009 too.
- **Sends after the client closed.** Between a client's close frame and the moment daphne
  learns that the connection is gone, a send raised "Attempt to send on a closed protocol" out
  of the consumer, which daphne logged at ERROR with a full traceback. A client closing is
  expected: such a frame is dropped with a debug line (a member who comes back resumes from
  the record).
- **The scope's scheme.** daphne leaves ``scheme`` out of websocket scopes, so the
  application could not tell ``wss`` from ``ws``; the Origin check (``chatserver/origins.py``)
  needs it to know the socket's own origin.
- **Form bodies.** Twisted parses every POST body sent as a form into arguments daphne never
  reads, and answered a body its multipart parser could not read with a bare 400 before the
  application saw it. The API answers every malformed body with JSON (chatserver/jsonbody.py),
  so bodies now go to the application unparsed.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from twisted.internet.interfaces import ISSLTransport
from twisted.web import http

logger = logging.getLogger(__name__)

# RFC 6455 section 7.4.1 codes an endpoint may send about the connection itself (autobahn's
# own list of codes a peer may send, less 1000, which autobahn already lets through).
PROTOCOL_CLOSE_CODES = frozenset(WebSocketProtocol.CLOSE_STATUS_CODES_ALLOWED) - {1000}


class ChatWebSocketProtocol(WebSocketProtocol):
    def serverClose(self, code: int | None = None) -> None:
        if code in PROTOCOL_CLOSE_CODES:
            # autobahn's sendClose refuses these from an application; the frame is the same.
            self.sendCloseFrame(code=code)
            return
        super().serverClose(code=code)

    def serverSend(self, content: str | bytes, binary: bool = False) -> None:
        if self.state in (self.STATE_CLOSING, self.STATE_CLOSED):
            logger.debug("dropped a frame for a websocket that is closing")
            return
        super().serverSend(content, binary)


# Older Twisted releases always parse form bodies, and have no way to ask them not to.
_CAN_SKIP_FORM_PARSING = "parsePOSTFormSubmission" in inspect.signature(http.Request).parameters


class ChatWebRequest(WebRequest):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _CAN_SKIP_FORM_PARSING:
            kwargs["parsePOSTFormSubmission"] = False
        super().__init__(*args, **kwargs)


class ChatHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr: Any) -> Any:
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = ChatWebRequest
        return protocol


class ChatServer(Server):
    """daphne's ``Server`` with :class:`ChatWebSocketProtocol`, a scheme in every websocket
    scope, and HTTP requests whose bodies only the application reads."""

    # daphne builds its factories inside run(), with no hook before they are used; these
    # properties are where they are handed over, so the rest of run() stays daphne's.
    @property
    def http_factory(self) -> HTTPFactory:
        return self._chat_http_factory

    @http_factory.setter
    def http_factory(self, factory: HTTPFactory) -> None:
        # daphne's factory holds nothing but its server yet: ours is the same with our requests.
        self._chat_http_factory = ChatHTTPFactory(factory.server)

    @property
    def ws_factory(self) -> WebSocketFactory:
        return self._chat_ws_factory

    @ws_factory.setter
    def ws_factory(self, factory: WebSocketFactory) -> None:
        factory.protocol = ChatWebSocketProtocol
        # Frames over the size limit get a close frame (1009), not a dropped connection.
        factory.setProtocolOptions(failByDrop=False)
        self._chat_ws_factory = factory

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
        if scope.get("type") == "websocket" and "scheme" not in scope:
            secure = ISSLTransport.providedBy(getattr(protocol, "transport", None))
            scope = {**scope, "scheme": "wss" if secure else "ws"}
        return super().create_application(protocol, scope)
