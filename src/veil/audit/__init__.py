"""The audit log: every view, denial and admin action, appended in the same transaction."""

from veil.audit._events import AuditRecord, AuditTag, append_events

__all__ = ["AuditRecord", "AuditTag", "append_events"]
