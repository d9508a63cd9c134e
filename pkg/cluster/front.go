package cluster

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/greephq/greep/pkg/googleerror"
)

// front is the app's one address: it strips the headers only App Engine may set and
// routes each request to its service by dispatch.yaml, as App Engine's front end does.
type front struct {
	rules    []Rule
	services map[string]*url.URL
	proxy    *httputil.ReverseProxy
}

func newFront(rules []Rule, services map[string]*url.URL) *front {
	f := &front{rules: rules, services: services}
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(f.services[Route(f.rules, r.In.Host, r.In.URL.Path)])
			r.SetXForwarded()
			r.Out.Host = r.In.Host
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// The service's process is down (killed, restarting): App Engine would start an
			// instance; here the caller sees what Google answers when none can serve.
			googleerror.Write(w, http.StatusServiceUnavailable, "backendError", "service "+Route(f.rules, r.Host, r.URL.Path)+" is not answering: "+err.Error())
		},
	}
	return f
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	stripAppEngineHeaders(r.Header)
	if _, ok := f.services[Route(f.rules, r.Host, r.URL.Path)]; !ok {
		googleerror.Write(w, http.StatusNotFound, "notFound", "no service for "+r.URL.Path)
		return
	}
	f.proxy.ServeHTTP(w, r)
}

// stripAppEngineHeaders removes X-AppEngine-* (the task headers) and X-Appengine-Cron
// from an outside request: App Engine does, which is why the services may trust them.
func stripAppEngineHeaders(h http.Header) {
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-appengine-") {
			delete(h, k)
		}
	}
}
