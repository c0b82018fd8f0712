{{- define "deltaserve.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "deltaserve.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "deltaserve.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "deltaserve.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "deltaserve.selectorLabels" -}}
app.kubernetes.io/name: {{ include "deltaserve.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "deltaserve.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "deltaserve.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "deltaserve.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "deltaserve.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "deltaserve.image" -}}
{{- $tag := default (printf "%s-%s" .Chart.AppVersion .Values.image.variant) .Values.image.tag }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}

{{/* The model directory the server reads: mountPath, or subPath below it. */}}
{{- define "deltaserve.modelDir" -}}
{{- if .Values.model.subPath }}
{{- printf "%s/%s" (trimSuffix "/" .Values.model.mountPath) .Values.model.subPath }}
{{- else }}
{{- .Values.model.mountPath }}
{{- end }}
{{- end }}

{{/* The port kubelet's gRPC probes ask: the plaintext health port when the main one speaks TLS. */}}
{{- define "deltaserve.probePort" -}}
{{- if .Values.tls.enabled }}{{ .Values.tls.healthPort }}{{ else }}{{ .Values.server.grpcPort }}{{ end }}
{{- end }}

{{/* The server's command line: one argument per server flag (server/main.cc). */}}
{{- define "deltaserve.args" -}}
{{- if eq .Values.model.source "demo" }}
- --demo-model
{{- else }}
- --model={{ include "deltaserve.modelDir" . }}
- --load-format={{ .Values.model.loadFormat }}
{{- end }}
- --device={{ .Values.server.device }}
- --gpu-memory-utilization={{ .Values.server.gpuMemoryUtilization }}
- --enforce-eager={{ .Values.server.enforceEager }}
- --async-scheduling={{ .Values.server.asyncScheduling }}
- --listen=0.0.0.0:{{ .Values.server.grpcPort }}
- --metrics-listen=0.0.0.0:{{ .Values.server.metricsPort }}
- --max-num-seqs={{ .Values.server.maxNumSeqs }}
- --max-num-batched-tokens={{ .Values.server.maxNumBatchedTokens }}
- --max-model-len={{ .Values.server.maxModelLen }}
- --kv-cache-bytes={{ .Values.server.kvCacheBytes | int64 }}
- --block-size={{ .Values.server.blockSize }}
- --max-queue={{ .Values.server.maxQueue }}
- --drain-timeout={{ .Values.server.drainTimeoutSeconds }}
- --max-receive-message-bytes={{ .Values.server.maxReceiveMessageBytes | int64 }}
- --max-tokens={{ .Values.sampling.maxTokens }}
- --temperature={{ .Values.sampling.temperature }}
- --top-p={{ .Values.sampling.topP }}
- --top-k={{ .Values.sampling.topK }}
- --min-p={{ .Values.sampling.minP }}
- --repetition-penalty={{ .Values.sampling.repetitionPenalty }}
- --presence-penalty={{ .Values.sampling.presencePenalty }}
- --frequency-penalty={{ .Values.sampling.frequencyPenalty }}
- --attention-mode={{ .Values.attention.mode }}
- --window={{ .Values.attention.window }}
- --sink={{ .Values.attention.sink }}
- --lambda={{ .Values.attention.lambda }}
- --probe-fraction={{ .Values.attention.probeFraction }}
- --dense-layers={{ .Values.attention.denseLayers }}
{{- if .Values.tls.enabled }}
- --tls-cert-file=/etc/deltaserve/tls/tls.crt
- --tls-key-file=/etc/deltaserve/tls/tls.key
{{- if .Values.tls.clientCaSecretName }}
- --tls-client-ca-file=/etc/deltaserve/client-ca/ca.crt
{{- end }}
- --health-listen=0.0.0.0:{{ .Values.tls.healthPort }}
{{- end }}
{{- if .Values.auth.enabled }}
- --auth-token-file=/etc/deltaserve/auth/{{ .Values.auth.secretKey }}
{{- end }}
{{- range .Values.server.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}
