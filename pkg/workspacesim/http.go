package workspacesim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds every request body.
const maxBody = 1 << 20

// call is one API request being answered; handlers run with Sim.mu held, so the body is
// read before (a slow client must not hold the lock).
type call struct {
	r    *http.Request
	body []byte
	user string // the bearer token: who the quota is counted for
	now  time.Time
	st   *state // what reads see
}

// handler answers an API call with a value to send as JSON (nil: 204 No Content).
type handler func(s *Sim, c *call) (any, *apiError)

type route struct {
	api    string
	method string // "directory.groups.list", ...
	h      handler
}

func (s *Sim) routes() {
	s.mux = http.NewServeMux()
	api := func(pattern, apiName, method string, h handler) {
		rt := route{api: apiName, method: method, h: h}
		s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { s.serveAPI(w, r, rt) })
	}
	const dir = "/admin/directory/v1"
	api("GET "+dir+"/groups", APIDirectory, "directory.groups.list", (*Sim).groupsList)
	api("GET "+dir+"/groups/{groupKey}", APIDirectory, "directory.groups.get", (*Sim).groupsGet)
	api("GET "+dir+"/groups/{groupKey}/members", APIDirectory, "directory.members.list", (*Sim).membersList)
	api("GET "+dir+"/groups/{groupKey}/members/{memberKey}", APIDirectory, "directory.members.get", (*Sim).membersGet)
	api("GET "+dir+"/groups/{groupKey}/hasMember/{memberKey}", APIDirectory, "directory.members.hasMember", (*Sim).membersHasMember)
	api("GET "+dir+"/users", APIDirectory, "directory.users.list", (*Sim).usersList)
	api("GET "+dir+"/users/{userKey}", APIDirectory, "directory.users.get", (*Sim).usersGet)

	const gs = "/groups/v1/groups/{groupUniqueId}"
	api("GET "+gs, APIGroupsSettings, "groupssettings.groups.get", (*Sim).settingsGet)
	api("PATCH "+gs, APIGroupsSettings, "groupssettings.groups.patch", (*Sim).settingsWrite)
	api("PUT "+gs, APIGroupsSettings, "groupssettings.groups.update", (*Sim).settingsWrite)

	const act = "/admin/reports/v1/activity/users/{userKey}/applications/{applicationName}"
	api("GET "+act, APIReports, "reports.activities.list", (*Sim).activitiesList)
	api("POST "+act+"/watch", APIReports, "reports.activities.watch", (*Sim).activitiesWatch)
	api("POST /admin/reports_v1/channels/stop", APIReports, "reports.channels.stop", (*Sim).channelsStop)

	s.mux.HandleFunc("GET /sim/v1/stats", s.controlStats)
	s.mux.HandleFunc("GET /sim/v1/truth", s.controlTruth)
	s.mux.HandleFunc("POST /sim/v1/mutations", s.controlMutations)
	s.mux.HandleFunc("GET /sim/v1/clock", s.controlClock)
	s.mux.HandleFunc("POST /sim/v1/clock", s.controlClock)
	s.mux.HandleFunc("POST /sim/v1/faults", s.controlFaults)

	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, notFound("Not Found: %s %s is not a path the simulator serves", r.Method, r.URL.Path))
	})
}

// ServeHTTP serves the three APIs and the control API.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	// Only the catch-all matched: if the path is known under another method, say 405
	// (ServeMux would answer it in plain text).
	if _, pattern := s.mux.Handler(r); pattern == "/" {
		for _, m := range []string{"GET", "POST", "PATCH", "PUT"} {
			if _, p := s.mux.Handler(withMethod(r, m)); p != "/" {
				writeError(w, errorf(http.StatusMethodNotAllowed, "methodNotAllowed", "Method %s is not allowed on %s", r.Method, r.URL.Path))
				return
			}
		}
	}
	// Handler above only finds the route; ServeHTTP is what sets the path values.
	s.mux.ServeHTTP(w, r)
}

func withMethod(r *http.Request, m string) *http.Request {
	r2 := *r
	r2.Method = m
	return &r2
}

