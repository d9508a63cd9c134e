package remediation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/notify"
	"github.com/greephq/greep/pkg/provisional"
	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/tasks"
)

// decision is what happens to a group's settings violations.
type decision int

const (
	record       decision = iota // detect mode, exempt, or nothing to patch
	patch                        // patch queued
	capped                       // the run's cap is reached
	awaitingRead                 // judged on a member write: the patch waits for a read
	looping                      // the patch-loop guard stopped it
)

// Evaluate checks one group's stored settings and members against the rules, updates its
// findings and, in remediate mode, queues the patch. It is safe to run twice: findings
// are keyed by (group, rule), and the patch and notification tasks are named after what
// they do.
func (s *Service) Evaluate(ctx context.Context, ev tasks.Evaluate) error {
	return s.evaluate(ctx, ev, nil)
}

// evaluate is Evaluate, or with j the judging of a member write (Judge): then it queues
// no patch, leaves a settings finding already decided on these settings as it is (a
// patch it waits for included), and asks for the read a patch waits for.
func (s *Service) evaluate(ctx context.Context, ev tasks.Evaluate, j *tasks.Judge) error {
	now := s.cfg.Now()
	email := strings.ToLower(strings.TrimSpace(ev.Group))
	if email == "" {
		return greep.Errorf(greep.EINVALID, "evaluate: no group")
	}
	existing, err := s.findingsOf(ctx, email)
	if err != nil {
		return err
	}
	g, err := s.cfg.Store.Group(ctx, email)
	if errors.Is(err, greep.ErrNotFound) {
		// Deleted since the task was queued: whatever it broke is gone with it.
		all := make([]greep.Finding, 0, len(existing))
		for _, f := range existing {
			all = append(all, f)
		}
		return s.close(ctx, all, nil, time.Time{}, "the group no longer exists", now, true)
	}
	if err != nil {
		return fmt.Errorf("evaluate %s: reading the group: %w", email, err)
	}
	if j == nil && provisional.BaseETag(g.MembersETag) != g.MembersETag {
		// The stored members hold changes only a notification announced: this read's
		// evaluation judges as a provisional member write does and patches nothing. The
		// read that confirms them asks for the settings read that patches.
		j = &tasks.Judge{Group: email, Version: g.MembersETag, Provisional: true}
	}
	gs, err := s.cfg.Store.Settings(ctx, email)
	if err != nil && !errors.Is(err, greep.ErrNotFound) {
		return fmt.Errorf("evaluate %s: reading settings: %w", email, err)
	}
	// Settings a notification announced are judged at once, over the read; a finding
	// they open waits for the read that confirms them to be patched.
	pending, err := provisional.LoadSettings(ctx, s.cfg.Store, email)
	if err != nil {
		return fmt.Errorf("evaluate %s: %w", email, err)
	}
	settings, announced := pending.Over(gs)
	// closeOn stays nil while the settings were never read: what was announced alone
	// closes no settings finding.
	var closeOn greep.Settings
	if gs.Settings != nil {
		closeOn = settings
	}
	if len(announced) > 0 && j == nil {
		j = &tasks.Judge{Group: email, Version: announced[len(announced)-1].ActivityID, Provisional: true}
	}
	// stale: a settings finding was decided on a later read than gs (a patch answered, or
	// a later read evaluated, since gs was read). This evaluation's view of the settings
	// is out of date: it judges the membership rules only and queues no patch; the later
	// read's evaluation (or the next sweep's) judges the settings.
	stale := false
	for _, f := range existing {
		if f.Field != rules.FieldMember && f.SettingsReadAt.After(gs.ReadAt) {
			stale = true
		}
	}
	members, err := s.cfg.Store.Members(ctx, g.ID)
	if err != nil {
		return fmt.Errorf("evaluate %s: reading members: %w", email, err)
	}
	users, err := s.users(ctx, members)
	if err != nil {
		return fmt.Errorf("evaluate %s: %w", email, err)
	}
	exemptIDs, err := ExemptionIDs(ctx, s.cfg.Store, s.cfg.Rules)
	if err != nil {
		return fmt.Errorf("evaluate %s: %w", email, err)
	}
	res, err := s.cfg.Rules.Evaluate(rules.Input{Group: email, GroupID: g.ID, ExemptionIDs: exemptIDs,
		Settings: settings, Members: members, Users: users}, now)
	if err != nil {
		// A rule set whose safe values cannot be combined for this group: retrying
		// cannot help, so record it loudly and settle the task.
		s.log.Error("rules cannot be applied to the group", zap.String("group", email), zap.Error(err))
		return nil
	}

	day := s.day(now)
	dec, capDetail := record, ""
	wantsPatch := s.cfg.Mode == rules.ModeRemediate && res.Patch != nil && !stale
	if wantsPatch && j != nil {
		dec = awaitingRead
	} else if wantsPatch {
		dec = patch
		for _, v := range res.Violations {
			f := existing[FindingID(email, v.Rule)]
			if v.Field != rules.FieldMember && !notify.PatchPending(f) && patchesOn(f, day) >= s.cfg.Rules.MaxPatchesPerDay {
				dec = looping
			}
		}
		if dec == patch {
			ok, detail, err := s.reserve(ctx, ev.RunID, email, now)
			if err != nil {
				return err
			}
			if !ok {
				dec, capDetail = capped, detail
			}
		}
	}

	seen := map[string]bool{}
	needRead := false // a settings finding no read has decided since a member write opened it
	var patchFindings []string
	patchCount := 0
	for _, v := range res.Violations {
		id := FindingID(email, v.Rule)
		seen[id] = true
		settingsRule := v.Field != rules.FieldMember
		if settingsRule && stale {
			continue
		}
		prev := existing[id]
		changedBy := prev.ChangedBy
		fresh := prev.ID == "" || prev.State == greep.FindingFixed || prev.Before != v.Current
		if settingsRule && dec == awaitingRead && (fresh || waitsForMembers(prev)) {
			needRead = true
		}
		if settingsRule && !fresh && j != nil {
			continue // decided on these settings already: a member write adds nothing
		}
		if settingsRule && fresh {
			if changedBy, err = s.changedBy(ctx, email, v.Field, v.Current); err != nil {
				return err
			}
		}
		f, err := s.cfg.Store.UpdateFinding(ctx, id, func(f *greep.Finding) error {
			if settingsRule && f.SettingsReadAt.After(gs.ReadAt) {
				return errStale // decided on a later read while this evaluation ran
			}
			if f.ID == "" {
				f.ID, f.Group, f.Rule = id, email, v.Rule
			}
			if settingsRule {
				f.SettingsReadAt = gs.ReadAt
			}
			if f.State == "" || f.State == greep.FindingFixed {
				// A new occurrence: announced afresh, and its own notification task name.
				f.FirstSeen, f.NotifiedState = now, ""
			}
			wasPending := notify.PatchPending(*f) && f.Before == v.Current
			f.Field, f.Before, f.After, f.LastSeen, f.ChangedBy = v.Field, v.Current, v.Safe, now, changedBy
			switch {
			case res.Exemption != nil:
				f.State = greep.FindingExempt
				f.Detail = exemptDetail(res.Exemption, email)
			case !settingsRule:
				f.State, f.Detail = greep.FindingOpen, v.Detail
			case dec == record:
				f.State, f.Detail = greep.FindingOpen, v.Detail+" (detect mode: not patched)"
			case dec == patch:
				if !wasPending {
					if f.PatchDay != day {
						f.PatchDay, f.PatchesToday = day, 0
					}
					f.PatchesToday++
				}
				f.State = greep.FindingOpen
				f.Detail = fmt.Sprintf("%s: %s", notify.DetailPatchQueued, patchText(res.Patch))
			case dec == capped:
				f.State, f.Detail = greep.FindingOpen, capDetail
			case dec == awaitingRead:
				f.State, f.Detail = greep.FindingOpen, v.Detail+awaitingDetail(*j, len(announced) > 0)
			case dec == looping:
				f.State = greep.FindingFailed
				f.Detail = fmt.Sprintf("set back to an unsafe value again after %d patches today; the patch-loop guard (maxPatchesPerDay %d) stops patching it until the day ends — find who keeps changing it",
					patchesOn(*f, day), s.cfg.Rules.MaxPatchesPerDay)
			}
			return nil
		})
		if errors.Is(err, errStale) {
			stale = true
			continue
		}
		if err != nil {
			return fmt.Errorf("evaluate %s: finding %s: %w", email, v.Rule, err)
		}
		if settingsRule && dec == patch {
			patchFindings = append(patchFindings, id)
			patchCount = max(patchCount, f.PatchesToday)
		}
		if notify.Due(f, false) {
			if err := notify.Enqueue(ctx, s.cfg.Queue, f); err != nil {
				return err
			}
		}
	}

	if stale {
		// A finding this evaluation marked "patch queued" before it met the later
		// decision keeps that state; the evaluation of the later read queues the same
		// patch (same name) if it is still needed.
		s.log.Info("settings evaluation overtaken by a later read or patch; settings left to it", zap.String("group", email))
	}
	if dec == patch && len(patchFindings) > 0 && !stale {
		sort.Strings(patchFindings)
		body := tasks.SettingsPatch{Group: email, Patch: res.Patch, Findings: patchFindings, RunID: ev.RunID}
		// Named after the group, the day, the patch count and the values: a re-detection
		// while the patch is queued asks for the same task, which the queue refuses.
		name := tasks.Name(email, "patch", day, strconv.Itoa(patchCount), patchText(res.Patch))
		t, err := tasks.New(tasks.QueueSettings, tasks.PathSettingsPatch, name, body, time.Time{})
		if err != nil {
			return err
		}
		if err := s.cfg.Queue.Enqueue(ctx, t); err != nil {
			return fmt.Errorf("evaluate %s: queueing the patch: %w", email, err)
		}
		s.log.Info("patch queued", zap.String("group", email), zap.String("patch", patchText(res.Patch)), zap.String("run", ev.RunID))
	}

	if needRead && !j.Provisional {
		if err := s.requestRead(ctx, email, *j); err != nil {
			return err
		}
	}

	var unseen []greep.Finding
	for id, f := range existing {
		if !seen[id] {
			unseen = append(unseen, f)
		}
	}
	if stale {
		// Only the membership findings are this evaluation's to close.
		unseen = slices.DeleteFunc(unseen, func(f greep.Finding) bool { return f.Field != rules.FieldMember })
	}
	return s.close(ctx, unseen, closeOn, gs.ReadAt, "no longer breaks the rule", now, false)
}

