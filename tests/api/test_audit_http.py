"""The audit routes over HTTP: checkpoints and proofs for admins and auditors; access logs."""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests._city import City
from tests.api._http import TestClient, assert_no_pii, bearer, error_of
from tests.audit._db import ORIGIN, SIGNER, dba, integrate_all, integrator
from veil.api import create_app
from veil.api._audit_routes import run_integrator
from veil.audit import (
    EVENT_FIELDS,
    Integrator,
    canonical_event,
    leaf_hash,
    parse_and_verify_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from veil.ids import IdKind, new_id
from veil.vault import Caller


@pytest.fixture
def log(city: City, tmp_path: Path) -> Iterator[Integrator]:
    writer = integrator(city.vault.engine, tmp_path / "witness")
    assert writer.acquire(timeout=5)
    yield writer
    writer.release()


@pytest.fixture
def auditor(city: City) -> Caller:
    return city.principal("auditor", "auditor-1")


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _get(client: TestClient, city: City, who: str, path: str, **params: Any) -> Any:
    return client.get(path, params=params, headers=bearer(city.keys[who]))


def test_the_checkpoint_is_the_signed_tree_head(
    client: TestClient, city: City, log: Integrator, auditor: Caller
) -> None:
    error_of(_get(client, city, "auditor-1", "/v1/audit/checkpoint"), 404, "not_found")
    size = integrate_all(log)
    for who in ("auditor-1", "admin-1"):
        response = _get(client, city, who, "/v1/audit/checkpoint")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["size"] == size
        assert body["origin"] == ORIGIN
        checkpoint = parse_and_verify_checkpoint(body["note"], SIGNER.verifier, origin=ORIGIN)
        assert (checkpoint.size, checkpoint.root_hash) == (size, _b64(body["root_hash"]))
        assert checkpoint.timestamp_ms == body["timestamp_ms"]


def test_inclusion_proofs_lead_to_the_checkpoint_root(
    client: TestClient, city: City, log: Integrator, auditor: Caller
) -> None:
    order = city.order_in("picked_up", rider=0)
    city.vault.view_order(city.riders[0], order)
    size = integrate_all(log)
    root = _b64(_get(client, city, "auditor-1", "/v1/audit/checkpoint").json()["root_hash"])
    with city.vault.engine.connect() as connection:
        columns = ", ".join(f"e.{name}" for name in EVENT_FIELDS)
        rows = connection.execute(
            text(
                f"SELECT {columns} FROM audit_leaves l JOIN audit_events e ON e.seq = l.seq"  # noqa: S608
                " ORDER BY l.leaf_index"
            )
        ).all()
    for index in (0, size // 2, size - 1):
        response = _get(
            client, city, "auditor-1", "/v1/audit/proof/inclusion", index=index, size=size
        )
        assert response.status_code == 200, response.text
        body = response.json()
        proof = [_b64(node) for node in body["proof"]]
        assert len(proof) <= math.ceil(math.log2(size))
        leaf = _b64(body["leaf_hash"])
        event = dict(zip(EVENT_FIELDS, rows[index], strict=True))
        assert leaf == leaf_hash(canonical_event(event))
        verify_inclusion(leaf_hash=leaf, index=index, size=size, proof=proof, root=root)


def test_consistency_proofs_link_two_checkpoints(
    client: TestClient, city: City, log: Integrator, auditor: Caller
) -> None:
    old_size = integrate_all(log)
    old_root = _b64(_get(client, city, "admin-1", "/v1/audit/checkpoint").json()["root_hash"])
    city.order_in("delivered", rider=1)
    new_size = integrate_all(log)
    new_root = _b64(_get(client, city, "admin-1", "/v1/audit/checkpoint").json()["root_hash"])
    response = client.get(
        "/v1/audit/proof/consistency",
        params={"from": old_size, "to": new_size},
        headers=bearer(city.keys["auditor-1"]),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"]) == (old_size, new_size)
    verify_consistency(
        old_size=old_size,
        new_size=new_size,
        old_root=old_root,
        new_root=new_root,
        proof=[_b64(node) for node in body["proof"]],
    )


@pytest.mark.parametrize("who", ["backend", "rider-1", "merchant-1", "agent-1", "customer-0"])
@pytest.mark.parametrize(
    "path",
    [
        "/v1/audit/checkpoint",
        "/v1/audit/proof/inclusion?index=0&size=1",
        "/v1/audit/proof/consistency?from=0&to=1",
    ],
)
def test_only_admins_and_auditors_read_proofs(
    client: TestClient, city: City, log: Integrator, who: str, path: str
) -> None:
    integrate_all(log)
    error_of(client.get(path, headers=bearer(city.keys[who])), 403, "forbidden")
    error_of(client.get(path), 401)


@pytest.mark.parametrize(
    "params",
    [
        {"index": 5, "size": 5},
        {"index": 0, "size": 10_000},
        {"index": -1, "size": 3},
        {"index": "x", "size": 3},
        {"size": 3},
        {"index": 0, "size": 2**60},
    ],
)
def test_impossible_inclusion_requests_are_invalid_input(
    client: TestClient, city: City, log: Integrator, auditor: Caller, params: dict[str, Any]
) -> None:
    integrate_all(log)
    response = _get(client, city, "auditor-1", "/v1/audit/proof/inclusion", **params)
    error_of(response, 422, "invalid_input")


def test_impossible_consistency_requests_are_invalid_input(
    client: TestClient, city: City, log: Integrator, auditor: Caller
) -> None:
    size = integrate_all(log)
    for params in ({"from": 3, "to": 2}, {"from": 0, "to": size + 1}, {"to": 1}):
        response = client.get(
            "/v1/audit/proof/consistency", params=params, headers=bearer(city.keys["auditor-1"])
        )
        error_of(response, 422, "invalid_input")


# ---------------------------------------------------------------------- access log


def _access_log(client: TestClient, city: City, who: str, subject: str | None = None) -> Any:
    path = "/v1/me/access-log" if subject is None else f"/v1/subjects/{subject}/access-log"
    response = client.get(path, headers=bearer(city.keys[who]))
    assert response.status_code == 200, response.text
    return response.json()


def test_a_customer_sees_who_accessed_their_data_with_proofs(
    client: TestClient, city: City, log: Integrator
) -> None:
    order = city.order_in("picked_up", rider=0)
    city.vault.view_order(city.riders[0], order)
    city.vault.view_order(city.merchants[0], order)
    integrate_all(log)
    body = _access_log(client, city, "customer-0")
    assert body["subject_id"] == city.subjects[0]
    checkpoint = body["checkpoint"]
    root = _b64(checkpoint["root_hash"])
    parse_and_verify_checkpoint(checkpoint["note"], SIGNER.verifier, origin=ORIGIN)
    views = [e for e in body["entries"] if e["event"] == "vault:order:viewed"]
    assert [e["by"]["role"] for e in views] == ["merchant", "rider"]  # newest first
    rider_view = views[1]
    assert rider_view["order_id"] == order
    assert rider_view["decision"] == "allow"
    assert "address.full" in rider_view["fields"]
    assert rider_view["at"].endswith("Z")
    assert rider_view["by"]["label"].startswith("psn_")
    for entry in body["entries"]:
        assert entry["log"]["status"] == "included", entry
        verify_inclusion(
            leaf_hash=_b64(entry["log"]["leaf_hash"]),
            index=entry["log"]["index"],
            size=checkpoint["size"],
            proof=[_b64(node) for node in entry["log"]["proof"]],
            root=root,
        )
    # Never a principal id, a staff label, or the customer's data.
    text_body = str(body)
    for caller in (city.riders[0], city.merchants[0], city.service):
        assert caller.principal_id not in text_body
    for label in ("rider-1", "merchant-1", "backend"):
        assert f"'{label}'" not in text_body


def test_labels_are_stable_per_principal_and_across_customers(
    client: TestClient, city: City, log: Integrator
) -> None:
    first = city.order_in("picked_up", rider=0, subject=0)
    second = city.order_in("picked_up", rider=0, subject=1)
    city.vault.view_order(city.riders[0], first)
    city.vault.view_order(city.riders[0], second)
    integrate_all(log)

    def rider_labels(who: str) -> set[str]:
        entries = _access_log(client, city, who)["entries"]
        return {e["by"]["label"] for e in entries if e["by"]["role"] == "rider"}

    assert rider_labels("customer-0") == rider_labels("customer-0") == rider_labels("customer-1")
    assert len(rider_labels("customer-0")) == 1
    service_labels = {
        e["by"]["label"]
        for e in _access_log(client, city, "customer-0")["entries"]
        if e["by"]["role"] == "service"
    }
    assert len(service_labels) == 1
    assert service_labels != rider_labels("customer-0")


def test_entries_not_yet_in_a_checkpoint_say_so(
    client: TestClient, city: City, log: Integrator
) -> None:
    order = city.order_in("picked_up", rider=0)
    city.vault.view_order(city.riders[0], order)
    body = _access_log(client, city, "customer-0")
    assert body["checkpoint"] is None
    assert {e["log"]["status"] for e in body["entries"]} == {"pending"}
    assert all(e["log"]["index"] is None for e in body["entries"])
    integrate_all(log)
    city.vault.view_order(city.riders[0], order)
    body = _access_log(client, city, "customer-0")
    statuses = [e["log"]["status"] for e in body["entries"]]
    assert statuses[0] == "pending"  # the newest view
    assert set(statuses[1:]) == {"included"}


def test_reading_an_access_log_is_itself_logged(
    client: TestClient, city: City, log: Integrator
) -> None:
    _access_log(client, city, "customer-0")
    entries = _access_log(client, city, "customer-0")["entries"]
    assert entries[0]["event"] == "audit:access_log:read"
    assert entries[0]["by"]["role"] == "customer"


def test_an_altered_row_is_flagged_not_proved(
    client: TestClient, city: City, log: Integrator
) -> None:
    order = city.order_in("picked_up", rider=0)
    city.vault.view_order(city.riders[0], order)
    integrate_all(log)
    with dba(city.vault.engine) as connection:
        connection.execute(
            text(
                "UPDATE audit_events SET role = 'service'"
                " WHERE tag = 'vault:order:viewed' AND subject_id = :s"
            ),
            {"s": city.subjects[0]},
        )
    entries = _access_log(client, city, "customer-0")["entries"]
    altered = [e for e in entries if e["event"] == "vault:order:viewed"]
    assert altered
    assert {e["log"]["status"] for e in altered} == {"altered"}
    assert all("proof" not in e["log"] for e in altered)


def test_the_service_reads_a_customers_log_on_their_request(
    client: TestClient, city: City, log: Integrator
) -> None:
    order = city.order_in("picked_up", rider=0)
    city.vault.view_order(city.riders[0], order)
    integrate_all(log)
    body = _access_log(client, city, "backend", city.subjects[0])
    mine = _access_log(client, city, "customer-0")
    assert body["subject_id"] == city.subjects[0]
    viewed = [e for e in body["entries"] if e["event"] == "vault:order:viewed"]
    assert viewed == [e for e in mine["entries"] if e["event"] == "vault:order:viewed"]
    assert_no_pii(
        client.get(
            f"/v1/subjects/{city.subjects[0]}/access-log", headers=bearer(city.keys["backend"])
        )
    )


def test_access_logs_page_backwards(client: TestClient, city: City, log: Integrator) -> None:
    order = city.order_in("picked_up", rider=0)
    for _ in range(5):
        city.vault.view_order(city.riders[0], order)
    headers = bearer(city.keys["customer-0"])
    first = client.get("/v1/me/access-log", params={"limit": 3}, headers=headers).json()
    assert len(first["entries"]) == 3
    assert first["next_before"] is not None
    rest = client.get(
        "/v1/me/access-log", params={"limit": 200, "before": first["next_before"]}, headers=headers
    ).json()
    assert rest["next_before"] is None
    whole = client.get("/v1/me/access-log", params={"limit": 200}, headers=headers).json()
    # The whole log also holds the two access-log reads made above.
    assert [e["at"] for e in whole["entries"]][2:] == [
        e["at"] for e in first["entries"] + rest["entries"]
    ]


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        ("rider-1", "/v1/me/access-log", 403),
        ("agent-1", "/v1/me/access-log", 403),
        ("backend", "/v1/me/access-log", 403),
        ("customer-0", "/v1/subjects/{subject}/access-log", 403),
        ("admin-1", "/v1/subjects/{subject}/access-log", 403),
        ("rider-1", "/v1/subjects/{subject}/access-log", 403),
    ],
)
def test_who_may_read_access_logs(
    client: TestClient, city: City, who: str, path: str, status: int
) -> None:
    response = client.get(path.format(subject=city.subjects[0]), headers=bearer(city.keys[who]))
    error_of(response, status)


def test_an_unknown_subject_is_404(client: TestClient, city: City) -> None:
    for subject in (new_id(IdKind.SUBJECT), "sub_nope", "x" * 300):
        response = client.get(
            f"/v1/subjects/{subject}/access-log", headers=bearer(city.keys["backend"])
        )
        error_of(response, 404, "not_found")


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"before": 0}, {"limit": "x"}])
def test_bad_paging_is_invalid_input(
    client: TestClient, city: City, params: dict[str, Any]
) -> None:
    response = client.get(
        "/v1/me/access-log", params=params, headers=bearer(city.keys["customer-0"])
    )
    error_of(response, 422, "invalid_input")


def test_veil_serve_runs_the_integrator_for_as_long_as_it_serves(
    city: City, tmp_path: Path, auditor: Caller
) -> None:
    app = create_app(city.vault)
    writer = integrator(city.vault.engine, tmp_path / "witness")
    run_integrator(app, writer)
    with TestClient(app) as served:
        city.order_in("delivered", rider=0)
        for _ in range(200):
            response = served.get("/v1/audit/checkpoint", headers=bearer(city.keys["auditor-1"]))
            if response.status_code == 200 and response.json()["size"] >= 20:
                break
            time.sleep(0.05)
        assert response.status_code == 200
        assert writer.holds_lock
    assert not writer.holds_lock  # shutdown released the lock
