"""Cedar decisions: policies parsed once, entities built per request from store facts.

`PolicyEngine.decide` returns `Allow` or `Deny` (never raises for a denial) so
that every outcome can be audited with the ids of the policies behind it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cedarpy
from cachetools import LRUCache

from veil.errors import ConfigurationError
from veil.policy._quotas import QuotaTable

__all__ = [
    "DEFAULT_POLICY_DIR",
    "Allow",
    "Decision",
    "Deny",
    "OrderFacts",
    "PolicyEngine",
    "PolicySource",
    "PrincipalFacts",
]

DEFAULT_POLICY_DIR = Path(__file__).parent / "policies"

_ROLE_TYPES = {
    "service": "Veil::Service",
    "rider": "Veil::Rider",
    "merchant": "Veil::Merchant",
    "customer": "Veil::Customer",
    "agent": "Veil::Agent",
    "analyst": "Veil::Analyst",
    "admin": "Veil::Admin",
    "safety": "Veil::Safety",
    "auditor": "Veil::Auditor",
    "security": "Veil::Security",
}
_VAULT = {"type": "Veil::Vault", "id": "veil"}
# Parsed entity sets kept for reuse (a few KB each).
ENTITY_CACHE_SIZE = 8192
# Decisions kept when they provably cannot depend on the context.
DECISION_CACHE_SIZE = 16384
# The context of every order decision: what `PolicySource.for_action` prunes by.
_ORDER_CONTEXT = frozenset({"now_ms", "rider_grace_ms"})
# An action declared inside a group (`action a in [g]`) would make a policy on
# the group match it; splitting the set by action is then not safe, so it is not done.
_ACTION_GROUPS = re.compile(r"\baction\b[^;{]*?\bin\s*\[")


@dataclass(frozen=True, slots=True)
class PrincipalFacts:
    """What policies may know about a caller."""

    id: str
    role: str
    subject_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What policies may know about an order: its parties, state and times."""

    id: str
    state: str
    subject_id: str
    merchant_id: str
    rider_id: str | None
    past_rider_ids: tuple[str, ...]
    created_ms: int
    assigned_ms: int | None = None
    picked_up_ms: int | None = None
    delivered_ms: int | None = None
    cancelled_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Allow:
    """The request is allowed by `policy_ids`, which together grant `grants`."""

    policy_ids: tuple[str, ...]
    grants: frozenset[str] = field(default_factory=frozenset)

    allowed = True


@dataclass(frozen=True, slots=True)
class Deny:
    """The request is denied; `reason` is a sentence safe to show the caller."""

    policy_ids: tuple[str, ...]
    reason: str

    allowed = False


Decision = Allow | Deny


