"""The synthetic demo investigation: platform exports written as files, with a truth list."""

from workbench.demo._generate import DemoData, generate_demo

__all__ = ["DemoData", "generate_demo"]
