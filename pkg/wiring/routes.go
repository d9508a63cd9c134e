package wiring

import (
	"net/http"
	"slices"
	"strings"

	"github.com/greephq/greep/pkg/googleerror"
)

// Routes sends each request to the handler of the longest route its path starts with,
// as dispatch.yaml sends it to a service. Where several services share one server
// (greep local, a service's own cron paths) it stands in for http.ServeMux, which
// cleans the path and walks its pattern tree on every request: a few percent of a read
// API answer's CPU. A route ending in "/" matches every path under it; any other matches
// itself only. Routes are added before the server starts; it is not safe to add them
// while it serves.
type Routes struct {
	routes []route // longest prefix first
}

type route struct {
	prefix string
	h      http.Handler
}

// Handle serves the paths of prefix with h; a prefix given twice panics, as
// http.ServeMux's does, since it is a wiring mistake.
func (rs *Routes) Handle(prefix string, h http.Handler) {
	if prefix == "" || prefix[0] != '/' || h == nil {
		panic("wiring: a route is a path starting with / and a handler: " + prefix)
	}
	if slices.ContainsFunc(rs.routes, func(r route) bool { return r.prefix == prefix }) {
		panic("wiring: route " + prefix + " given twice")
	}
	rs.routes = append(rs.routes, route{prefix, h})
	slices.SortStableFunc(rs.routes, func(a, b route) int { return len(b.prefix) - len(a.prefix) })
}

func (rs *Routes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	for _, rt := range rs.routes {
		if p == rt.prefix || (strings.HasSuffix(rt.prefix, "/") && strings.HasPrefix(p, rt.prefix)) {
			rt.h.ServeHTTP(w, r)
			return
		}
	}
	googleerror.Write(w, http.StatusNotFound, "notFound", "No service serves "+p)
}
