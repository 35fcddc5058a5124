"""The `DatabaseMigration` API (`dbmigrator.io/v1alpha1`): models, conditions, constants, CRD.

Pure: no Kubernetes client, no I/O. `api.spec` and `api.status` (built from `api.fields`) are the
single source of truth from which `api.schema` renders the OpenAPI schema, `api.crd` the CRD and
`api.reference` the reference documentation.
"""
