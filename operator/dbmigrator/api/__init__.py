"""The `DatabaseMigration` API (`dbmigrator.io/v1alpha1`): models, conditions, constants, CRD.

Pure: no Kubernetes client, no I/O. `api.models` is the single source of truth from which
`api.crd` renders the CRD and the reference documentation.
"""

from dbmigrator.api.constants import API_VERSION, GROUP, KIND, PLURAL, VERSION
from dbmigrator.api.models import (
    DatabaseMigrationSpec,
    DatabaseMigrationStatus,
    parse_spec,
    parse_status,
    render_status_patch,
)

__all__ = [
    "API_VERSION",
    "GROUP",
    "KIND",
    "PLURAL",
    "VERSION",
    "DatabaseMigrationSpec",
    "DatabaseMigrationStatus",
    "parse_spec",
    "parse_status",
    "render_status_patch",
]
