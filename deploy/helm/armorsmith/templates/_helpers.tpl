{{/* Names: <fullname> is the release name when it already contains the chart name. */}}
{{- define "armorsmith.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "armorsmith.fullname" -}}
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

{{/* <fullname>-<component>, for objects of one component: (list . "probe") */}}
{{- define "armorsmith.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "armorsmith.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "armorsmith.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "armorsmith.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: (list . "probe") */}}
{{- define "armorsmith.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "armorsmith.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "armorsmith.componentLabels" -}}
{{ include "armorsmith.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "armorsmith.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "armorsmith.statusServiceName" -}}
{{- default (printf "%s-status-svc" .Release.Name) .Values.status.service.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "armorsmith.postgresSecretName" -}}
{{- if .Values.postgres.existingSecret -}}
{{- .Values.postgres.existingSecret -}}
{{- else -}}
{{- printf "%s-postgres" (include "armorsmith.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "armorsmith.postgresSecretKey" -}}
{{- if .Values.postgres.existingSecret -}}
{{- .Values.postgres.existingSecretKey -}}
{{- else -}}
dsn
{{- end -}}
{{- end -}}

{{/* Environment every armorsmith container gets. */}}
{{- define "armorsmith.commonEnv" -}}
- name: ARMORSMITH_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "armorsmith.kafkaEnv" -}}
- name: ARMORSMITH_KAFKA_BROKERS
  value: {{ required "kafka.brokers is required" .Values.kafka.brokers | quote }}
{{- end -}}

{{- define "armorsmith.postgresEnv" -}}
- name: ARMORSMITH_PG_DSN
  valueFrom:
    secretKeyRef:
      name: {{ include "armorsmith.postgresSecretName" . }}
      key: {{ include "armorsmith.postgresSecretKey" . }}
{{- end -}}

{{/* Always set, even empty: an empty value turns the label check off. */}}
{{- define "armorsmith.matchLabelEnv" -}}
- name: ARMORSMITH_MATCH_LABEL
  value: {{ .Values.matchLabel | default "" | quote }}
{{- end -}}

{{/* Liveness and readiness on the plain-HTTP metrics port: (list "metrics") */}}
{{- define "armorsmith.healthProbes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ . }}
  initialDelaySeconds: 10
  periodSeconds: 20
  timeoutSeconds: 5
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /healthz
    port: {{ . }}
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 3
{{- end -}}

{{/* The securityContext of every container except the probe's: non-root, nothing extra. */}}
{{- define "armorsmith.restrictedSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "armorsmith.restrictedPodSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "armorsmith.metricsPodAnnotations" -}}
{{- $root := index . 0 -}}
{{- if $root.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ index . 1 | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end -}}
