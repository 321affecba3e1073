package render

import (
	"errors"
	"fmt"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
)

// Severity is the severity of a lint message.
type Severity int

// Severities, in increasing order; they match Helm's lint severities.
const (
	SeverityUnknown Severity = support.UnknownSev
	SeverityInfo    Severity = support.InfoSev
	SeverityWarning Severity = support.WarningSev
	SeverityError   Severity = support.ErrorSev
)

// String returns the severity as Helm prints it: INFO, WARNING, ERROR.
func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "INFO"
	case SeverityWarning:
		return "WARNING"
	case SeverityError:
		return "ERROR"
	default:
		return "UNKNOWN"
	}
}

// Message is one finding of the linter.
type Message struct {
	// Severity of the finding.
	Severity Severity
	// Path is the chart file the finding is about, such as
	// "templates/deployment.yaml" or "Chart.yaml".
	Path string
	// Err describes the finding.
	Err error
}

// String formats the message as helm lint does: "[WARNING] path: text".
func (m Message) String() string {
	text := ""
	if m.Err != nil {
		text = m.Err.Error()
	}
	return fmt.Sprintf("[%s] %s: %s", m.Severity, m.Path, text)
}

// HighestSeverity returns the highest severity among msgs, or
// SeverityUnknown when there are none.
func HighestSeverity(msgs []Message) Severity {
	highest := SeverityUnknown
	for _, m := range msgs {
		highest = max(highest, m.Severity)
	}
	return highest
}

// Lint runs Helm's linter on the chart directory (or .tgz archive) at dir,
// the values checked against the chart's schemas by ValidateValues,
// with the given values, rendering against DefaultKubeVersion in
// DefaultNamespace, and returns all its messages, informational ones
// included. The error is reserved for a chart that could not be linted at
// all; findings, errors among them, are returned as messages.
func Lint(dir string, values map[string]any) ([]Message, error) {
	kubeVersion, err := common.ParseKubeVersion(DefaultKubeVersion)
	if err != nil {
		return nil, fmt.Errorf("lint chart %q: kube version %q: %w", dir, DefaultKubeVersion, err)
	}
	if values == nil {
		values = map[string]any{}
	}
	// Helm's loader reads what symbolic links point to, anywhere, and its
	// schema check fetches $refs: load the chart as LoadChart does, and
	// check the values against the schema with ValidateValues instead.
	ch, err := LoadChart(dir)
	if err != nil {
		return nil, fmt.Errorf("lint chart %q: %w", dir, err)
	}
	l := action.NewLint()
	l.Namespace = DefaultNamespace
	l.KubeVersion = kubeVersion
	l.SkipSchemaValidation = true
	result := l.Run([]string{dir}, values)
	if result.TotalChartsLinted == 0 {
		return nil, fmt.Errorf("lint chart %q: %w", dir, errors.Join(result.Errors...))
	}
	msgs := make([]Message, 0, len(result.Messages)+1)
	for _, m := range result.Messages {
		msgs = append(msgs, Message{Severity: Severity(m.Severity), Path: m.Path, Err: m.Err})
	}
	if err := ValidateValues(ch, values); err != nil {
		msgs = append(msgs, Message{Severity: SeverityError, Path: "values.yaml", Err: err})
	}
	return msgs, nil
}
