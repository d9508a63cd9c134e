package remediation

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/notify"
	"github.com/greephq/greep/pkg/provisional"
	"github.com/greephq/greep/pkg/queue/queuetest"
	"github.com/greephq/greep/pkg/tasks"
)

var alice = greep.Member{ID: "u1", Email: "alice@example.com", Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"}

func judge(t *testing.T, e *env, j tasks.Judge) {
	t.Helper()
	if err := e.svc.Judge(context.Background(), j); err != nil {
		t.Fatalf("judge %+v: %v", j, err)
	}
}

// setMembers replaces a stored group's members, as a member write does.
func setMembers(t *testing.T, e *env, email string, members ...greep.Member) {
	t.Helper()
	if err := e.store.ReplaceMembers(context.Background(), "id-"+email, members, "etag2", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
}

func finding(t *testing.T, e *env, group, rule string) greep.Finding {
	t.Helper()
	f, err := e.store.Finding(context.Background(), FindingID(group, rule))
	if err != nil {
		t.Fatalf("finding %s %s: %v", group, rule, err)
	}
	return f
}

func reads(t *testing.T, e *env) []tasks.SettingsGet {
	t.Helper()
	var out []tasks.SettingsGet
	for _, task := range e.queue.Take(queuetest.Path(tasks.PathSettingsGet)) {
		if task.Queue != tasks.QueueSettings {
			t.Errorf("settings read on queue %s", task.Queue)
		}
		var b tasks.SettingsGet
		if err := json.Unmarshal(task.Body, &b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// The sentinel added to a group whose moderation is unsafe for a secure group opens the
// secure rule's finding on the member write alone, announced at once; nothing is
// patched, and only a write by Google's read asks for the read the patch waits for.
func TestJudgeOpensTheSecureFindingAndLeavesThePatchToARead(t *testing.T) {
	for _, provisional := range []bool{true, false} {
		e := newEnv(t, testRules, "remediate")
		e.group(t, "g@example.com", safeSettings(), alice) // ALL_MEMBERS moderation: fine while not secure
		judge(t, e, tasks.Judge{Group: "g@example.com", Version: "v0"})
		if fs := e.findings(t, greep.FindingQuery{}); len(fs) != 0 {
			t.Fatalf("findings before the sentinel: %+v", fs)
		}
		reads(t, e)

		setMembers(t, e, "g@example.com", alice, sentinel)
		judge(t, e, tasks.Judge{Group: "id-g@example.com", Version: "v1", Provisional: provisional})
		f := finding(t, e, "g@example.com", "secure.moderate-members")
		if f.State != greep.FindingOpen || f.Before != "ALL_MEMBERS" || f.After != "OWNERS_AND_MANAGERS" || notify.PatchPending(f) {
			t.Fatalf("provisional %v: finding %+v", provisional, f)
		}
		if !strings.Contains(f.Detail, "the patch waits for") {
			t.Errorf("detail %q does not say the patch waits", f.Detail)
		}
		if p := patches(t, e); len(p) != 0 {
			t.Errorf("a member write queued a patch: %v", p)
		}
		if n := len(e.queue.Take(queuetest.Path(notify.Path))); n != 1 {
			t.Errorf("%d announcements of the new finding, want 1", n)
		}
		got := reads(t, e)
		switch {
		case provisional && len(got) != 0:
			t.Errorf("a provisional write asked for settings reads %+v", got)
		case !provisional && (len(got) != 1 || got[0].Group != "g@example.com"):
			t.Errorf("Google's read of the members asked for settings reads %+v, want one of g@example.com", got)
		}
		// Run twice (a task delivered again): nothing new.
		judge(t, e, tasks.Judge{Group: "g@example.com", Version: "v1", Provisional: provisional})
		if f2 := finding(t, e, "g@example.com", "secure.moderate-members"); f2 != f {
			t.Errorf("judged again:\n %+v\nwas %+v", f2, f)
		}

		// The sentinel removed: the group is no longer secure, and the finding closes as a
		// sweep would close it.
		setMembers(t, e, "g@example.com", alice)
		judge(t, e, tasks.Judge{Group: "g@example.com", Version: "v2", Provisional: provisional})
		if f := finding(t, e, "g@example.com", "secure.moderate-members"); f.State != greep.FindingFixed {
			t.Errorf("provisional %v: after the sentinel left: %+v", provisional, f)
		}
	}
}

// A member write never undoes a patch a settings read queued: the finding keeps waiting
// for it, and no second patch is queued.
func TestJudgeLeavesAQueuedPatchAlone(t *testing.T) {
	e := newEnv(t, testRules, "remediate")
	e.group(t, "g@example.com", safeSettings(), alice, sentinel)
	evaluate(t, e, "g@example.com", "")
	if p := patches(t, e); len(p) != 1 {
		t.Fatalf("the settings read's evaluation queued %v", keys(p))
	}
	before := finding(t, e, "g@example.com", "secure.moderate-members")
	setMembers(t, e, "g@example.com", alice, sentinel, greep.Member{ID: "u2", Email: "bob@example.com", Role: "MEMBER", Type: greep.TypeUser})
	judge(t, e, tasks.Judge{Group: "g@example.com", Version: "v1"})
	if f := finding(t, e, "g@example.com", "secure.moderate-members"); f != before || !notify.PatchPending(f) {
		t.Errorf("finding after the member write:\n %+v\nwas %+v", f, before)
	}
	if p := patches(t, e); len(p) != 0 {
		t.Errorf("patches after the member write: %v", keys(p))
	}
}

// Membership hygiene on a member write: a suspended user added to any group, and an
// external owner added to a group that does not allow outsiders, open findings; their
// removal closes them.
func TestJudgeOpensAndClosesHygieneFindings(t *testing.T) {
	e := newEnv(t, testRules, "detect")
	ctx := context.Background()
	if err := e.store.PutUsers(ctx, []greep.User{{ID: "u3", PrimaryEmail: "sam@example.com", Suspended: true}}); err != nil {
		t.Fatal(err)
	}
	sam := greep.Member{ID: "u3", Email: "sam@example.com", Role: "MEMBER", Type: greep.TypeUser, Status: "ACTIVE"}
	out := greep.Member{ID: "x1", Email: "olga@outside.test", Role: "OWNER", Type: greep.TypeUser, Status: "ACTIVE"}
	e.group(t, "any@example.com", nil, alice)               // settings never read
	e.group(t, "closed@example.com", safeSettings(), alice) // allowExternalMembers false
	e.group(t, "open@example.com", with(safeSettings(), "allowExternalMembers", "true"), alice)

	setMembers(t, e, "any@example.com", alice, sam)
	setMembers(t, e, "closed@example.com", alice, out)
	setMembers(t, e, "open@example.com", alice, out)
	for _, g := range []string{"any@example.com", "closed@example.com", "open@example.com"} {
		judge(t, e, tasks.Judge{Group: g, Version: "v1", Provisional: true})
	}
	got := map[string]string{}
	for _, f := range e.findings(t, greep.FindingQuery{}) {
		got[f.Group+" "+f.Rule] = f.State
	}
	want := map[string]string{
		"any@example.com member.inactive:sam@example.com":      greep.FindingOpen,
		"closed@example.com member.external:olga@outside.test": greep.FindingOpen,
	}
	if len(got) != len(want) || got["any@example.com member.inactive:sam@example.com"] != greep.FindingOpen ||
		got["closed@example.com member.external:olga@outside.test"] != greep.FindingOpen {
		t.Fatalf("findings %v, want %v", got, want)
	}

	setMembers(t, e, "any@example.com", alice)
	setMembers(t, e, "closed@example.com", alice)
	judge(t, e, tasks.Judge{Group: "any@example.com", Version: "v2"})
	judge(t, e, tasks.Judge{Group: "closed@example.com", Version: "v2"})
	for _, f := range e.findings(t, greep.FindingQuery{}) {
		if f.State != greep.FindingFixed {
			t.Errorf("after the removals: %+v", f)
		}
	}
	if r := reads(t, e); len(r) != 0 {
		t.Errorf("membership findings asked for settings reads %+v", r)
	}
}

func TestJudgeBadInput(t *testing.T) {
	e := newEnv(t, testRules, "remediate")
	if err := e.svc.Judge(context.Background(), tasks.Judge{Group: "  "}); greep.ErrorCode(err) != greep.EINVALID {
		t.Errorf("no group: %v, want EINVALID", err)
	}
	judge(t, e, tasks.Judge{Group: "unknown@example.com", Version: "v1"})
	if fs := e.findings(t, greep.FindingQuery{}); len(fs) != 0 {
		t.Errorf("findings for an unknown group: %+v", fs)
	}
	if n := len(e.queue.Take()); n != 0 {
		t.Errorf("%d tasks for an unknown group", n)
	}
}

// A settings finding opened on a provisional member change gets its read when the write
// that confirms the change is judged; once a read decided it (here: its patch queued),
// later member writes ask for no more reads.
func TestJudgeAsksForTheReadOncePerUndecidedFinding(t *testing.T) {
	e := newEnv(t, testRules, "remediate")
	e.group(t, "g@example.com", safeSettings(), alice)
	setMembers(t, e, "g@example.com", alice, sentinel)
	judge(t, e, tasks.Judge{Group: "g@example.com", Version: "activity-1", Provisional: true})
	if r := reads(t, e); len(r) != 0 {
		t.Fatalf("provisional: reads %+v", r)
	}
	judge(t, e, tasks.Judge{Group: "g@example.com", Version: "read-1"}) // the refresh confirms it
	if r := reads(t, e); len(r) != 1 {
		t.Fatalf("confirmed: reads %+v, want one", r)
	}
	evaluate(t, e, "g@example.com", "") // what that read queues
	if p := patches(t, e); len(p) != 1 {
		t.Fatalf("the read's evaluation queued %v", keys(p))
	}
	bob := greep.Member{ID: "u2", Email: "bob@example.com", Role: "MEMBER", Type: greep.TypeUser}
	setMembers(t, e, "g@example.com", alice, sentinel, bob)
	judge(t, e, tasks.Judge{Group: "g@example.com", Version: "read-2"})
	if r := reads(t, e); len(r) != 0 {
		t.Errorf("a member write after the read asked for reads %+v", r)
	}
}

// A settings read whose evaluation finds the members holding a change only a notification
// announced (the sentinel, applied provisionally) patches nothing: Greep never patches on
// a notification alone. The finding opens and waits; once Google's read of the members
// confirms the sentinel, the judging asks for a settings read, whose evaluation patches.
func TestSettingsReadOverProvisionalMembersPatchesNothing(t *testing.T) {
	e := newEnv(t, testRules, "remediate")
	e.group(t, "g@example.com", safeSettings(), alice)
	ctx := context.Background()
	marks := provisional.Marks{Members: []provisional.Mark{{Member: sentinel.Email, ActivityID: "a1", Present: true}}}
	if err := e.store.ReplaceMembers(ctx, "id-g@example.com", []greep.Member{alice, sentinel}, provisional.ETag("etag", marks), e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	evaluate(t, e, "g@example.com", "")
	if p := patches(t, e); len(p) != 0 {
		t.Fatalf("a settings read patched on a provisional sentinel: %v", keys(p))
	}
	f := finding(t, e, "g@example.com", "secure.moderate-members")
	if f.State != greep.FindingOpen || notify.PatchPending(f) || !waitsForMembers(f) {
		t.Fatalf("finding over provisional members: %+v", f)
	}
	if got := reads(t, e); len(got) != 0 {
		t.Errorf("settings reads asked for before Google's read of the members: %+v", got)
	}

	// Google's read confirms the sentinel.
	setMembers(t, e, "g@example.com", alice, sentinel)
	judge(t, e, tasks.Judge{Group: "g@example.com", Version: "confirmed"})
	if got := reads(t, e); len(got) != 1 {
		t.Fatalf("settings reads after the confirming read: %+v, want one", got)
	}
	e.clock.Advance(time.Minute)
	if err := e.store.PutSettings(ctx, greep.GroupSettings{GroupEmail: "g@example.com", Settings: safeSettings(), ReadAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	evaluate(t, e, "g@example.com", "")
	if p := patches(t, e); len(p) != 1 {
		t.Errorf("the settings read after the confirmation queued %v, want one patch", keys(p))
	}
}
