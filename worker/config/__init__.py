"""Desired state: the program and pairings an admin edits, validated into frozen models."""

from worker.config.loader import load_config
from worker.config.pairings import (
    Config,
    ConfigSource,
    Pairing,
    PairingsFile,
    SessionSpec,
    Tailoring,
    members,
    parse_session_key,
    session_key,
)
from worker.config.problems import ConfigError, ConfigProblem
from worker.config.program import (
    DEFAULT_CURRICULUM,
    Cadence,
    CurriculumItem,
    DateRange,
    DigestSettings,
    HealthRules,
    HolidayPolicy,
    Nudges,
    Program,
    PulseSettings,
    SharePointSettings,
    Weekday,
)
from worker.core.phases import Phase

__all__ = [
    "DEFAULT_CURRICULUM",
    "Cadence",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "ConfigSource",
    "CurriculumItem",
    "DateRange",
    "DigestSettings",
    "HealthRules",
    "HolidayPolicy",
    "Nudges",
    "Pairing",
    "PairingsFile",
    "Phase",
    "Program",
    "PulseSettings",
    "SessionSpec",
    "SharePointSettings",
    "Tailoring",
    "Weekday",
    "load_config",
    "members",
    "parse_session_key",
    "session_key",
]
