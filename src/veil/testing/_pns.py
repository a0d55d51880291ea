"""A local HTTP fake of Alibaba Cloud PNS: checks every request's signature, holds bindings.

It answers ``BindAxb`` and ``UnbindSubscription`` the way the real service
does (``Code``, ``Message``, ``RequestId``, ``SecretBindDTO``), after checking
the RPC signature with its own canonicalization (written here again, on
purpose, so that a canonicalization bug in the adapter cannot pass both
sides). It listens on 127.0.0.1 only; no request leaves the machine.
"""

from __future__ import annotations

import itertools
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from veil.crypto import SignatureInvalid, verify_rpc_signature_v1

__all__ = ["FakePnsServer"]

_REQUIRED = (
    "AccessKeyId",
    "Action",
    "Format",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureVersion",
    "Timestamp",
    "Version",
    "Signature",
)


def _pct(value: str) -> str:
    return urllib.parse.quote(value, safe="~")


@dataclass
class _State:
    key_id: str
    secret: str
    pool_key: str
    bindings: dict[str, dict[str, str]] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)
    fail_next: int = 0
    counter: Any = field(default_factory=lambda: itertools.count(1000000001))
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakePnsServer:
    """A fake ``dyplsapi.aliyuncs.com`` on a free local port (a context manager)."""

    def __init__(self, *, access_key_id: str, access_key_secret: str, pool_key: str) -> None:
        self.state = _State(access_key_id, access_key_secret, pool_key)
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = urllib.parse.urlsplit(self.path).query
                params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
                status, body = _answer(state, params)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        """Return the base URL to configure the adapter with."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    @property
    def requests(self) -> list[dict[str, str]]:
        """Return every request the fake accepted (parameters, signature checked)."""
        with self.state.lock:
            return list(self.state.requests)

    @property
    def bindings(self) -> dict[str, dict[str, str]]:
        """Return the bindings the fake holds, by ``SubsId``."""
        with self.state.lock:
            return dict(self.state.bindings)

    def fail_next(self, count: int = 1) -> None:
        """Answer the next `count` requests with a provider error (``isp.SYSTEM_ERROR``)."""
        with self.state.lock:
            self.state.fail_next = count

    def __enter__(self) -> FakePnsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Refusal(Exception):
    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


def _answer(state: _State, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    try:
        with state.lock:
            _check(state, params)
            return 200, {"Code": "OK", "Message": "OK", "RequestId": "FAKE", **_act(state, params)}
    except _Refusal as refusal:
        return refusal.status, {"Code": refusal.code, "Message": refusal.code, "RequestId": "FAKE"}


def _check(state: _State, params: dict[str, str]) -> None:
    """Refuse what the real service refuses; the caller holds the lock."""
    missing = [name for name in _REQUIRED if name not in params]
    if missing:
        raise _Refusal(400, "MissingParameter")
    signature = params.pop("Signature")
    canonical = "&".join(f"{_pct(k)}={_pct(v)}" for k, v in sorted(params.items()))
    try:
        verify_rpc_signature_v1(state.secret, "GET&%2F&" + _pct(canonical), signature)
    except SignatureInvalid:
        raise _Refusal(400, "SignatureDoesNotMatch") from None
    if params["AccessKeyId"] != state.key_id:
        raise _Refusal(400, "InvalidAccessKeyId.NotFound")
    if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
        raise _Refusal(400, "InvalidParameter")
    if params["SignatureNonce"] in state.nonces:
        raise _Refusal(400, "SignatureNonceUsed")
    state.nonces.add(params["SignatureNonce"])
    state.requests.append(dict(params))
    if state.fail_next > 0:
        state.fail_next -= 1
        raise _Refusal(500, "isp.SYSTEM_ERROR")
    if params.get("PoolKey") != state.pool_key:
        raise _Refusal(400, "POOLKEY_NOT_EXIST")


def _act(state: _State, params: dict[str, str]) -> dict[str, Any]:
    action = params["Action"]
    if action == "BindAxb":
        subs_id = str(next(state.counter))
        state.bindings[subs_id] = {
            key: params.get(key, "")
            for key in ("PhoneNoA", "PhoneNoB", "PhoneNoX", "Expiration", "OutId")
        }
        dto = {"SubsId": subs_id, "SecretNo": params.get("PhoneNoX", ""), "Extension": ""}
        return {"SecretBindDTO": dto}
    if action == "UnbindSubscription":
        state.bindings.pop(params.get("SubsId", ""), None)
        return {"Chosen": True}
    raise _Refusal(400, "InvalidAction.NotFound")
