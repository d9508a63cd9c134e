package callbudget

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
)

// CallObserver is told the outcome of every Google API call that passed the one-call rule
// (pkg/metrics counts them). Outcome is "ok" for a 2xx, "refused" when the daily budget
// guard refused the call before it was sent, "transport" when no answer came back, and
// the HTTP status code otherwise ("404", "429", "503", ...).
type CallObserver interface {
	ObserveCall(api, method, outcome string)
}

// Observe makes Wrap report every call to o. The observer sits between the one-call rule
// and the guard, so a call the guard refuses is counted as refused and a call the
// one-call rule refuses (a bug, reported by OnViolation) is not counted at all.
func Observe(o CallObserver) Option { return func(opts *options) { opts.observer = o } }

// observed is Guard(base, q) reporting every call's outcome to o. A call the guard
// refuses never reaches base, which is how it is told from a call that failed on the way.
func observed(base http.RoundTripper, q Reserver, o CallObserver) http.RoundTripper {
	inner := roundTripper(func(r *http.Request) (*http.Response, error) {
		if sent, ok := r.Context().Value(sentKey{}).(*atomic.Bool); ok {
			sent.Store(true)
		}
		return base.RoundTrip(r)
	})
	guarded := Guard(inner, q)
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		api, _ := APIOf(r.URL)
		method := MethodOf(r)
		sent := new(atomic.Bool)
		res, err := guarded.RoundTrip(r.WithContext(context.WithValue(r.Context(), sentKey{}, sent)))
		o.ObserveCall(api, method, outcome(res, err, sent.Load()))
		return res, err
	})
}

type sentKey struct{}

func outcome(res *http.Response, err error, sent bool) string {
	switch {
	case err != nil && !sent:
		return "refused"
	case err != nil:
		return "transport"
	case res.StatusCode/100 == 2:
		return "ok"
	default:
		return strconv.Itoa(res.StatusCode)
	}
}

// methods names the calls Greep makes the way Google's discovery documents do. The
// patterns have no host: Google and a simulator serve the same paths.
var methods = sync.OnceValue(func() *http.ServeMux {
	mux := http.NewServeMux()
	add := func(pattern, name string) {
		mux.Handle(pattern, http.NotFoundHandler())
		methodNames[pattern] = name
	}
	const dir = "/admin/directory/v1"
	add("GET "+dir+"/groups", "directory.groups.list")
	add("GET "+dir+"/groups/{g}", "directory.groups.get")
	add("GET "+dir+"/groups/{g}/members", "directory.members.list")
	add("GET "+dir+"/groups/{g}/members/{m}", "directory.members.get")
	add("GET "+dir+"/groups/{g}/hasMember/{m}", "directory.members.hasMember")
	add("GET "+dir+"/users", "directory.users.list")
	add("GET "+dir+"/users/{u}", "directory.users.get")
	const gs = "/groups/v1/groups/{g}"
	add("GET "+gs, "groupssettings.groups.get")
	add("PATCH "+gs, "groupssettings.groups.patch")
	add("PUT "+gs, "groupssettings.groups.update")
	const act = "/admin/reports/v1/activity/users/{u}/applications/{a}"
	add("GET "+act, "reports.activities.list")
	add("POST "+act+"/watch", "reports.activities.watch")
	add("POST /admin/reports_v1/channels/stop", "reports.channels.stop")
	return mux
})

var methodNames = map[string]string{}

// MethodOf names the API method r calls ("directory.groups.list"), or "other".
func MethodOf(r *http.Request) string {
	mux := methods()
	probe := &http.Request{Method: r.Method, URL: r.URL, Host: r.URL.Host}
	if _, pattern := mux.Handler(probe); methodNames[pattern] != "" {
		return methodNames[pattern]
	}
	return "other"
}
