{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "herald.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, prefixed by the chart name unless it already contains it. */}}
{{- define "herald.fullname" -}}
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

{{/* Chart name and version, as used by the helm.sh/chart label. */}}
{{- define "herald.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Standard labels. */}}
{{- define "herald.labels" -}}
helm.sh/chart: {{ include "herald.chart" . }}
{{ include "herald.selectorLabels" . }}
app.kubernetes.io/version: {{ default .Chart.AppVersion .Values.image.tag | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: herald
{{- end }}

{{/* Selector labels: stable across upgrades. */}}
{{- define "herald.selectorLabels" -}}
app.kubernetes.io/name: {{ include "herald.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The headless Service that governs the StatefulSet (pod DNS: <fullname>-N.<fullname>). */}}
{{- define "herald.headlessServiceName" -}}
{{- include "herald.fullname" . }}
{{- end }}

{{/* The ClusterIP Service that the ServiceMonitor scrapes. */}}
{{- define "herald.metricsServiceName" -}}
{{- printf "%s-metrics" (include "herald.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{- define "herald.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "herald.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "herald.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Checks that the schema cannot express well; fails the render with a message naming the key. */}}
{{- define "herald.validate" -}}
{{- $k := .Values.kafka }}
{{- if $k.sasl.enabled }}
{{- if not $k.sasl.username }}
{{- fail "kafka.sasl.username is required when kafka.sasl.enabled is true" }}
{{- end }}
{{- if not $k.sasl.existingSecret }}
{{- fail "kafka.sasl.existingSecret is required when kafka.sasl.enabled is true (the SASL password is never put in the ConfigMap)" }}
{{- end }}
{{- end }}
{{- if hasKey $k.properties "sasl.password" }}
{{- fail "kafka.properties must not contain sasl.password: put the password in a Secret and set kafka.sasl.existingSecret" }}
{{- end }}
{{- $cfgKafka := get .Values.config "kafka" }}
{{- if kindIs "map" $cfgKafka }}
{{- $cfgProps := get $cfgKafka "properties" }}
{{- if and (kindIs "map" $cfgProps) (hasKey $cfgProps "sasl.password") }}
{{- fail "config.kafka.properties must not contain sasl.password: put the password in a Secret and set kafka.sasl.existingSecret" }}
{{- end }}
{{- end }}
{{- end }}

{{/* librdkafka properties: bootstrap servers, what SASL/TLS imply, then the user's properties. */}}
{{- define "herald.kafkaProperties" -}}
{{- $k := .Values.kafka }}
{{- $props := dict "bootstrap.servers" $k.bootstrapServers }}
{{- if and $k.sasl.enabled $k.tls.enabled }}
{{- $_ := set $props "security.protocol" "SASL_SSL" }}
{{- else if $k.sasl.enabled }}
{{- $_ := set $props "security.protocol" "SASL_PLAINTEXT" }}
{{- else if $k.tls.enabled }}
{{- $_ := set $props "security.protocol" "SSL" }}
{{- end }}
{{- if $k.sasl.enabled }}
{{- $_ := set $props "sasl.mechanism" $k.sasl.mechanism }}
{{- $_ := set $props "sasl.username" $k.sasl.username }}
{{- end }}
{{- if and $k.tls.enabled $k.tls.caSecret }}
{{- $_ := set $props "ssl.ca.location" (printf "/etc/herald/tls/%s" $k.tls.caKey) }}
{{- end }}
{{- toYaml (mergeOverwrite $props (deepCopy $k.properties)) }}
{{- end }}

{{/* Herald's config.yaml: the free-form `config` block with the keys the chart manages on top. */}}
{{- define "herald.config" -}}
{{- $props := include "herald.kafkaProperties" . | fromYaml }}
{{- $managed := dict
  "kafka" (dict "group_id" .Values.kafka.groupId "properties" $props)
  "state" (dict "dir" "/var/lib/herald")
  "metrics" (dict "listen" "0.0.0.0:9464")
  "log" (dict "format" "json" "level" .Values.logLevel) }}
{{- toYaml (mergeOverwrite (deepCopy .Values.config) $managed) }}
{{- end }}
