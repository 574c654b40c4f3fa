{{/* Chart name, overridable. */}}
{{- define "meshpilot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name used for the resources of a release. */}}
{{- define "meshpilot.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "meshpilot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "meshpilot.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: meshpilot
{{- end -}}

{{- define "meshpilot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meshpilot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "meshpilot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "meshpilot.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "meshpilot.webhookSecretName" -}}
{{- if eq .Values.webhook.certificate.mode "secret" -}}
{{- required "webhook.certificate.existingSecret is required when webhook.certificate.mode=secret" .Values.webhook.certificate.existingSecret -}}
{{- else -}}
{{- printf "%s-webhook-tls" (include "meshpilot.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The five Istio networking kinds meshpilot reads (plural resource names). */}}
{{- define "meshpilot.istioResources" -}}
- virtualservices
- destinationrules
- gateways
- serviceentries
- sidecars
{{- end -}}
