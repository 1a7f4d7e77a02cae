"""YAML → frozen dataclasses with source locations. Nothing else in Quinto parses YAML."""

from quinto.spec.checkfile import parse_check_file
from quinto.spec.model import Anomaly, Check, Column, Project, TableSpec
from quinto.spec.project import interpolate, load_project
from quinto.spec.suite import Suite, load_suite

__all__ = [
    "Anomaly",
    "Check",
    "Column",
    "Project",
    "Suite",
    "TableSpec",
    "interpolate",
    "load_project",
    "load_suite",
    "parse_check_file",
]
