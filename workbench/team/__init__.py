"""A team's cases on PostgreSQL + PostGIS: identity and rights from database roles.

``_schema`` is the team store's versioned schema with its roles, ``_roles`` the people
granted them, ``_store`` the URL and the connection, ``_audit`` the audit chain in the
database, ``_digest`` the tables' digests computed there, ``_transfer`` push and pull
between a case file and the store, ``_case`` a team case (the case API on the store),
``_ingest`` and ``_analysis`` its ingest, networks and site runs (the case file's code on
the store's rows) and ``_server`` a throwaway PostgreSQL for tests and trials.
"""

from workbench.team._audit import verify as verify_team_audit
from workbench.team._case import TeamCase, open_team_case, record_review
from workbench.team._roles import grant, init_store, revoke
from workbench.team._schema import ROLES, SCHEMA_VERSION, migrate
from workbench.team._server import Server, start_server, stop_server
from workbench.team._store import TeamAccessError, TeamURL, parse_url
from workbench.team._transfer import pull, push

__all__ = [
    "ROLES",
    "SCHEMA_VERSION",
    "Server",
    "TeamAccessError",
    "TeamCase",
    "TeamURL",
    "grant",
    "init_store",
    "migrate",
    "open_team_case",
    "parse_url",
    "pull",
    "push",
    "record_review",
    "revoke",
    "start_server",
    "stop_server",
    "verify_team_audit",
]
