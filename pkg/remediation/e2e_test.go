package remediation_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/cache/bolt"
	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue/local"
	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/quota"
	"github.com/greephq/greep/pkg/remediation"
	"github.com/greephq/greep/pkg/rules"
	"github.com/greephq/greep/pkg/settingsworker"
	"github.com/greephq/greep/pkg/tasks"
	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// tenant is a simulated tenant whose insecure groups are known, with Greep's settings and
// remediation services running against it through the local dispatcher, as greep local
// wires them.
type tenant struct {
	sim   *workspacesim.Sim
	store *bolt.Store
	disp  *local.Dispatcher
	rules *rules.Config
	guard *quota.Guard
	qcfg  *queueconfig.Config
	// worker is the groupssettings service.
	worker *settingsworker.Worker
	// handler is swapped to change the mode between runs on the same store and queue.
	handler atomic.Pointer[http.Handler]
	svc     *remediation.Service
	posts   *slack
}

// slack is a notify endpoint that fails its first `fail` calls.
type slack struct {
	mu       sync.Mutex
	fail     int
	attempts int
	texts    []string
}

func (s *slack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.attempts <= s.fail {
		http.Error(w, "upstream down", http.StatusServiceUnavailable)
		return
	}
	var b struct{ Text string }
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.texts = append(s.texts, b.Text)
}

func (s *slack) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.texts...)
}

// The known groups. Everything else about the tenant is the generator's.
const (
	pub    = "pub@example.com"    // whoCanViewGroup ANYONE_CAN_VIEW, membership visible to the domain
	dom    = "dom@example.com"    // whoCanViewGroup ALL_IN_DOMAIN_CAN_VIEW
	sec    = "sec@example.com"    // secure (sentinel) with whoCanModerateMembers ALL_MEMBERS
	plain  = "plain@example.com"  // whoCanModerateMembers ALL_MEMBERS but not secure: fine
	exempt = "exempt@example.com" // ANYONE_CAN_VIEW, exempted
	clean  = "clean@example.com"
)

func newTenant(t *testing.T, runCap int) *tenant {
	t.Helper()
	ctx := context.Background()
	srv, err := workspacesim.Start(workspacesim.Config{Users: 12, Groups: 0, Seed: 7, QuotaPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	sim := srv.Sim
	users, err := sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	var someone string
	for _, u := range users.Users {
		if u.PrimaryEmail != sim.Sentinel() && u.PrimaryEmail != sim.Admin() && !u.Suspended && !u.Archived {
			someone = u.PrimaryEmail
			break
		}
	}
	muts := []workspacesim.Mutation{
		{Op: "createGroup", Group: pub, Settings: map[string]string{"whoCanViewGroup": "ANYONE_CAN_VIEW", "whoCanViewMembership": "ALL_IN_DOMAIN_CAN_VIEW"}},
		{Op: "createGroup", Group: dom, Settings: map[string]string{"whoCanViewGroup": "ALL_IN_DOMAIN_CAN_VIEW"}},
		{Op: "createGroup", Group: sec, Settings: map[string]string{"whoCanModerateMembers": "ALL_MEMBERS"}},
		{Op: "createGroup", Group: plain, Settings: map[string]string{"whoCanModerateMembers": "ALL_MEMBERS"}},
		{Op: "createGroup", Group: exempt, Settings: map[string]string{"whoCanViewGroup": "ANYONE_CAN_VIEW"}},
		{Op: "createGroup", Group: clean},
		{Op: "addMember", Group: sec, Member: sim.Sentinel()},
	}
	for _, g := range []string{pub, dom, sec, plain, exempt, clean} {
		muts = append(muts, workspacesim.Mutation{Op: "addMember", Group: g, Member: someone})
	}
	if err := sim.Apply(muts); err != nil {
		t.Fatal(err)
	}

	store, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	fillCache(t, store, sim)

	raw, err := os.ReadFile("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Shorter backoff on the remediation lane, so the notify retries take a moment.
	yml := strings.Replace(string(raw), "retry: {minBackoff: 1s, maxBackoff: 5m, maxDoublings: 4, maxAttempts: 10}",
		"retry: {minBackoff: 100ms, maxBackoff: 1s, maxDoublings: 4, maxAttempts: 10}", 1)
	qcfg, err := queueconfig.Parse("queues.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	guard := quota.New(store, qcfg, quota.WithClock(sim.Now))
	clients, err := workspace.New(ctx, workspace.Config{Endpoint: srv.URL, AdminSubject: sim.Admin(),
		Wrap: callbudget.Wrap(guard, callbudget.OnViolation(func(err error) { t.Error(err) }))})
	if err != nil {
		t.Fatal(err)
	}
	disp, err := local.Open(ctx, store, qcfg, local.Options{})
	if err != nil {
		t.Fatal(err)
	}

	rc, err := rules.LoadFile("../../deploy/remediation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rc.RunCap = runCap
	rc.Exemptions = append(rc.Exemptions, mustExempt(t, exempt))

	tn := &tenant{sim: sim, store: store, disp: disp, rules: rc, posts: &slack{fail: 2}, guard: guard, qcfg: qcfg}
	hook := httptest.NewServer(tn.posts)
	t.Cleanup(hook.Close)
	rc.NotifyURL = hook.URL

	worker := settingsworker.New(settingsworker.Config{Store: store, Settings: clients.Settings, Queue: disp, Now: sim.Now,
		Policy: remediation.PatchCheck{Rules: rc, Mode: rules.ModeRemediate, Store: store, Now: sim.Now}})
	tn.setMode(rules.ModeDetect, worker)
	if err := disp.Start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*tn.handler.Load()).ServeHTTP(w, r) })); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = disp.Stop(context.Background()) })
	tn.worker = worker
	return tn
}