@dataclass(frozen=True)
class PolicySource:
    """A parsed, validated policy set with the annotations Veil reads from it."""

    policy_set: Any
    grants_by_policy: Mapping[str, frozenset[str]]
    reason_by_policy: Mapping[str, str]
    id_by_policy: Mapping[str, str]
    text: str
    # Read from ``quotas.toml`` beside the policies; none at all without one (fail closed).
    quotas: QuotaTable = field(default_factory=QuotaTable.none)
    directory: Path | None = None
    # SHA-256 over every file of the directory: what an audit row of a reload names.
    digest: str = ""
    # The policies as Cedar JSON, to split the set by action (see `for_action`).
    policies_json: Mapping[str, Any] = field(default_factory=dict, repr=False)
    partitioned: bool = False
    _by_action: dict[
        tuple[str, str | None, frozenset[str] | None], tuple[Any, Mapping[str, str]]
    ] = field(default_factory=dict, init=False, repr=False, compare=False)
    _timeless: dict[tuple[str, str, frozenset[str], str], bool] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # Decisions that provably do not depend on the context (see `timeless`);
    # they belong to this policy set, so a reload starts afresh.
    decisions: _Memo = field(
        default_factory=lambda: _Memo(DECISION_CACHE_SIZE),
        init=False,
        repr=False,
        compare=False,
    )

    @classmethod
    def load(cls, directory: Path) -> PolicySource:
        """Parse and validate every ``*.cedar`` file in `directory` against its schema.

        Raises:
            ConfigurationError: naming the file or policy at fault; nothing is loaded.
        """
        schema_path = directory / "schema.cedarschema"
        files = sorted(directory.glob("*.cedar"))
        if not schema_path.exists() or not files:
            raise ConfigurationError(
                f"policy directory {directory} needs schema.cedarschema and .cedar files"
            )
        text = "\n".join(path.read_text(encoding="utf-8") for path in files)
        schema_text = schema_path.read_text(encoding="utf-8")
        try:
            return cls.from_text(text, schema_text, origin=str(directory))._in(directory)
        except ConfigurationError:
            # Check the files one by one to name the one at fault; only a failed
            # start-up pays for this. A problem between files (a duplicate @id)
            # is reported for the directory.
            for path in files:
                cls.from_text(path.read_text(encoding="utf-8"), schema_text, origin=str(path))
            raise

    @classmethod
    def from_text(cls, text: str, schema_text: str, *, origin: str = "<text>") -> PolicySource:
        """Parse and validate policy `text` against `schema_text`."""
        try:
            schema = cedarpy.Schema.from_str(schema_text)
            validation = cedarpy.validate_policies(text, schema)
            policy_set = cedarpy.PolicySet.from_str(text)
            document = json.loads(cedarpy.policies_to_json_str(text))
        except ValueError as exc:
            raise ConfigurationError(f"policies in {origin} do not parse: {exc}") from None
        if not validation.validation_passed:
            problems = "; ".join(str(error) for error in validation.errors)
            raise ConfigurationError(f"policies in {origin} fail schema validation: {problems}")
        grants: dict[str, frozenset[str]] = {}
        reasons: dict[str, str] = {}
        ids: dict[str, str] = {}
        for internal_id, policy in document.get("staticPolicies", {}).items():
            annotations = policy.get("annotations", {})
            public_id = annotations.get("id")
            if not public_id:
                raise ConfigurationError(f"a policy in {origin} has no @id annotation")
            if public_id in ids.values():
                raise ConfigurationError(f"policy id {public_id!r} is used twice in {origin}")
            ids[internal_id] = public_id
            grants[public_id] = frozenset(annotations.get("grants", "").split())
            if policy.get("effect") == "forbid":
                reasons[public_id] = annotations.get("reason", "denied by policy")
        return cls(
            policy_set,
            grants,
            reasons,
            ids,
            text,
            policies_json=document.get("staticPolicies", {}),
            partitioned=_ACTION_GROUPS.search(schema_text) is None,
        )

    def for_action(
        self,
        action: str,
        principal_type: str | None = None,
        context_keys: frozenset[str] | None = None,
    ) -> tuple[Any, Mapping[str, str]]:
        """Return the policy set that can apply to a request, and its ids (internal → ``@id``).

        Cedar evaluates every policy of a set on every request. Deciding with
        only the policies that could match gives the same answer, faster (a
        rider's view does not pay for the merchant, staff, audit and numbers
        rules). A policy is left out when it provably cannot match:

        - its action scope leaves `action` out;
        - its principal scope names an entity type other than `principal_type`;
        - one of its ``when`` conditions starts ``context has X && ...`` and the
          request's context (whose top-level keys are `context_keys`) has no X:
          Cedar evaluates ``&&`` left to right and stops at the first false,
          so that condition is false without evaluating the rest.

        Built once per (action, principal type, context keys).
        """
        key = (action, principal_type, context_keys)
        cached = self._by_action.get(key)
        if cached is not None:
            return cached
        if not self.partitioned or not self.policies_json:
            cached = (self.policy_set, self.id_by_policy)
        else:
            chosen = self._chosen(action, principal_type, context_keys)
            text = (
                cedarpy.policies_from_json_str(
                    json.dumps({"staticPolicies": chosen, "templates": {}, "templateLinks": []})
                )
                if chosen
                else ""
            )
            document = json.loads(cedarpy.policies_to_json_str(text)) if text else {}
            ids = {
                internal: policy["annotations"]["id"]
                for internal, policy in document.get("staticPolicies", {}).items()
            }
            cached = (cedarpy.PolicySet.from_str(text), ids)
        self._by_action[key] = cached
        return cached

    def _chosen(
        self, action: str, principal_type: str | None, context_keys: frozenset[str] | None
    ) -> dict[str, Any]:
        return {
            name: policy
            for name, policy in self.policies_json.items()
            if _scope_admits(policy.get("action", {}), action)
            and (
                principal_type is None
                or _principal_scope_admits(policy.get("principal", {}), principal_type)
            )
            and (context_keys is None or _context_admits(policy, context_keys))
        }

    def timeless(
        self, action: str, principal_type: str, context_keys: frozenset[str], state: str
    ) -> bool:
        """Tell whether a decision on an order in `state` cannot depend on the context.

        True when every policy that could match the request and reads the
        context has, before its first read of the context, a conjunct
        ``resource.state == "s"`` of a ``when`` condition with ``s`` other than
        `state`: Cedar stops there (false, or an error raised earlier by
        conjuncts that do not read the context), so neither the time nor any
        other context value can change the outcome. A rider's view of an order
        being delivered is such a decision; the same order once delivered is
        not (the grace window reads the clock), and is decided every time.
        """
        key = (action, principal_type, context_keys, state)
        known = self._timeless.get(key)
        if known is None:
            known = (
                self.partitioned
                and bool(self.policies_json)
                and all(
                    not _reads_context(policy) or _stops_before_context(policy, state)
                    for policy in self._chosen(action, principal_type, context_keys).values()
                )
            )
            self._timeless[key] = known
        return known

    def _in(self, directory: Path) -> PolicySource:
        # The quotas travel with the policies, so a reload swaps both at once.
        quotas_path = directory / "quotas.toml"
        quotas = (
            QuotaTable.load(quotas_path, roles=_ROLE_TYPES)
            if quotas_path.exists()
            else QuotaTable.none()
        )
        digest = hashlib.sha256()
        for path in sorted(directory.iterdir()):
            if path.suffix in {".cedar", ".cedarschema", ".toml"}:
                digest.update(path.name.encode() + b"\x00" + path.read_bytes() + b"\x00")
        return dataclasses.replace(
            self, quotas=quotas, directory=directory, digest=digest.hexdigest()
        )


