package workspacesim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxChannelLife is the longest a Reports API watch channel lives (and its default).
const maxChannelLife = 6 * time.Hour

type param struct{ name, value string }

type event struct {
	name   string
	typ    string // the event's type: GROUP_SETTINGS when empty
	params []param
}

// activity is one logged Reports API activity holding one event.
type activity struct {
	at        time.Time
	qualifier int64
	app       string
	actor     string
	e         event
}

// activityLog holds every activity in time order (the simulated clock never goes back).
type activityLog struct {
	items []activity
	seq   idGen
}

// applications the Reports API knows; the simulator logs only admin and groups.
var reportApplications = set("access_transparency", "admin", "calendar", "chat", "chrome", "classroom",
	"context_aware_access", "data_studio", "drive", "gcp", "gplus", "groups", "groups_enterprise",
	"jamboard", "keep", "login", "meet", "mobile", "rules", "saml", "token", "user_accounts")

// logActivity records an activity and queues it for every live channel it matches.
// Caller holds mu.
func (s *Sim) logActivity(now time.Time, app, actor string, e event) {
	a := activity{at: now, qualifier: int64(s.log.seq.next()), app: app, actor: actor, e: e}
	s.log.items = append(s.log.items, a)
	for _, ch := range s.channels {
		if !ch.live(now) || !ch.matches(a) {
			continue
		}
		if s.cfg.DropRate > 0 && s.rng.Float64() < s.cfg.DropRate {
			ch.msgNum++ // a lost message still uses up its number
			s.pushes.Dropped++
			continue
		}
		ch.enqueue(s.activityJSON(a), a.e.name, &s.pushes)
	}
}

type activityID struct {
	Time            string `json:"time"`
	UniqueQualifier string `json:"uniqueQualifier"`
	ApplicationName string `json:"applicationName"`
	CustomerID      string `json:"customerId"`
}

type activityActor struct {
	CallerType string `json:"callerType"`
	Email      string `json:"email"`
	ProfileID  string `json:"profileId,omitempty"`
}

type activityParam struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type activityEvent struct {
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	Parameters []activityParam `json:"parameters"`
}

type activityJSON struct {
	Kind        string          `json:"kind"`
	ID          activityID      `json:"id"`
	Etag        string          `json:"etag"`
	Actor       activityActor   `json:"actor"`
	OwnerDomain string          `json:"ownerDomain"`
	IPAddress   string          `json:"ipAddress"`
	Events      []activityEvent `json:"events"`
}

type activitiesJSON struct {
	Kind          string          `json:"kind"`
	Etag          string          `json:"etag"`
	Items         []*activityJSON `json:"items,omitempty"`
	NextPageToken string          `json:"nextPageToken,omitempty"`
}

func (s *Sim) activityJSON(a activity) *activityJSON {
	q := strconv.FormatInt(a.qualifier, 10)
	out := &activityJSON{
		Kind: "admin#reports#activity",
		ID: activityID{
			Time:            a.at.UTC().Format("2006-01-02T15:04:05.000Z"),
			UniqueQualifier: q,
			ApplicationName: a.app,
			CustomerID:      s.t.customer.id,
		},
		Etag:        etag("activity", q),
		Actor:       activityActor{CallerType: "USER", Email: a.actor},
		OwnerDomain: s.cfg.Domain,
		IPAddress:   "203.0.113.10",
		Events:      []activityEvent{{Type: a.e.typ, Name: a.e.name, Parameters: make([]activityParam, len(a.e.params))}},
	}
	if out.Events[0].Type == "" {
		out.Events[0].Type = "GROUP_SETTINGS"
	}
	if p := s.t.byKey[a.actor]; p != nil && p.user != nil {
		out.Actor.ProfileID = p.id
	}
	for i, p := range a.e.params {
		out.Events[0].Parameters[i] = activityParam{Name: p.name, Value: p.value}
	}
	return out
}

// activityFilter is what a list or a watch selects: the application, the actor
// (userKey "all" for anyone), an event name, and filters on parameters.
type activityFilter struct {
	app       string
	actor     string // "" for all
	eventName string
	filters   []paramFilter
}

type paramFilter struct {
	name, value string
	not         bool
}

