{{/*
Names, labels and the RBAC rules shared by the ClusterRole and the per-namespace Roles.
*/}}

{{- define "dbmigration-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: release-chart, or just the release name when it already contains the chart name.
*/}}
{{- define "dbmigration-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dbmigration-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dbmigration-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dbmigration-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "dbmigration-operator.labels" -}}
helm.sh/chart: {{ include "dbmigration-operator.chart" . }}
{{ include "dbmigration-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dbmigration-operator
{{- end }}

{{- define "dbmigration-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dbmigration-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "dbmigration-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "dbmigration-operator.jobImage" -}}
{{- default (include "dbmigration-operator.image" .) .Values.jobDefaults.image }}
{{- end }}

{{- define "dbmigration-operator.peeringName" -}}
{{- default (include "dbmigration-operator.fullname" .) .Values.peering.name }}
{{- end }}

{{/*
True (non-empty) when the operator watches every namespace: only with allNamespaces (opt-in).
*/}}
{{- define "dbmigration-operator.clusterWide" -}}
{{- if and .Values.allNamespaces .Values.watchNamespaces }}
{{- fail "set either allNamespaces or watchNamespaces, not both" }}
{{- end }}
{{- if .Values.allNamespaces }}true{{ end }}
{{- end }}

{{/*
The watched namespaces as a JSON list (use with fromJsonArray): watchNamespaces, or the release
namespace when it is empty.
*/}}
{{- define "dbmigration-operator.namespaces" -}}
{{- if .Values.watchNamespaces }}{{ toJson .Values.watchNamespaces }}{{ else }}{{ list .Release.Namespace | toJson }}{{ end }}
{{- end }}

{{/*
Rules the operator needs in every namespace it watches (README.md justifies each one).
Used by the ClusterRole (all namespaces) and by each Role (listed namespaces).
*/}}
{{- define "dbmigration-operator.namespacedRules" -}}
- apiGroups: ["dbmigrator.io"]
  resources: ["databasemigrations"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["dbmigrator.io"]
  resources: ["databasemigrations/status"]
  verbs: ["patch"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["list", "watch", "create", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
{{- if .Values.rbac.podLogs }}
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
{{- end }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}

{{/*
kopf scans CustomResourceDefinitions at startup and watches them while it runs.
*/}}
{{- define "dbmigration-operator.crdRules" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
{{- end }}
