package remediation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/tasks"
)

// Judge judges a group whose members were just written (tasks.Judge, queued by
// tasks.JudgeTask): the membership rules (suspended, archived and external members) and
// the secure rules (a sentinel added or removed) are evaluated on the stored members and
// the settings last read, as Evaluate does, and findings open and close at once. It
// never queues a patch, because Greep never patches on a notification alone: a settings
// finding remediate mode would patch waits for a read of the settings, which Judge asks
// for when Google's own read wrote the members (j.Provisional false). It calls no Google
// API.
func (s *Service) Judge(ctx context.Context, j tasks.Judge) error {
	key := strings.TrimSpace(j.Group)
	if key == "" {
		return greep.Errorf(greep.EINVALID, "judge: no group")
	}
	g, err := s.cfg.Store.Group(ctx, key)
	if errors.Is(err, greep.ErrNotFound) {
		// Removed since the write: its removal closes its findings.
		s.log.Debug("judge: the group is no longer in the cache", zap.String("group", key))
		return nil
	}
	if err != nil {
		return fmt.Errorf("judge %s: reading the group: %w", key, err)
	}
	return s.evaluate(ctx, tasks.Evaluate{Group: g.Email}, &j)
}

// Endings of the detail of a settings finding a member write opened in remediate mode.
const (
	detailAwaitingMembers  = " (found on a member change a notification announced; the patch waits for Google's read of the members, then of the settings)"
	detailAwaitingSettings = " (found on a member change; the patch waits for the read of the settings queued now)"
	// The notification's debounced settings read is queued already.
	detailAwaitingAnnounced = " (found on a settings change a notification announced; the patch waits for Google's read of the settings)"
)

// awaitingDetail ends the detail of a settings finding judged on j; announced says the
// settings judged hold values a notification announced that no read has confirmed.
func awaitingDetail(j tasks.Judge, announced bool) string {
	if announced {
		return detailAwaitingAnnounced
	}
	if j.Provisional {
		return detailAwaitingMembers
	}
	return detailAwaitingSettings
}

// waitsForMembers reports whether f was opened on a provisional member change and no
// read has decided it since: the write that confirms the change asks for the read.
// Any other open settings finding was decided by a read (a patch queued, the run cap
// or the patch-loop guard reached), and a member write does not ask for another.
func waitsForMembers(f greep.Finding) bool {
	return f.State == greep.FindingOpen && strings.HasSuffix(f.Detail, detailAwaitingMembers)
}

// requestRead queues the settings read a patch waits for on the push-driven lane. Its
// evaluation patches (with the run cap and the patch-loop guard) if the settings Google
// answers still break the rules. Named after the member write, so a judging run twice
// reads once.
func (s *Service) requestRead(ctx context.Context, email string, j tasks.Judge) error {
	t, err := tasks.New(tasks.QueueSettings, tasks.PathSettingsGet, tasks.Name(email, "judge-read", j.Version),
		tasks.SettingsGet{Group: email, Reason: "members changed"}, time.Time{})
	if err != nil {
		return err
	}
	if err := s.cfg.Queue.Enqueue(ctx, t); err != nil {
		return fmt.Errorf("judge %s: queueing the settings read: %w", email, err)
	}
	return nil
}