// close marks findings fixed that the group no longer breaks. A settings finding is only
// closed when the settings were read (at readAt, and no finding was decided on a later
// read), or the group is gone.
func (s *Service) close(ctx context.Context, fs []greep.Finding, settings greep.Settings, readAt time.Time, why string, now time.Time, gone bool) error {
	for _, f := range fs {
		if f.State == greep.FindingFixed {
			continue
		}
		if f.Field != rules.FieldMember && settings == nil && !gone {
			continue // settings not read yet: no verdict on settings rules
		}
		after := ""
		if f.Field != rules.FieldMember {
			after = settings[f.Field]
		}
		upd, err := s.cfg.Store.UpdateFinding(ctx, f.ID, func(f *greep.Finding) error {
			if f.ID == "" || f.State == greep.FindingFixed {
				return errSkip
			}
			if f.Field != rules.FieldMember && !gone {
				if f.SettingsReadAt.After(readAt) {
					return errSkip
				}
				f.SettingsReadAt = readAt
			}
			f.State, f.LastSeen, f.Detail = greep.FindingFixed, now, why
			if f.Field != rules.FieldMember {
				f.After = after
			}
			return nil
		})
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			return fmt.Errorf("closing finding %s of %s: %w", f.Rule, f.Group, err)
		}
		if notify.Due(upd, false) {
			if err := notify.Enqueue(ctx, s.cfg.Queue, upd); err != nil {
				return err
			}
		}
	}
	return nil
}

