"""What both gateway clients share above the transport: reading JSON, and the authenticated call.

`AuthenticatedClient._call` sends a call with the cached access token and, when the gateway
refuses it as an auth error, forgets it, fetches a new one and tries exactly once more; a fresh
token refused too is a configuration problem (sandbox and live keys mixed up), not an outage.
"""

import logging
from datetime import datetime
from decimal import Decimal

import requests

from wetech.payments.gateways.base import GatewayMisconfigured
from wetech.payments.gateways.tokens import TokenCache
from wetech.payments.gateways.transport import HttpTransport


def json_body(response: requests.Response):
    """The body as JSON with every non-integer number a Decimal; None when it is not JSON."""
    try:
        return response.json(parse_float=Decimal)
    except ValueError:
        return None


class AuthenticatedClient:
    """Base of a gateway client: a transport, a token cache and the token-retry loop.

    Subclasses set `gateway` and `label`, build `transport` and `tokens`, and implement
    `_fetch_token` and `_headers`; `_is_auth_error` defaults to HTTP 401.
    """

    gateway: str = ""
    label: str = ""
    # Added to the message when a fresh token is refused too.
    refused_again_hint: str = ""
    transport: HttpTransport
    tokens: TokenCache

    def request_token(self) -> str:
        """A valid access token, from the cache when it has more than a minute left."""
        return self.tokens.get(self._fetch_token)

    def _fetch_token(self) -> tuple[str, datetime | None]:
        raise NotImplementedError

    def _headers(self, token: str) -> dict:
        raise NotImplementedError

    def _is_auth_error(self, response: requests.Response, payload) -> bool:
        return response.status_code == 401

    def _call(self, method, url, *, action, creating, json=None, params=None):
        """Send an authenticated call; returns (response, its JSON or None)."""
        for second_try in (False, True):
            response = self.transport.send(
                method,
                url,
                action=action,
                idempotent=not creating,
                headers=self._headers(self.request_token()),
                json=json,
                params=params,
            )
            payload = json_body(response)
            if not self._is_auth_error(response, payload):
                return response, payload
            self.tokens.forget()
            if second_try:
                raise GatewayMisconfigured(
                    f"{self.label} rejected a fresh access token{self.refused_again_hint}",
                    gateway=self.gateway,
                )
            logging.getLogger(f"wetech.payments.gateways.{self.gateway}").info(
                "%s %s: token rejected, fetching a new one", self.gateway, action
            )
        raise AssertionError("unreachable")
