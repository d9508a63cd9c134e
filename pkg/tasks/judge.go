package tasks

import (
	"time"

	"github.com/greephq/greep/pkg/queue"
)

// Judge asks the remediation worker to judge a group whose members were just written:
// its membership and secure rules are evaluated on the stored members and the settings
// last read, findings open and close at once, and nothing is patched from it.
type Judge struct {
	Group string `json:"group"` // email or id
	// Version names the member write: the snapshot's read time for a read of Google, the
	// activity id for a provisional change. A write delivered twice judges once; a later
	// write judges again.
	Version string `json:"version"`
	// Provisional says the members include a change a notification announced that
	// Google's read has not confirmed yet. Without it (Google's own read wrote the
	// members) a settings finding that remediate mode would patch asks for a read of the
	// settings, and that read's evaluation patches.
	Provisional bool `json:"provisional,omitempty"`
}

// JudgeTask is the remediation task that judges j. Any service whose write changed a
// group's members enqueues it; it costs no Google call.
func JudgeTask(j Judge) (queue.Task, error) {
	kind := "judge"
	if j.Provisional {
		kind = "judge-provisional"
	}
	return New(QueueRemediation, PathRemediationJudge, Name(j.Group, kind, j.Version), j, time.Time{})
}
