{{/*
Chart name, truncated to the 63 characters Kubernetes allows in a label.
*/}}
{{- define "ghillie.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's resources: fullnameOverride, else the release
name, suffixed with the chart name unless the release name already holds it.
*/}}
{{- define "ghillie.fullname" -}}
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

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "ghillie.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Standard labels.
*/}}
{{- define "ghillie.labels" -}}
helm.sh/chart: {{ include "ghillie.chart" . }}
{{ include "ghillie.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels: name and instance only, so they never change on upgrade.
*/}}
{{- define "ghillie.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ghillie.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Name of the ServiceAccount the pods run as.
*/}}
{{- define "ghillie.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ghillie.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the Secret loaded with envFrom: secrets.existingSecretName if set,
else the full name (the ExternalSecret's target). Empty when no Secret is
configured.
*/}}
{{- define "ghillie.secretName" -}}
{{- if .Values.secrets.existingSecretName }}
{{- .Values.secrets.existingSecretName }}
{{- else if .Values.secrets.externalSecret.enabled }}
{{- include "ghillie.fullname" . }}
{{- end }}
{{- end }}

{{/*
Non-secret environment held in the ConfigMap: env.normal, with GHILLIE_PORT
always taken from service.port so the app listens where the probes and the
Service look.
*/}}
{{- define "ghillie.configData" -}}
{{- $data := dict }}
{{- range $key, $value := .Values.env.normal }}
{{- $_ := set $data $key (toString $value) }}
{{- end }}
{{- $_ := set $data "GHILLIE_PORT" (toString .Values.service.port) }}
{{- toYaml $data }}
{{- end }}