func (f activityFilter) matches(a activity) bool {
	if a.app != f.app || (f.actor != "" && a.actor != f.actor) || (f.eventName != "" && a.e.name != f.eventName) {
		return false
	}
	for _, pf := range f.filters {
		got, found := "", false
		for _, p := range a.e.params {
			if p.name == pf.name {
				got, found = p.value, true
			}
		}
		if pf.not == (found && strings.EqualFold(got, pf.value)) {
			return false
		}
	}
	return true
}

func parseActivityFilter(c *call) (activityFilter, *apiError) {
	f := activityFilter{app: c.r.PathValue("applicationName"), eventName: c.r.URL.Query().Get("eventName")}
	if !reportApplications[f.app] {
		return f, badRequest("Invalid value for applicationName: %q", f.app)
	}
	if uk := lower(c.r.PathValue("userKey")); uk != "all" {
		f.actor = uk
	}
	if cid := c.r.URL.Query().Get("customerId"); cid != "" && cid != "my_customer" && !strings.HasPrefix(cid, "C") {
		return f, badRequest("Invalid value for customerId: %q", cid)
	}
	if fs := c.r.URL.Query().Get("filters"); fs != "" {
		for _, part := range strings.Split(fs, ",") {
			pf := paramFilter{}
			name, value, ok := strings.Cut(part, "==")
			if !ok {
				name, value, ok = strings.Cut(part, "<>")
				pf.not = true
			}
			if !ok || strings.TrimSpace(name) == "" {
				return f, badRequest("Invalid value for filters: %q (want NAME==value or NAME<>value, comma separated)", fs)
			}
			pf.name, pf.value = strings.TrimSpace(name), strings.TrimSpace(value)
			f.filters = append(f.filters, pf)
		}
	}
	return f, nil
}

func timeParam(c *call, name string) (time.Time, *apiError) {
	v := c.r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badRequest("Invalid value for %s: %q is not an RFC 3339 time", name, v)
	}
	return t, nil
}

// activitiesList lists matching activities newest first. Activities show up ReadLag after
// they happen, as reads do.
func (s *Sim) activitiesList(c *call) (any, *apiError) {
	f, err := parseActivityFilter(c)
	if err != nil {
		return nil, err
	}
	limit, err := maxResults(c, 1000, 1000)
	if err != nil {
		return nil, err
	}
	start, err := timeParam(c, "startTime")
	if err != nil {
		return nil, err
	}
	end, err := timeParam(c, "endTime")
	if err != nil {
		return nil, err
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		return nil, badRequest("Invalid Input: endTime is before startTime")
	}
	upto := c.now.Add(-s.cfg.ReadLag)
	if !end.IsZero() && end.Before(upto) {
		upto = end
	}
	items := s.log.items
	// i is one past the newest activity to consider.
	i, _ := slices.BinarySearchFunc(items, upto, func(a activity, t time.Time) int {
		if a.at.After(t) {
			return 1
		}
		return -1
	})
	if tok := c.r.URL.Query().Get("pageToken"); tok != "" {
		cur, err := decodeToken("a", tok)
		if err != nil {
			return nil, err
		}
		n, perr := strconv.Atoi(cur[0])
		if perr != nil || n < 0 || n > len(items) {
			return nil, badRequest("Invalid Input: pageToken")
		}
		i = min(i, n)
	}
	out := &activitiesJSON{Kind: "admin#reports#activities", Etag: etag("activities", strconv.Itoa(len(items)))}
	for ; i > 0; i-- {
		a := items[i-1]
		if !start.IsZero() && a.at.Before(start) {
			i = 0
			break
		}
		if !f.matches(a) {
			continue
		}
		if len(out.Items) == limit {
			out.NextPageToken = encodeToken("a", strconv.Itoa(i))
			break
		}
		out.Items = append(out.Items, s.activityJSON(a))
	}
	return out, nil
}

