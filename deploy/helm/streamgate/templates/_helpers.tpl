{{- define "streamgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "streamgate.fullname" -}}
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

{{- define "streamgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "streamgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "streamgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "streamgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "streamgate.secretName" -}}
{{- default (include "streamgate.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* Refuse values that cannot run: one line each, like the server's own start-up errors. */}}
{{- define "streamgate.validate" -}}
{{- if not (has .Values.broker.kind (list "nats" "kafka" "redis")) }}
{{- fail (printf "broker.kind=%q: expected nats, kafka or redis (the memory broker does not reach other instances)" .Values.broker.kind) }}
{{- end }}
{{- if and (not .Values.existingSecret) (not .Values.database.url) }}
{{- fail "database.url (DATABASE_URL) is required, or existingSecret with a DATABASE_URL key: PGlite serves one process only" }}
{{- end }}
{{- if and (not .Values.existingSecret) (not .Values.auth.jwtSecret) (not .Values.auth.jwksUrl) }}
{{- fail "auth.jwtSecret or auth.jwksUrl is required (or existingSecret with JWT_SECRET): the server refuses HOST=0.0.0.0 without auth" }}
{{- end }}
{{- if and .Values.auth.jwtSecret .Values.auth.jwksUrl }}
{{- fail "set auth.jwtSecret or auth.jwksUrl, not both" }}
{{- end }}
{{- end }}

{{- define "streamgate.terminationGracePeriodSeconds" -}}
{{- if .Values.terminationGracePeriodSeconds }}
{{- .Values.terminationGracePeriodSeconds }}
{{- else }}
{{- add .Values.preStopSleepSeconds .Values.shutdownTimeoutSeconds 5 }}
{{- end }}
{{- end }}
