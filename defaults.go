// Package defaults holds the repository's queues.yaml and deploy/remediation.yaml as the
// greep binary embeds them, so `greep local` runs from any directory while the files in
// the repository stay the single source (`greep local --print-config` writes them out).
package defaults

import _ "embed"

// Queues is queues.yaml.
//
//go:embed queues.yaml
var Queues []byte

// Rules is deploy/remediation.yaml.
//
//go:embed deploy/remediation.yaml
var Rules []byte
