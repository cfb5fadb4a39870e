"""The synthetic demo investigation: platform exports written as files, with a truth list;
and known offenders for it (an earlier case and a partner's data sharing planted identities)."""

from workbench.demo._generate import DemoData, generate_demo
from workbench.demo._known import KnownOffenders, generate_known_offenders

__all__ = ["DemoData", "KnownOffenders", "generate_demo", "generate_known_offenders"]