func mustExempt(t *testing.T, group string) rules.Exemption {
	c, err := rules.Parse([]byte("exemptions:\n  - group: " + group + "\n    reason: public by design\n"))
	if err != nil {
		t.Fatal(err)
	}
	return c.Exemptions[0]
}

// setMode mounts the services, with the remediation service in mode.
func (tn *tenant) setMode(mode string, worker *settingsworker.Worker) {
	tn.svc = remediation.New(remediation.Config{Rules: tn.rules, Store: tn.store, Queue: tn.disp, Mode: mode, Now: tn.sim.Now,
		Quota: tn.guard, Queues: tn.qcfg})
	mux := http.NewServeMux()
	mux.Handle("/tasks/groupssettings/", worker.Handler())
	mux.Handle("/tasks/remediation/", tn.svc.Handler())
	var h http.Handler = mux
	tn.handler.Store(&h)
}

// fillCache copies the simulator's groups, members and users into the store, as the
// directory worker's sync would.
func fillCache(t testing.TB, store *bolt.Store, sim *workspacesim.Sim) {
	t.Helper()
	ctx := context.Background()
	truth, err := sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	var users []greep.User
	for _, u := range truth.Users {
		users = append(users, greep.User{ID: u.ID, PrimaryEmail: u.PrimaryEmail, Suspended: u.Suspended, Archived: u.Archived})
	}
	if err := store.PutUsers(ctx, users); err != nil {
		t.Fatal(err)
	}
	for _, g := range truth.Groups {
		if err := store.PutGroups(ctx, []greep.Group{{ID: g.ID, Email: g.Email, Name: g.Name, DirectMembersCount: g.DirectMembersCount}}); err != nil {
			t.Fatal(err)
		}
		var ms []greep.Member
		for _, m := range g.Members {
			ms = append(ms, greep.Member{ID: m.ID, Email: m.Email, Role: m.Role, Type: m.Type, Status: m.Status})
		}
		if err := store.ReplaceMembers(ctx, g.ID, ms, g.ETag, sim.Now()); err != nil {
			t.Fatal(err)
		}
	}
}

// idle waits until every queue is empty. The dispatcher says when nothing is due or
// running (a task that ran and queued the next is seen); a task it holds for later (a
// retry's backoff) falls due on the wall clock, and idle waits for that moment and looks
// again.
func (tn *tenant) idle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		next, err := tn.disp.WaitIdle(ctx)
		if err != nil {
			t.Fatalf("queues still busy: %v %+v", err, tn.disp.Stats())
		}
		if next.IsZero() {
			return
		}
		select {
		case <-time.After(time.Until(next)):
		case <-ctx.Done():
			t.Fatalf("queues still busy: %+v", tn.disp.Stats())
		}
	}
}