class PolicyEngine:
    """Evaluates requests against the current `PolicySource`; reloadable without restart."""

    def __init__(self, source: PolicySource, *, rider_grace_ms: int) -> None:
        self._source = source
        self._lock = threading.Lock()
        self._entities = _ParsedEntities(ENTITY_CACHE_SIZE)
        self.rider_grace_ms = rider_grace_ms

    @property
    def source(self) -> PolicySource:
        """Return the policy set in force."""
        return self._source

    def replace(self, source: PolicySource) -> None:
        """Put `source` in force; requests already deciding finish on the old set."""
        with self._lock:
            self._source = source

    def evaluate(
        self,
        principal: PrincipalFacts,
        actions: Iterable[str],
        resource: dict[str, str],
        entities: list[dict[str, Any]],
        context: dict[str, Any],
    ) -> list[Decision]:
        """Decide `actions` on `resource` with entities and context the caller built.

        The staff rules (`veil.policy.decide_staff_order` and friends) build
        tickets and break-glass grants as entities and come in here.
        """
        entities_json = json.dumps(entities)
        handle = self._entities.parsed(entities_json, lambda: entities_json)
        return self._decide(principal, actions, resource, handle, context)

    def decide_order(
        self, principal: PrincipalFacts, action: str, order: OrderFacts, *, now_ms: int
    ) -> Decision:
        """Decide `action` (``know_order`` or ``view_order``) on one order."""
        return self.decide_order_batch(principal, (action,), order, now_ms=now_ms)[0]

    def decide_order_batch(
        self, principal: PrincipalFacts, actions: Iterable[str], order: OrderFacts, *, now_ms: int
    ) -> list[Decision]:
        """Decide several actions on one order in one engine call."""
        actions = tuple(actions)
        if len(actions) == 1:
            return self.decide_orders(principal, actions[0], [order], now_ms=now_ms)
        handle = self._entities.parsed(
            (principal, order),
            lambda: json.dumps([_principal_entity(principal), _order_entity(order)]),
        )
        context = {"now_ms": now_ms, "rider_grace_ms": self.rider_grace_ms}
        resource = {"type": "Veil::Order", "id": order.id}
        return self._decide(principal, actions, resource, handle, context)

    def decide_orders(
        self, principal: PrincipalFacts, action: str, orders: list[OrderFacts], *, now_ms: int
    ) -> list[Decision]:
        """Decide one `action` on many orders in a single engine call (batch views)."""
        if not orders:
            return []
        batch = tuple(orders)
        source = self._source
        principal_type = _ROLE_TYPES[principal.role]
        memo_keys = None
        if all(source.timeless(action, principal_type, _ORDER_CONTEXT, o.state) for o in batch):
            # Cedar would answer exactly this at any time: keep the answer.
            memo_keys = [(action, principal, order, self.rider_grace_ms) for order in batch]
            known = [source.decisions.get(key) for key in memo_keys]
            if all(decision is not None for decision in known):
                return known
        decisions = self._decide_orders(source, principal, action, batch, now_ms)
        if memo_keys is not None:
            for key, decision in zip(memo_keys, decisions, strict=True):
                source.decisions.put(key, decision)
        return decisions

    def _decide_orders(
        self,
        source: PolicySource,
        principal: PrincipalFacts,
        action: str,
        batch: tuple[OrderFacts, ...],
        now_ms: int,
    ) -> list[Decision]:
        handle = self._entities.parsed(
            (principal, batch),
            lambda: json.dumps(
                [_principal_entity(principal), *(_order_entity(order) for order in batch)]
            ),
        )
        context_json = f'{{"now_ms": {int(now_ms)}, "rider_grace_ms": {int(self.rider_grace_ms)}}}'
        requests = [
            _request(principal, action, {"type": "Veil::Order", "id": order.id}, context_json)
            for order in batch
        ]
        policy_set, ids = source.for_action(action, _ROLE_TYPES[principal.role], _ORDER_CONTEXT)
        results = cedarpy.is_authorized_batch(requests, policy_set, handle)
        return [_to_decision(source, result, ids) for result in results]

    def decide_vault(self, principal: PrincipalFacts, action: str, *, now_ms: int) -> Decision:
        """Decide a vault-wide `action` (ingest, lookup_subject, list_own_orders...)."""
        handle = self._entities.parsed(
            principal, lambda: json.dumps([_principal_entity(principal)])
        )
        return self._decide(principal, (action,), _VAULT, handle, {"now_ms": now_ms})[0]

    def _decide(
        self,
        principal: PrincipalFacts,
        actions: Iterable[str],
        resource: dict[str, str],
        entities: Any,
        context: dict[str, Any],
    ) -> list[Decision]:
        source = self._source
        actions = tuple(actions)
        policy_set, ids = (
            source.for_action(actions[0], _ROLE_TYPES[principal.role], frozenset(context))
            if len(set(actions)) == 1
            else (source.policy_set, source.id_by_policy)
        )
        # Serialize once here: cedarpy copies a request whose context is a dict.
        context_json = json.dumps(context)
        requests = [_request(principal, action, resource, context_json) for action in actions]
        results = cedarpy.is_authorized_batch(requests, policy_set, entities)
        return [_to_decision(source, result, ids) for result in results]