// channelJSON is the Reports API's Channel resource.
type channelJSON struct {
	Kind        string            `json:"kind,omitempty"`
	ID          string            `json:"id"`
	Type        string            `json:"type,omitempty"`
	Address     string            `json:"address,omitempty"`
	Token       string            `json:"token,omitempty"`
	Expiration  string            `json:"expiration,omitempty"`
	ResourceID  string            `json:"resourceId,omitempty"`
	ResourceURI string            `json:"resourceUri,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
	Payload     bool              `json:"payload,omitempty"`
}

// channel is a live or finished watch channel and its delivery queue.
type channel struct {
	activityFilter
	id, token, address      string
	resourceID, resourceURI string
	expiration              time.Time // simulated
	stopped                 bool
	msgNum                  int64 // last number handed out; guarded by Sim.mu
	mu                      sync.Mutex
	queue                   []notification
	wake                    chan struct{}
	done                    chan struct{}
}

type notification struct {
	number int64
	state  string // "sync" or the event name
	body   []byte // nil for sync
}

func (ch *channel) live(now time.Time) bool { return !ch.stopped && now.Before(ch.expiration) }

// enqueue hands a notification to the channel's worker and counts it in stats. Caller
// holds Sim.mu.
func (ch *channel) enqueue(body any, state string, stats *PushStats) {
	stats.Queued++
	ch.msgNum++
	n := notification{number: ch.msgNum, state: state}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			panic("workspacesim: encoding an activity: " + err.Error()) // plain structs: unreachable
		}
		n.body = b
	}
	ch.mu.Lock()
	ch.queue = append(ch.queue, n)
	ch.mu.Unlock()
	select {
	case ch.wake <- struct{}{}:
	default:
	}
}

func (s *Sim) activitiesWatch(c *call) (any, *apiError) {
	f, err := parseActivityFilter(c)
	if err != nil {
		return nil, err
	}
	var req channelJSON
	if err := decodeJSON(bytes.NewReader(c.body), &req); err != nil {
		return nil, err
	}
	if req.ID == "" || len(req.ID) > 64 {
		return nil, badRequest("Invalid value for id: a channel id of 1 to 64 characters is required")
	}
	if req.Type != "web_hook" && req.Type != "webhook" {
		return nil, badRequest("Invalid value for type: %q (want web_hook)", req.Type)
	}
	if len(req.Token) > 256 {
		return nil, badRequest("Invalid value for token: longer than 256 characters")
	}
	if err := checkAddress(req.Address); err != nil {
		return nil, err
	}
	if old, ok := s.channels[req.ID]; ok && old.live(c.now) {
		return nil, errorf(http.StatusBadRequest, "channelIdNotUnique", "Channel id %s not unique", req.ID)
	}
	exp := c.now.Add(maxChannelLife)
	if req.Expiration != "" {
		ms, perr := strconv.ParseInt(req.Expiration, 10, 64)
		if perr != nil {
			return nil, badRequest("Invalid value for expiration: %q is not a time in Unix milliseconds", req.Expiration)
		}
		asked := time.UnixMilli(ms)
		if !asked.After(c.now) {
			return nil, badRequest("Invalid value for expiration: %s is in the past", asked.UTC().Format(time.RFC3339))
		}
		if asked.Before(exp) {
			exp = asked
		}
	}
	resource := fmt.Sprintf("%s|%s|%s|%s", f.app, f.actor, f.eventName, c.r.URL.Query().Get("filters"))
	ch := &channel{
		activityFilter: f,
		id:             req.ID,
		token:          req.Token,
		address:        req.Address,
		resourceID:     strings.Trim(etag("resource", resource), `"`),
		resourceURI:    "http://" + c.r.Host + c.r.URL.Path[:len(c.r.URL.Path)-len("/watch")] + "?alt=json",
		expiration:     exp,
		wake:           make(chan struct{}, 1),
		done:           make(chan struct{}),
	}
	for id, old := range s.channels {
		if !old.live(c.now) {
			delete(s.channels, id) // its worker notices and ends
		}
	}
	s.channels[req.ID] = ch
	ch.enqueue(nil, "sync", &s.pushes)
	s.workers.Add(1)
	go s.deliver(ch)
	return &channelJSON{
		Kind:        "api#channel",
		ID:          ch.id,
		Token:       ch.token,
		Expiration:  strconv.FormatInt(exp.UnixMilli(), 10),
		ResourceID:  ch.resourceID,
		ResourceURI: ch.resourceURI,
	}, nil
}

// checkAddress accepts HTTPS, and plain HTTP on loopback only (Google requires HTTPS;
// local runs and tests have none).
func checkAddress(addr string) *apiError {
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return badRequest("Invalid value for address: %q is not a URL", addr)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return badRequest("Invalid value for address: WebHook callback must be HTTPS: %s", addr)
	}
	return badRequest("Invalid value for address: unsupported scheme in %q", addr)
}