// serveAPI answers an API call: count it, check the caller, the quotas and the injected
// faults, then run the handler and send its answer.
func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request, rt route) {
	now := s.Now()
	s.mu.Lock()
	s.calls[rt.method]++
	user, ok := bearer(r)
	if !ok {
		s.mu.Unlock()
		writeError(w, errorf(http.StatusUnauthorized, "required", "Login Required: the request carries no bearer token."))
		return
	}
	if err := s.quotas.check(rt.api, user, now); err != nil {
		if err.Reason == "dailyLimitExceeded" {
			s.rejected.DailyLimit++
		} else {
			s.rejected.RateLimit++
		}
		s.mu.Unlock()
		writeError(w, err)
		return
	}
	fault, slow := s.drawFault()
	if fault != nil {
		s.rejected.Injected++
		s.mu.Unlock()
		writeError(w, fault)
		return
	}
	s.quotas.charge(rt.api, user, now)
	s.mu.Unlock()

	if slow > 0 && !sleep(r.Context(), slow) {
		return
	}
	body, rerr := io.ReadAll(r.Body)
	if rerr != nil {
		writeError(w, bodyError(rerr))
		return
	}

	sel, err := requestedFields(r) // refused before the call changes anything
	if err != nil {
		writeError(w, err)
		return
	}

	s.mu.Lock()
	c := &call{r: r, body: body, user: user, now: now, st: s.readState(now)}
	v, err := rt.h(s, c)
	s.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	if v == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if sel != nil {
		if v, err = sel.partial(v); err != nil {
			writeError(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, v)
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// drawFault decides whether this call fails on purpose or is slow. Caller holds mu.
func (s *Sim) drawFault() (*apiError, time.Duration) {
	f := s.faults
	if f.RateLimited+f.InternalError+f.Unavailable+f.Slow == 0 {
		return nil, 0
	}
	r := s.rng.Float64()
	switch {
	case r < f.RateLimited:
		return errorf(http.StatusTooManyRequests, "rateLimitExceeded", "Quota exceeded for quota metric 'Queries' and limit 'Concurrent requests per account' (injected fault)."), 0
	case r < f.RateLimited+f.InternalError:
		return errorf(http.StatusInternalServerError, "backendError", "Internal error encountered (injected fault)."), 0
	case r < f.RateLimited+f.InternalError+f.Unavailable:
		return errorf(http.StatusServiceUnavailable, "backendError", "The service is currently unavailable (injected fault)."), 0
	}
	if s.rng.Float64() < f.Slow {
		if f.SlowDelay > 0 {
			return nil, f.SlowDelay
		}
		return nil, time.Second
	}
	return nil, 0
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Paging: a page token is an opaque cursor, the sort key of the last item sent, so a page
// costs a binary search and the page's own items whatever changed in between.

func encodeToken(kind string, key ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strings.Join(key, "\x00")))
}

func decodeToken(kind, token string) ([]string, *apiError) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	rest, ok := strings.CutPrefix(string(b), kind+":")
	if err != nil || !ok {
		return nil, badRequest("Invalid Input: pageToken %q is not a page token of this list", token)
	}
	return strings.Split(rest, "\x00"), nil
}

// maxResults reads the maxResults parameter: def if absent, an error outside [1, ceiling].
func maxResults(c *call, def, ceiling int) (int, *apiError) {
	v := c.r.URL.Query().Get("maxResults")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > ceiling {
		return 0, badRequest("Invalid value '%s'. Values must be within the range: [1, %d]", v, ceiling)
	}
	return n, nil
}

func boolParam(c *call, name string) (bool, *apiError) {
	switch v := c.r.URL.Query().Get(name); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, badRequest("Invalid value for %s: %q is not a boolean", name, v)
	}
}

// etag is an opaque, quoted entity tag derived from parts.
func etag(parts ...string) string {
	h := fnv.New128a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)) + `"`
}

// decodeJSON decodes one JSON value into v, refusing unknown fields, trailing data and
// bodies over maxBody.
func decodeJSON(body io.Reader, v any) *apiError {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "parseError", "Invalid JSON payload received: data after the JSON value")
	}
	return nil
}

func bodyError(err error) *apiError {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return errorf(http.StatusRequestEntityTooLarge, "badRequest", "Request body larger than %d bytes", maxBody)
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, "parseError", "Invalid JSON payload received: empty body")
	}
	return errorf(http.StatusBadRequest, "parseError", "Invalid JSON payload received: %v", err)
}

func lower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
