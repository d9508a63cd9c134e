package local

import (
	"fmt"
	"io"

	defaults "github.com/greephq/greep"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/rules"
)

// The default files: looked for in the working directory and its parents (a checkout),
// else the copies embedded in the binary.
const (
	defaultQueuesFile = "queues.yaml"
	defaultRulesFile  = "deploy/remediation.yaml"
)

// embeddedQueues is queues.yaml as the binary embeds it, for a default --queues not found
// on disk.
func embeddedQueues() (*queueconfig.Config, error) {
	return queueconfig.Parse(defaultQueuesFile+" (embedded)", defaults.Queues)
}

// loadRules reads the rules file; the default one falls back to the embedded copy.
func loadRules(path string) (*rules.Config, error) {
	found, err := findFile(path)
	if err != nil && path == defaultRulesFile {
		return rules.Parse(defaults.Rules)
	}
	if err != nil {
		return nil, err
	}
	return rules.LoadFile(found)
}

// PrintConfig writes the embedded defaults (`greep local --print-config`), each preceded
// by the path it is read from, as two YAML documents.
func PrintConfig(w io.Writer) error {
	_, err := fmt.Fprintf(w, "# %s\n%s\n---\n# %s\n%s", defaultQueuesFile, defaults.Queues, defaultRulesFile, defaults.Rules)
	return err
}