type stopRequest struct {
	ID         string `json:"id"`
	ResourceID string `json:"resourceId"`
	// The Go client sends the whole Channel; only id and resourceId matter.
	Kind        string            `json:"kind,omitempty"`
	Type        string            `json:"type,omitempty"`
	Address     string            `json:"address,omitempty"`
	Token       string            `json:"token,omitempty"`
	Expiration  string            `json:"expiration,omitempty"`
	ResourceURI string            `json:"resourceUri,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
	Payload     bool              `json:"payload,omitempty"`
}

func (s *Sim) channelsStop(c *call) (any, *apiError) {
	var req stopRequest
	if err := decodeJSON(bytes.NewReader(c.body), &req); err != nil {
		return nil, err
	}
	ch, ok := s.channels[req.ID]
	if !ok || ch.resourceID != req.ResourceID || ch.stopped {
		return nil, notFound("Channel '%s' not found for resource '%s'", req.ID, req.ResourceID)
	}
	ch.stopped = true
	close(ch.done)
	return nil, nil
}

// deliver sends a channel's notifications in order until it is stopped, expires or the
// simulator closes.
func (s *Sim) deliver(ch *channel) {
	defer s.workers.Done()
	var batch []notification
	// What is left when the worker ends is never sent: it is no longer queued.
	defer func() {
		ch.mu.Lock()
		left := len(batch) + len(ch.queue)
		ch.queue = nil
		ch.mu.Unlock()
		s.mu.Lock()
		s.pushes.Queued -= int64(left)
		s.mu.Unlock()
	}()
	for {
		ch.mu.Lock()
		batch = ch.queue
		ch.queue = nil
		ch.mu.Unlock()
		for len(batch) > 0 {
			s.mu.Lock()
			live := ch.live(s.Now())
			s.mu.Unlock()
			if !live {
				return
			}
			if !s.send(ch, batch[0]) {
				return
			}
			batch = batch[1:]
		}
		s.mu.Lock()
		left := ch.expiration.Sub(s.Now())
		stopped := ch.stopped
		s.mu.Unlock()
		if stopped || left <= 0 {
			return
		}
		// Wake up now and then to notice expiry brought forward by Advance.
		t := time.NewTimer(min(s.clock.WallDuration(left), time.Minute))
		select {
		case <-ch.wake:
		case <-t.C:
		case <-ch.done:
			t.Stop()
			return
		case <-s.closed:
			t.Stop()
			return
		}
		t.Stop()
	}
}

// send delivers one notification, retrying 5xx answers and transport errors with
// exponential backoff. It returns false if the simulator is closing.
func (s *Sim) send(ch *channel, n notification) bool {
	wait := s.cfg.PushRetryBase
	for attempt := 1; ; attempt++ {
		code, err := s.post(ch, n)
		s.mu.Lock()
		switch {
		case err == nil && (code/100 == 2 || code == http.StatusProcessing):
			s.pushes.Delivered++
			s.pushes.Queued--
			s.mu.Unlock()
			return true
		case (err != nil || code == 500 || code == 502 || code == 503 || code == 504) && attempt < s.cfg.PushMaxAttempts:
			s.pushes.Retried++
		default:
			s.pushes.Failed++
			s.pushes.Queued--
			s.mu.Unlock()
			return true
		}
		s.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.closed:
			t.Stop()
			return false
		}
		wait *= 2
	}
}

func (s *Sim) post(ch *channel, n notification) (int, error) {
	req, err := http.NewRequestWithContext(s.pushCtx, http.MethodPost, ch.address, bytes.NewReader(n.body))
	if err != nil {
		return 0, err
	}
	h := req.Header
	h.Set("User-Agent", "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)")
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("X-Goog-Channel-ID", ch.id)
	if ch.token != "" {
		h.Set("X-Goog-Channel-Token", ch.token)
	}
	h.Set("X-Goog-Channel-Expiration", ch.expiration.UTC().Format(http.TimeFormat))
	h.Set("X-Goog-Resource-ID", ch.resourceID)
	h.Set("X-Goog-Resource-URI", ch.resourceURI)
	h.Set("X-Goog-Resource-State", n.state)
	h.Set("X-Goog-Message-Number", strconv.FormatInt(n.number, 10))
	resp, err := s.cfg.PushClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
