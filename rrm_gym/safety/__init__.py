"""The event loop: DFS, shield, cooldown, rollback and a signed audit trail as one change path."""

from rrm_gym.safety.audit import AuditConfigError, AuditLog, AuditRecord, VerifyResult, pseudonymise, verify
from rrm_gym.safety.detectors import DetectorConfig
from rrm_gym.safety.dfs import ComplianceMonitor, DfsState
from rrm_gym.safety.events import ChangeRequest, Event, EventQueue, EventType, Outcome, ShieldResult, Source
from rrm_gym.safety.loop import EventLoop, EventLoopConfig
from rrm_gym.safety.rollback import RollbackConfig
from rrm_gym.safety.selector import SelectorWeights
from rrm_gym.safety.shield import CooldownConfig, ShieldConfig

__all__ = [
    "AuditConfigError",
    "AuditLog",
    "AuditRecord",
    "ChangeRequest",
    "ComplianceMonitor",
    "CooldownConfig",
    "DetectorConfig",
    "DfsState",
    "Event",
    "EventLoop",
    "EventLoopConfig",
    "EventQueue",
    "EventType",
    "Outcome",
    "RollbackConfig",
    "SelectorWeights",
    "ShieldConfig",
    "ShieldResult",
    "Source",
    "VerifyResult",
    "pseudonymise",
    "verify",
]
