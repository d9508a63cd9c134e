package service

import (
	"flag"
	"fmt"

	"github.com/greephq/greep/pkg/rules"
)

// RulesFile is the remediation rules' configuration, shared by the services that apply
// them: remediation decides patches by them, groupssettings re-checks each patch by them
// before sending it. Embed it in a service's Config.
type RulesFile struct {
	Rules string // the rules file
	Mode  string // overrides the rules file's mode when set
}

// Flags registers --rules and --remediation, defaulting from GREEP_RULES and
// GREEP_REMEDIATION.
func (r *RulesFile) Flags(fs *flag.FlagSet) {
	fs.StringVar(&r.Rules, "rules", Env("GREEP_RULES", "deploy/remediation.yaml"), "rules file (env GREEP_RULES)")
	fs.StringVar(&r.Mode, "remediation", Env("GREEP_REMEDIATION", ""), "detect or remediate, overriding the rules file (env GREEP_REMEDIATION)")
}

// Validate refuses an unknown mode.
func (r RulesFile) Validate() error {
	if r.Mode != "" && r.Mode != rules.ModeDetect && r.Mode != rules.ModeRemediate {
		return fmt.Errorf("--remediation %q: want detect or remediate", r.Mode)
	}
	return nil
}

// Load reads and validates the rules file: invalid rules stop the service at start, with
// the line named, before it connects anywhere or any task runs.
func (r RulesFile) Load() (*rules.Config, error) { return rules.LoadFile(r.Rules) }