func (tn *tenant) sweep(t *testing.T) {
	t.Helper()
	if _, err := tn.svc.StartSweep(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	tn.idle(t)
}

func (tn *tenant) truth(t *testing.T, group, field string) string {
	t.Helper()
	tr, err := tn.sim.Truth(group)
	if err != nil {
		t.Fatal(err)
	}
	return tr.Groups[0].Settings[field]
}

func (tn *tenant) findings(t *testing.T) map[string]greep.Finding {
	t.Helper()
	out := map[string]greep.Finding{}
	q := greep.FindingQuery{}
	for {
		fs, next, err := tn.store.Findings(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			out[f.Group+" "+f.Rule] = f
		}
		if next == "" {
			return out
		}
		q.Token = next
	}
}

func states(fs map[string]greep.Finding) map[string]string {
	out := map[string]string{}
	for k, f := range fs {
		out[k] = f.State
	}
	return out
}

func (tn *tenant) patchCalls() int64 {
	return tn.sim.Stats().Calls["groupssettings.groups.patch"]
}

func TestDetectThenRemediateAgainstTheSimulator(t *testing.T) {
	tn := newTenant(t, 25)

	// detect: exactly the known findings, nothing patched.
	tn.sweep(t)
	want := map[string]string{
		pub + " group-not-public":        greep.FindingOpen,
		dom + " group-not-public":        greep.FindingOpen,
		sec + " secure.moderate-members": greep.FindingOpen,
		exempt + " group-not-public":     greep.FindingExempt,
	}
	if got := states(tn.findings(t)); !equal(got, want) {
		t.Fatalf("detect findings:\n got %v\nwant %v", got, want)
	}
	if n := tn.patchCalls(); n != 0 {
		t.Fatalf("detect mode patched %d times", n)
	}
	if got := tn.sim.Stats().Calls["groupssettings.groups.get"]; got != 6 {
		t.Errorf("the sweep read settings %d times for 6 groups", got)
	}
	// Three announcements, delivered although the endpoint failed twice first.
	if msgs := tn.posts.messages(); len(msgs) != 3 {
		t.Fatalf("notifications after detect: %q", msgs)
	}

	// remediate: every finding fixed, in the simulator's truth.
	tn.setMode(rules.ModeRemediate, tn.worker)
	tn.sweep(t)
	checks := []struct{ group, field, want string }{
		{pub, "whoCanViewGroup", "ALL_MEMBERS_CAN_VIEW"},
		{pub, "whoCanViewMembership", "ALL_MEMBERS_CAN_VIEW"}, // changed with it: the simulator refuses broader
		{dom, "whoCanViewGroup", "ALL_MEMBERS_CAN_VIEW"},
		{sec, "whoCanModerateMembers", "OWNERS_AND_MANAGERS"},
		{plain, "whoCanModerateMembers", "ALL_MEMBERS"}, // not secure: the secure rule is not its
		{exempt, "whoCanViewGroup", "ANYONE_CAN_VIEW"},  // exempt: untouched
	}
	for _, c := range checks {
		if got := tn.truth(t, c.group, c.field); got != c.want {
			t.Errorf("truth %s %s = %s, want %s", c.group, c.field, got, c.want)
		}
	}
	want[pub+" group-not-public"] = greep.FindingFixed
	want[dom+" group-not-public"] = greep.FindingFixed
	want[sec+" secure.moderate-members"] = greep.FindingFixed
	fs := tn.findings(t)
	if got := states(fs); !equal(got, want) {
		t.Fatalf("remediate findings:\n got %v\nwant %v", got, want)
	}
	if f := fs[pub+" group-not-public"]; f.Before != "ANYONE_CAN_VIEW" || f.After != "ALL_MEMBERS_CAN_VIEW" {
		t.Errorf("before/after: %+v", f)
	}
	if n := tn.patchCalls(); n != 3 {
		t.Errorf("%d patches for 3 groups", n)
	}
	if msgs := tn.posts.messages(); len(msgs) != 6 {
		t.Fatalf("notifications after remediate: %q", msgs)
	}

	// Another sweep: nothing new, nothing sent.
	tn.sweep(t)
	if got := states(tn.findings(t)); !equal(got, want) {
		t.Fatalf("findings after a re-run:\n got %v\nwant %v", got, want)
	}
	if n, msgs := tn.patchCalls(), tn.posts.messages(); n != 3 || len(msgs) != 6 {
		t.Fatalf("re-run: %d patches, %d notifications", n, len(msgs))
	}

	// Somebody opens dom up again: the event's settings read leads to one patch and one
	// notification, naming who did it.
	if err := tn.sim.Apply([]workspacesim.Mutation{{Op: "setSettings", Group: dom, Actor: "mallory@example.com",
		Settings: map[string]string{"whoCanViewGroup": "ANYONE_CAN_VIEW"}}}); err != nil {
		t.Fatal(err)
	}
	// What the push service does with the CHANGE_GROUP_SETTING activity: record it and
	// ask for a settings read on the push lane.
	if _, err := tn.store.AddEvents(context.Background(), []greep.Event{{ID: "e1", Time: tn.sim.Now(), Actor: "mallory@example.com",
		Event: "CHANGE_GROUP_SETTING", Group: dom, Setting: "WHO_CAN_VIEW_GROUP", OldValue: "ALL_MEMBERS_CAN_VIEW", NewValue: "ANYONE_CAN_VIEW"}}); err != nil {
		t.Fatal(err)
	}
	task, _ := tasks.New(tasks.QueueSettings, tasks.PathSettingsGet, tasks.Name(dom, "e1"), tasks.SettingsGet{Group: dom, Reason: "push"}, time.Time{})
	if err := tn.disp.Enqueue(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	tn.idle(t)
	if got := tn.truth(t, dom, "whoCanViewGroup"); got != "ALL_MEMBERS_CAN_VIEW" {
		t.Fatalf("after the event the truth says %s", got)
	}
	msgs := tn.posts.messages()
	if len(msgs) != 7 || !strings.Contains(msgs[6], dom) || !strings.Contains(msgs[6], "mallory@example.com") {
		t.Fatalf("notifications after the event: %q", msgs)
	}
	f := tn.findings(t)[dom+" group-not-public"]
	if f.State != greep.FindingFixed || f.ChangedBy != "mallory@example.com" || f.PatchesToday != 2 {
		t.Fatalf("finding after the event: %+v", f)
	}
}

func TestRunCapAgainstTheSimulator(t *testing.T) {
	tn := newTenant(t, 2)
	tn.setMode(rules.ModeRemediate, tn.worker)
	tn.sweep(t)
	if n := tn.patchCalls(); n != 2 {
		t.Fatalf("%d patches with runCap 2", n)
	}
	open := 0
	for _, f := range tn.findings(t) {
		if f.State == greep.FindingOpen {
			open++
			if !strings.HasPrefix(f.Detail, "run cap reached") || tn.truth(t, f.Group, f.Field) != f.Before {
				t.Errorf("capped finding %+v", f)
			}
		}
	}
	if open != 1 {
		t.Fatalf("%d findings left open by the cap, want 1", open)
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A generated tenant (the simulator's realistic share of insecure settings, nested groups,
// external and suspended members): detect finds exactly what a plain reading of the truth
// says is unsafe, and remediate leaves no unsafe value outside the exemptions, every patch
// accepted by the simulator's validation.
func TestGeneratedTenant(t *testing.T) {
	ctx := context.Background()
	srv, err := workspacesim.Start(workspacesim.Config{Users: 60, Groups: 80, Seed: 11, QuotaPerMinute: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	sim := srv.Sim
	store, err := bolt.Open(filepath.Join(t.TempDir(), "greep.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	fillCache(t, store, sim)
	qcfg, err := queueconfig.Load("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	clients, err := workspace.New(ctx, workspace.Config{Endpoint: srv.URL, AdminSubject: sim.Admin()})
	if err != nil {
		t.Fatal(err)
	}
	// Five times the lanes' rates: the test is about outcomes, not pacing.
	if qcfg, err = qcfg.WithScale(5); err != nil {
		t.Fatal(err)
	}
	disp, err := local.Open(ctx, store, qcfg, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rc := rules.Example()
	rc.RunCap = 1000
	rc.Secure.Sentinels = []string{sim.Sentinel()}
	truth, err := sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	exempted := truth.Groups[0].Email
	rc.Exemptions = []rules.Exemption{mustExempt(t, exempted)}

	tn := &tenant{sim: sim, store: store, disp: disp, rules: rc, posts: &slack{}}
	worker := settingsworker.New(settingsworker.Config{Store: store, Settings: clients.Settings, Queue: disp, Now: sim.Now,
		Policy: remediation.PatchCheck{Rules: rc, Mode: rules.ModeRemediate, Store: store, Now: sim.Now}})
	tn.worker = worker
	tn.setMode(rules.ModeDetect, worker)
	if err := disp.Start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*tn.handler.Load()).ServeHTTP(w, r) })); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = disp.Stop(context.Background()) })

	// The oracle: the shipped rules read straight off the truth.
	suspended := map[string]bool{}
	for _, u := range truth.Users {
		if u.Suspended || u.Archived {
			suspended[strings.ToLower(u.PrimaryEmail)] = true
		}
	}
	want := map[string]string{}
	unsafeSettings := 0
	for _, g := range truth.Groups {
		secure := false
		for _, m := range g.Members {
			if strings.EqualFold(m.Email, sim.Sentinel()) {
				secure = true
			}
		}
		state := greep.FindingOpen
		if g.Email == exempted {
			state = greep.FindingExempt
		}
		if v := g.Settings["whoCanViewGroup"]; v == "ANYONE_CAN_VIEW" || v == "ALL_IN_DOMAIN_CAN_VIEW" {
			want[g.Email+" group-not-public"] = state
			unsafeSettings++
		}
		if secure && g.Settings["whoCanModerateMembers"] == "ALL_MEMBERS" {
			want[g.Email+" secure.moderate-members"] = state
			unsafeSettings++
		}
		for _, m := range g.Members {
			email := strings.ToLower(m.Email)
			if m.Type == greep.TypeCustomer || email == "" {
				continue
			}
			if m.Status == "SUSPENDED" || m.Status == "ARCHIVED" || suspended[email] {
				want[g.Email+" member.inactive:"+email] = state
			}
			if !strings.HasSuffix(email, "@"+sim.Domain()) && (secure || g.Settings["allowExternalMembers"] == "false") {
				want[g.Email+" member.external:"+email] = state
			}
		}
	}
	if unsafeSettings < 5 {
		t.Fatalf("the generated tenant has only %d unsafe settings; pick another seed", unsafeSettings)
	}

	tn.sweep(t)
	if got := states(tn.findings(t)); !equal(got, want) {
		t.Fatalf("detect on a generated tenant:\n got %v\nwant %v", got, want)
	}
	if tn.patchCalls() != 0 {
		t.Fatal("detect patched")
	}

	tn.setMode(rules.ModeRemediate, worker)
	tn.sweep(t)
	after, err := sim.Truth("")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range after.Groups {
		if g.Email == exempted {
			continue
		}
		if v := g.Settings["whoCanViewGroup"]; v == "ANYONE_CAN_VIEW" || v == "ALL_IN_DOMAIN_CAN_VIEW" {
			t.Errorf("%s still has whoCanViewGroup %s", g.Email, v)
		}
	}
	for k, f := range tn.findings(t) {
		if f.Field != rules.FieldMember && f.State != greep.FindingFixed && f.State != greep.FindingExempt {
			t.Errorf("%s: %s (%s)", k, f.State, f.Detail)
		}
	}
	if n := tn.patchCalls(); n == 0 || n > int64(unsafeSettings) {
		t.Errorf("%d patches for %d unsafe settings", n, unsafeSettings)
	}
}