var (
	errSkip  = errors.New("skip")
	errStale = errors.New("finding decided on a later settings read")
)

func patchesOn(f greep.Finding, day string) int {
	if f.PatchDay != day {
		return 0
	}
	return f.PatchesToday
}

func patchText(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + p[k]
	}
	return strings.Join(parts, ", ")
}

// exemptDetail gives the exemption's reason and, when the group is no longer at the
// address the rules file names, both addresses, so the file can be brought up to date.
func exemptDetail(e *rules.Exemption, current string) string {
	d := "exempt: " + e.Reason
	if e.Group != current {
		d += " (the rules file names it " + e.Group + ")"
	}
	if !e.Until().IsZero() {
		d += " (until " + e.Until().UTC().Format(time.RFC3339) + ")"
	}
	return d
}

// findingsOf returns every finding of the group, by id.
func (s *Service) findingsOf(ctx context.Context, email string) (map[string]greep.Finding, error) {
	out := map[string]greep.Finding{}
	q := greep.FindingQuery{Group: email}
	for {
		fs, next, err := s.cfg.Store.Findings(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("findings of %s: %w", email, err)
		}
		for _, f := range fs {
			out[f.ID] = f
		}
		if next == "" {
			return out, nil
		}
		q.Token = next
	}
}

// users looks up the members that are users, for the suspended and archived checks. A
// member unknown to the cache is judged by its Member.Status alone.
func (s *Service) users(ctx context.Context, members []greep.Member) (map[string]greep.User, error) {
	if m := s.cfg.Rules.Membership.Inactive; m != nil && !*m {
		return nil, nil
	}
	out := map[string]greep.User{}
	for _, m := range members {
		if m.Email == "" || (m.Type != greep.TypeUser && m.Type != "") {
			continue
		}
		u, err := s.cfg.Store.User(ctx, m.Email)
		if errors.Is(err, greep.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading user %s: %w", m.Email, err)
		}
		out[strings.ToLower(m.Email)] = u
	}
	return out, nil
}

// changedBy finds who set field to value from the change history: the actor of the latest
// CHANGE_GROUP_SETTING of that field, preferring one whose new value is the value seen.
// Reports names settings like WHO_CAN_VIEW_GROUP; the API field is whoCanViewGroup.
func (s *Service) changedBy(ctx context.Context, group, field, value string) (string, error) {
	want := settingKey(field)
	var best, latest string
	q := greep.EventQuery{Group: group}
	for {
		evs, next, err := s.cfg.Store.Events(ctx, q)
		if err != nil {
			return "", fmt.Errorf("change history of %s: %w", group, err)
		}
		for _, e := range evs { // oldest first: the last match wins
			if e.Event != "CHANGE_GROUP_SETTING" || settingKey(e.Setting) != want {
				continue
			}
			latest = e.Actor
			if e.NewValue == value {
				best = e.Actor
			}
		}
		if next == "" {
			break
		}
		q.Token = next
	}
	if best != "" {
		return best, nil
	}
	return latest, nil
}

func settingKey(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "_", ""))
}
