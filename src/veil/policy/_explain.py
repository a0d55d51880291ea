"""Why a request is allowed or denied: the deciding policies, and the ones that did not apply.

Cedar reports the policies that determined a decision (the permits that
matched, or the forbids that matched). For a denial with no forbid, the
useful answer is the list of permits written for this principal type and
action whose conditions did not hold: that is where a security lead looks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cedarpy

from veil.policy._engine import _ROLE_TYPES, Decision, PolicySource

__all__ = ["Explanation", "PolicyNote", "explain"]


@dataclass(frozen=True)
class PolicyNote:
    """One policy as an explanation shows it."""

    policy_id: str
    effect: str
    file: str
    note: str

    def line(self) -> str:
        """Return the policy on one line: effect, id, file, grants or reason."""
        return f"{self.effect:<6} {self.policy_id}  ({self.file})  {self.note}".rstrip()


@dataclass(frozen=True)
class Explanation:
    """A decision, the policies that made it, and the permits that did not apply."""

    decision: Decision
    action: str
    role: str
    deciding: tuple[PolicyNote, ...]
    not_applying: tuple[PolicyNote, ...]

    def render(self) -> str:
        """Return the explanation as text for a terminal."""
        verdict = "ALLOW" if self.decision.allowed else "DENY"
        lines = [f"{verdict}: {self.role} → {self.action}"]
        if not self.decision.allowed:
            lines.append(f"reason: {getattr(self.decision, 'reason', '')}")
        if self.deciding:
            lines.append("decided by:")
            lines.extend("  " + note.line() for note in self.deciding)
        else:
            lines.append("decided by: no policy matched (Cedar denies by default)")
        if not self.decision.allowed and self.not_applying:
            lines.append(f"permits for {self.role} → {self.action} whose conditions did not hold:")
            lines.extend("  " + note.line() for note in self.not_applying)
        return "\n".join(lines)


def explain(source: PolicySource, decision: Decision, *, role: str, action: str) -> Explanation:
    """Explain `decision` on `action` by a principal of `role` under `source`."""
    notes = _notes(source)
    deciding = tuple(notes[p] for p in decision.policy_ids if p in notes)
    principal_type = _ROLE_TYPES.get(role, "")
    not_applying = tuple(
        note
        for policy_id, (note, scope) in _scopes(source).items()
        if note.effect == "permit"
        and policy_id not in decision.policy_ids
        and _admits(scope, principal_type, action)
    )
    return Explanation(decision, action, role, deciding, not_applying)


def _notes(source: PolicySource) -> dict[str, PolicyNote]:
    return {policy_id: note for policy_id, (note, _) in _scopes(source).items()}


def _scopes(source: PolicySource) -> dict[str, tuple[PolicyNote, dict[str, Any]]]:
    files: list[tuple[str, str]]
    if source.directory is not None:
        files = [
            (path.name, path.read_text(encoding="utf-8"))
            for path in sorted(Path(source.directory).glob("*.cedar"))
        ]
    else:
        files = [("<text>", source.text)]
    found: dict[str, tuple[PolicyNote, dict[str, Any]]] = {}
    for name, text in files:
        try:
            document = json.loads(cedarpy.policies_to_json_str(text))
        except ValueError:
            continue  # The set in force parsed; a file edited since is not this set.
        for policy in document.get("staticPolicies", {}).values():
            annotations = policy.get("annotations", {})
            policy_id = annotations.get("id", "?")
            effect = policy.get("effect", "?")
            note = (
                f"grants: {annotations['grants']}"
                if "grants" in annotations
                else f"reason: {annotations['reason']}"
                if "reason" in annotations
                else ""
            )
            found[policy_id] = (PolicyNote(policy_id, effect, name, note), policy)
    return found


def _admits(policy: dict[str, Any], principal_type: str, action: str) -> bool:
    principal = policy.get("principal", {})
    if principal.get("op") == "is" and principal.get("entity_type") != principal_type:
        return False
    if principal.get("op") == "==" and principal.get("entity", {}).get("type") != principal_type:
        return False
    scope = policy.get("action", {})
    if scope.get("op") == "==":
        return bool(scope.get("entity", {}).get("id") == action)
    if scope.get("op") == "in":
        entities = scope.get("entities") or [scope.get("entity", {})]
        return any(entity.get("id") == action for entity in entities)
    return True
