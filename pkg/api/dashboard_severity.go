package api

import (
	"strings"

	"github.com/greephq/greep/pkg/greep"
)

// Severity of a finding, judged by how far the unsafe value opens the group (the rules
// say what is unsafe; this says how bad): anyone on the internet, then anyone in the
// organisation, then the rest.
const (
	severityNormal = iota + 1
	severityHigh
	severityCritical
)

var severityNames = map[int]string{severityNormal: "normal", severityHigh: "high", severityCritical: "critical"}

func severity(f greep.Finding) int {
	v := strings.ToUpper(f.Before)
	switch {
	case strings.Contains(v, "ANYONE") || strings.Contains(v, "PUBLIC") ||
		(f.Field == "allowExternalMembers" && v == "TRUE"):
		return severityCritical
	case strings.Contains(v, "ALL_IN_DOMAIN") || strings.Contains(v, "DOMAIN"):
		return severityHigh
	default:
		return severityNormal
	}
}