class _Memo:
    """A bounded, thread-safe map: cachetools' LRU behind a lock."""

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._items: LRUCache[Hashable, Any] = LRUCache(maxsize=size)

    def get(self, key: Hashable) -> Any:
        with self._lock:
            return self._items.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value


class _ParsedEntities:
    """Parsed Cedar entity sets, keyed by the facts they were built from (LRU).

    Parsing the entities is most of what a decision costs cedarpy. A key is
    the complete facts (frozen dataclasses: ids, state, every timestamp) or the
    exact JSON, so an order whose state, rider or times changed is a new key:
    a hit is always the very same entities, and nothing here can go stale. An
    app polling its active order hits.
    """

    def __init__(self, size: int) -> None:
        self._handles = _Memo(size)

    def parsed(self, key: Hashable, build_json: Callable[[], str]) -> Any:
        handle = self._handles.get(key)
        if handle is None:
            # Parsed outside the lock; two threads missing together both parse.
            handle = cedarpy.Entities.from_json_str(build_json())
            self._handles.put(key, handle)
        return handle


def _request(
    principal: PrincipalFacts, action: str, resource: dict[str, str], context: str
) -> dict[str, Any]:
    return {
        "principal": {"type": _ROLE_TYPES[principal.role], "id": principal.id},
        "action": {"type": "Veil::Action", "id": action},
        "resource": resource,
        "context": context,
    }


def _scope_admits(scope: Mapping[str, Any], action: str) -> bool:
    """Tell whether a policy's action scope (Cedar JSON) can match `action`."""
    if scope.get("op") == "==":
        return bool(scope.get("entity", {}).get("id") == action)
    if scope.get("op") == "in":
        entities = scope.get("entities") or [scope.get("entity", {})]
        return any(entity.get("id") == action for entity in entities)
    return True  # "All", or anything this Veil does not know: keep it.


def _principal_scope_admits(scope: Mapping[str, Any], principal_type: str) -> bool:
    """Tell whether a policy's principal scope (Cedar JSON) can match a `principal_type`.

    Only ``is T`` and ``== T::"id"`` rule a type out. ``in`` (group membership)
    and anything this Veil does not know keep the policy: splitting must never
    drop a policy that could match.
    """
    op = scope.get("op")
    if op == "is":
        return bool(scope.get("entity_type") == principal_type)
    if op == "==":
        entity = scope.get("entity", {})
        return "type" not in entity or bool(entity["type"] == principal_type)
    return True


