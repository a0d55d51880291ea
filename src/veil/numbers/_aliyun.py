"""An adapter shaped on Alibaba Cloud's Phone Number Protection (PNS, ``Dyplsapi`` 2017-05-25).

It builds and signs real RPC requests: ``BindAxb`` and ``UnbindSubscription``
as signed GET queries (signature method HMAC-SHA1, version 1.0, the key in
`veil.crypto`), and it reads the provider's ``SecretReport`` call receipts.
What Alibaba learns: A, B and X (it must, to connect them) and ``OutId``, an
opaque reference (the binding id); never an order id, a name or an address.

Alibaba routes AXB calls itself, so for this provider Veil's expiry is
enforced by unbinding on time (the sweep) and by the binding's ``Expiration``
as a backstop; the routing webhook serves providers that ask before connecting.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from veil.clock import Clock, SystemClock
from veil.crypto import rpc_signature_v1
from veil.numbers._providers import (
    BindRequest,
    CallReport,
    ProviderBinding,
    ProviderUnavailable,
)

__all__ = [
    "AliyunPnsProvider",
    "canonical_query",
    "parse_secret_reports",
    "string_to_sign",
]

API_VERSION = "2017-05-25"
DEFAULT_ENDPOINT = "https://dyplsapi.aliyuncs.com/"
# Alibaba's times (Expiration, receipts) are Beijing time.
_BEIJING = dt.timezone(dt.timedelta(hours=8))
_MAX_RESPONSE = 64 * 1024


def _encode(value: str) -> str:
    # RFC 3986 percent-encoding as Alibaba specifies it: only A–Z a–z 0–9 - _ . ~
    # stay as they are (so a space is %20, never +, and * is %2A).
    return urllib.parse.quote(value, safe="-_.~")


def canonical_query(params: Mapping[str, str]) -> str:
    """Return the parameters sorted by name and percent-encoded, joined by ``&``."""
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items()))


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """Return ``METHOD&%2F&encode(canonical query)``, what the signature covers."""
    return f"{method}&{_encode('/')}&{_encode(canonical_query(params))}"


def _national(e164: str) -> str:
    # Alibaba takes mainland numbers without the country code.
    return e164[3:] if e164.startswith("+86") else e164.lstrip("+")


class AliyunPnsProvider:
    """A `NumberProvider` that calls Alibaba Cloud PNS over HTTPS."""

    def __init__(
        self,
        *,
        access_key_id: str,
        access_key_secret: str,
        pool_key: str,
        endpoint: str = DEFAULT_ENDPOINT,
        region_id: str = "cn-hangzhou",
        timeout_seconds: float = 2.0,
        clock: Clock | None = None,
        nonce: Callable[[], str] | None = None,
    ) -> None:
        if not (access_key_id and access_key_secret and pool_key):
            raise ValueError("Alibaba PNS needs an access key id, its secret and a pool key")
        self._key_id = access_key_id
        self._secret = access_key_secret
        self._pool_key = pool_key
        self._endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        self._region = region_id
        self._timeout = timeout_seconds
        self._clock = clock or SystemClock()
        self._nonce = nonce or (lambda: secrets.token_hex(16))

    @property
    def name(self) -> str:
        """Return ``aliyun-pns``."""
        return "aliyun-pns"

    def bind(self, request: BindRequest) -> ProviderBinding:
        """``BindAxb``: A ↔ X ↔ B until the expiry; ``OutId`` is the opaque reference."""
        expiration = dt.datetime.fromtimestamp(request.expires_ms / 1000, tz=_BEIJING)
        answer = self._call(
            "BindAxb",
            {
                "PoolKey": self._pool_key,
                "PhoneNoA": _national(request.a_number),
                "PhoneNoB": _national(request.b_number),
                "PhoneNoX": _national(request.x_number),
                "Expiration": expiration.strftime("%Y-%m-%d %H:%M:%S"),
                "IsRecordingEnabled": "false",
                "OutId": request.reference,
            },
        )
        dto = answer.get("SecretBindDTO")
        if not isinstance(dto, dict) or not dto.get("SubsId"):
            raise ProviderUnavailable("BindAxb answered without a SubsId")
        return ProviderBinding(str(dto["SubsId"]), request.x_number)

    def unbind(self, provider_ref: str, x_number: str) -> None:
        """``UnbindSubscription``: the provider stops connecting A and B through X."""
        self._call(
            "UnbindSubscription",
            {"PoolKey": self._pool_key, "SubsId": provider_ref, "SecretNo": _national(x_number)},
        )

    def signed_query(self, action: str, params: Mapping[str, str]) -> dict[str, str]:
        """Return every query parameter of a request, ``Signature`` included."""
        now = self._clock.now().astimezone(dt.UTC)
        query = {
            "AccessKeyId": self._key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": self._region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self._nonce(),
            "SignatureVersion": "1.0",
            "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
            **params,
        }
        query["Signature"] = rpc_signature_v1(self._secret, string_to_sign("GET", query))
        return query

    def _call(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        url = self._endpoint + "?" + canonical_query(self.signed_query(action, params))
        if not url.startswith(("https://", "http://")):
            raise ProviderUnavailable("the PNS endpoint must be an http(s) URL")
        try:
            # The URL is built from the configured endpoint, never from input.
            with urllib.request.urlopen(url, timeout=self._timeout) as response:  # noqa: S310
                body = response.read(_MAX_RESPONSE)
        except urllib.error.HTTPError as exc:
            body = exc.read(_MAX_RESPONSE)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ProviderUnavailable(f"{action}: the provider did not answer") from exc
        try:
            answer = json.loads(body)
        except ValueError:
            raise ProviderUnavailable(f"{action}: the provider's answer is not JSON") from None
        if not isinstance(answer, dict):
            raise ProviderUnavailable(f"{action}: the provider's answer is not an object")
        code = str(answer.get("Code", ""))
        if code != "OK":
            # The code names the failure; the provider's message may quote numbers.
            raise ProviderUnavailable(f"{action} failed: {code[:64] or 'no code'}")
        return answer


def _beijing_ms(value: object) -> int | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = dt.datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return int(moment.replace(tzinfo=_BEIJING).timestamp() * 1000)


def parse_secret_reports(body: bytes) -> list[CallReport]:
    """Read an HTTP push of ``SecretReport`` receipts (a JSON list) into call reports.

    Alibaba may push a receipt more than once and does not number them; the
    event id is built from the call id and the release time, so a repeat is
    recognised. A receipt without a call id is skipped. Only times are kept:
    the numbers, the peer and any recording URL are dropped here.
    """
    try:
        document = json.loads(body)
    except ValueError:
        return []
    items = document if isinstance(document, list) else [document]
    reports: list[CallReport] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        call_id = str(item.get("call_id") or "").strip()
        if not call_id or len(call_id) > 48:
            continue
        answered = _beijing_ms(item.get("start_time"))
        ended = _beijing_ms(item.get("release_time"))
        reports.append(
            CallReport(f"aliyun:{call_id}:{ended or 0}", f"aliyun:{call_id}", answered, ended)
        )
    return reports
