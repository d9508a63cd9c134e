package provisional

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/greephq/greep/pkg/activity"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/rules"
)

// SkipUnknownField: a setting Greep does not know (not a Groups Settings field the rules
// can name), so it cannot tell what the value means.
const SkipUnknownField = "unknown setting"

// SettingMark is one settings field's provisional value: what the last settings event
// applied on the field said. Settings marks live apart from the stored settings
// (greep.GroupSettings), which stay Google's answer: remediation patches only from those.
type SettingMark struct {
	Field string `json:"field"`
	Value string `json:"value"`
	// EventTime and ActivityID order events on the field: the later one wins.
	EventTime  time.Time `json:"eventTime"`
	ActivityID string    `json:"activityId"`
	Actor      string    `json:"actor,omitempty"`
	// AcceptedAt is when the webhook accepted it: a read that started earlier neither
	// confirms nor drops it.
	AcceptedAt time.Time `json:"acceptedAt"`
}

// SettingMarks is a group's state document of provisional settings (SettingsStateName),
// one per field.
type SettingMarks struct {
	Fields []SettingMark `json:"fields"`
}

// SettingsStateName names the state document of the provisional settings of the group
// whose address is email. Settings are stored by address, and so are their marks.
func SettingsStateName(email string) string { return "provisional-settings/" + fold(email) }

// LoadSettings reads the provisional settings of the group at email (none when there is
// no document).
func LoadSettings(ctx context.Context, s interface {
	State(ctx context.Context, name string) ([]byte, error)
}, email string) (SettingMarks, error) {
	b, err := s.State(ctx, SettingsStateName(email))
	if errors.Is(err, greep.ErrNotFound) {
		return SettingMarks{}, nil
	}
	if err != nil {
		return SettingMarks{}, err
	}
	return decodeSettings(email, b)
}

// UpdateSettings replaces the provisional settings of the group at email, in one
// transaction, with what fn makes of the current ones; none left removes the document.
// The webhook's applier and the settings read both write through it, so neither loses
// the other's marks.
func UpdateSettings(ctx context.Context, s greep.StateStore, email string, fn func(SettingMarks) SettingMarks) error {
	return s.UpdateState(ctx, SettingsStateName(email), func(cur []byte) ([]byte, error) {
		var ms SettingMarks
		if cur != nil {
			var err error
			if ms, err = decodeSettings(email, cur); err != nil {
				return nil, err
			}
		}
		next := fn(ms)
		if len(next.Fields) == 0 {
			return nil, nil
		}
		return json.Marshal(next)
	})
}

func decodeSettings(email string, b []byte) (SettingMarks, error) {
	var ms SettingMarks
	if err := json.Unmarshal(b, &ms); err != nil {
		return ms, greep.Errorf(greep.EINTERNAL, "provisional settings of %s: %v", email, err)
	}
	return ms, nil
}

// Over returns gs's settings with the marks over them, and the marks. Every mark shows:
// one a read did not show yet stays until a read settles it (SettleSettings), as a
// member's mark does.
func (ms SettingMarks) Over(gs greep.GroupSettings) (greep.Settings, []SettingMark) {
	if len(ms.Fields) == 0 {
		return gs.Settings, nil
	}
	out := maps.Clone(gs.Settings)
	if out == nil {
		out = greep.Settings{}
	}
	for _, m := range ms.Fields {
		out[m.Field] = m.Value
	}
	return out, ms.Fields
}

// SettingsInput is what PlanSettings decides on: one group's provisional settings and the
// settings events of one or more notifications on it.
type SettingsInput struct {
	// ReadAt is when the stored settings were read (zero: never).
	ReadAt time.Time
	Marks  SettingMarks
	Events []greep.Event
	// Now and Accepted are as in Input.
	Now      time.Time
	Accepted map[string]time.Time
}

// SettingsResult is the group's next provisional settings.
type SettingsResult struct {
	Marks   SettingMarks
	Applied []SettingMark
	Skipped []Skip
}

// PlanSettings applies the settings events of in, in event order: an event not after the
// last settings read never applies, the last event on a field wins whatever order they
// arrive in, and an event without id or time, on a field Greep does not know, or with a
// value the field does not take applies nothing. Other events are ignored.
func PlanSettings(in SettingsInput) SettingsResult {
	res := SettingsResult{Marks: SettingMarks{Fields: slices.Clone(in.Marks.Fields)}}
	for _, e := range byEventTime(in.Events) {
		if !activity.SettingEvent(e) {
			continue
		}
		field, known := fieldOf(e.Setting)
		value := e.NewValue
		switch {
		case e.Time.IsZero() || e.ID == "":
			res.Skipped = append(res.Skipped, Skip{e, SkipMalformed})
			continue
		case !known:
			res.Skipped = append(res.Skipped, Skip{e, SkipUnknownField})
			continue
		case rules.CheckValue(field, value) != nil:
			res.Skipped = append(res.Skipped, Skip{e, SkipMalformed})
			continue
		case !e.Time.After(in.ReadAt):
			res.Skipped = append(res.Skipped, Skip{e, SkipOlder})
			continue
		}
		k := slices.IndexFunc(res.Marks.Fields, func(m SettingMark) bool { return m.Field == field })
		if k >= 0 && !later(e.Time, e.ID, res.Marks.Fields[k].EventTime, res.Marks.Fields[k].ActivityID) {
			res.Skipped = append(res.Skipped, Skip{e, SkipSuperseded})
			continue
		}
		accepted, ok := in.Accepted[e.ID]
		if !ok {
			accepted = in.Now
		}
		m := SettingMark{Field: field, Value: value, EventTime: e.Time, ActivityID: e.ID, Actor: e.Actor, AcceptedAt: accepted}
		if k >= 0 {
			res.Marks.Fields[k] = m
		} else {
			res.Marks.Fields = append(res.Marks.Fields, m)
		}
		res.Applied = append(res.Applied, m)
	}
	return res
}

// fieldOf returns the Groups Settings field a Reports SETTING_NAME names, and whether it
// is a current one. Reports spells them WHO_CAN_VIEW_GROUP, the API (and the simulator)
// whoCanViewGroup: case and underscores aside, they are the same name.
func fieldOf(name string) (string, bool) {
	f, ok := fieldNames[settingKey(name)]
	return f, ok
}

var fieldNames = func() map[string]string {
	out := make(map[string]string, len(rules.Fields))
	for name, f := range rules.Fields {
		if f.MergedInto == "" {
			out[settingKey(name)] = name
		}
	}
	return out
}()

func settingKey(s string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "_", ""))
}

// SettledSettings is what one settings read makes of a group's provisional settings, as
// Settled is for members.
type SettledSettings struct {
	Kept, Lagging, Confirmed, Dropped []SettingMark
}

// SettleSettings decides, for a settings read that started at readAt, which provisional
// settings it confirms (it shows the value), which stay (lagging when accepted before the
// read: re-poll) and which it drops (final: the last re-poll, or MaxAge after).
func SettleSettings(read greep.Settings, marks SettingMarks, readAt time.Time, final bool) SettledSettings {
	var s SettledSettings
	for _, m := range marks.Fields {
		v, ok := read[m.Field]
		switch f := judge(ok && v == m.Value, m.AcceptedAt, readAt, final); f {
		case confirmed:
			s.Confirmed = append(s.Confirmed, m)
		case dropped:
			s.Dropped = append(s.Dropped, m)
		default:
			s.Kept = append(s.Kept, m)
			if f == lagging {
				s.Lagging = append(s.Lagging, m)
			}
		}
	}
	return s
}