def _context_admits(policy: Mapping[str, Any], context_keys: frozenset[str]) -> bool:
    """Tell whether `policy` could be satisfied by a context with exactly `context_keys`."""
    for condition in policy.get("conditions", []):
        if condition.get("kind") != "when":
            continue
        node = condition.get("body", {})
        while "&&" in node:  # down to the leftmost conjunct, evaluated first
            node = node["&&"]["left"]
        has = node.get("has")
        if (
            isinstance(has, dict)
            and has.get("left") == {"Var": "context"}
            and has.get("attr") not in context_keys
        ):
            return False
    return True


def _reads_context(node: Any) -> bool:
    """Tell whether a policy (Cedar JSON), or part of one, mentions ``context``."""
    if isinstance(node, dict):
        if node.get("Var") == "context":
            return True
        return any(_reads_context(value) for value in node.values())
    if isinstance(node, list):
        return any(_reads_context(value) for value in node)
    return False


def _conjuncts(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Flatten an ``&&`` chain into its conjuncts, in evaluation order."""
    if "&&" in node:
        return [*_conjuncts(node["&&"]["left"]), *_conjuncts(node["&&"]["right"])]
    return [node]


def _state_other_than(conjunct: Mapping[str, Any], state: str) -> bool:
    """Tell whether `conjunct` is ``resource.state == "s"`` (either way round) with s ≠ `state`."""
    equal = conjunct.get("==")
    if not isinstance(equal, dict):
        return False
    sides = [equal.get("left"), equal.get("right")]
    reads_state = {".": {"left": {"Var": "resource"}, "attr": "state"}} in sides
    literals = [side["Value"] for side in sides if isinstance(side, dict) and "Value" in side]
    return reads_state and len(literals) == 1 and literals[0] != state


def _stops_before_context(policy: Mapping[str, Any], state: str) -> bool:
    """Tell whether evaluating `policy` on an order in `state` ends before reading the context."""
    for condition in policy.get("conditions", []):
        parts = _conjuncts(condition.get("body", {})) if condition.get("kind") == "when" else []
        for part in parts:
            if _state_other_than(part, state):
                return True
            if _reads_context(part):
                return False
        if not parts and _reads_context(condition):
            return False
    return False


def _to_decision(source: PolicySource, result: Any, ids: Mapping[str, str]) -> Decision:
    if result.diagnostics.errors:
        # An evaluation error inside a policy is a denial by Cedar's semantics;
        # name it so a security lead can find the broken rule.
        matched = tuple(sorted(ids.get(p, p) for p in result.diagnostics.reasons))
        return Deny(matched, "policy evaluation error")
    matched = tuple(sorted(ids.get(p, p) for p in result.diagnostics.reasons))
    if result.allowed:
        granted: set[str] = set()
        for policy_id in matched:
            granted |= source.grants_by_policy.get(policy_id, frozenset())
        return Allow(matched, frozenset(granted))
    reasons = [source.reason_by_policy[p] for p in matched if p in source.reason_by_policy]
    return Deny(matched, reasons[0] if reasons else "no policy permits this")


def _ref(entity_type: str, entity_id: str) -> dict[str, Any]:
    return {"__entity": {"type": entity_type, "id": entity_id}}


def _principal_entity(principal: PrincipalFacts) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if principal.role == "customer":
        attrs["subject"] = principal.subject_id or ""
    return {
        "uid": {"type": _ROLE_TYPES[principal.role], "id": principal.id},
        "attrs": attrs,
        "parents": [],
    }


def _order_entity(order: OrderFacts) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "state": order.state,
        "subject": order.subject_id,
        "merchant": _ref("Veil::Merchant", order.merchant_id),
        "created_ms": order.created_ms,
    }
    if order.past_rider_ids:
        # Optional in the schema: an empty entity set costs Cedar as much to
        # parse as the rest of the order, and most orders are never reassigned.
        attrs["past_riders"] = [_ref("Veil::Rider", rider) for rider in order.past_rider_ids]
    if order.rider_id is not None:
        attrs["rider"] = _ref("Veil::Rider", order.rider_id)
    for name in ("assigned_ms", "picked_up_ms", "delivered_ms", "cancelled_ms"):
        value = getattr(order, name)
        if value is not None:
            attrs[name] = value
    return {"uid": {"type": "Veil::Order", "id": order.id}, "attrs": attrs, "parents": []}
