"""The synthetic demo investigation: platform exports written as files, with a truth list;
known offenders for it (an earlier case and a partner's data sharing planted identities); and
a year of histories with planted moves after raids, parallel sites and pauses."""

from workbench.demo._generate import DemoData, generate_demo
from workbench.demo._known import KnownOffenders, generate_known_offenders
from workbench.demo._moves import RelocationDemo, generate_relocations

__all__ = [
    "DemoData",
    "KnownOffenders",
    "RelocationDemo",
    "generate_demo",
    "generate_known_offenders",
    "generate_relocations",
]
