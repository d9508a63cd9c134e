package api

import (
	"context"
	"net/http"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/greephq/greep/pkg/auth"
)

// A requestState is what the API keeps in a request's context: chi's routing context
// and, once authenticated, the principal. The server puts it there once, so a read copies
// its request once: chi's own context and the principal's were a copy and a context value
// each, the largest part of what a hot page allocated.
type requestState struct {
	context.Context
	route     *chi.Context
	principal *auth.Principal
}

type requestStateKey struct{}

func (s *requestState) Value(key any) any {
	switch key {
	case chi.RouteCtxKey:
		return s.route
	case requestStateKey{}:
		return s
	}
	return s.Context.Value(key)
}

// A stateRouter serves its mux with a requestState in each request's context. Finding
// one, chi uses its routing context rather than making its own. The routing contexts are
// pooled, as chi pools its own: they hold routing data only, which nothing keeps after
// the request.
type stateRouter struct {
	*chi.Mux
	pool sync.Pool
}

func withRequestState(mux *chi.Mux) *stateRouter {
	return &stateRouter{Mux: mux, pool: sync.Pool{New: func() any { return chi.NewRouteContext() }}}
}

func (s *stateRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rctx := s.pool.Get().(*chi.Context)
	rctx.Reset()
	rctx.Routes = s.Mux
	s.Mux.ServeHTTP(w, r.WithContext(&requestState{Context: r.Context(), route: rctx}))
	s.pool.Put(rctx)
}

// setPrincipal records who is asking for the handlers after authentication. The state
// belongs to this request alone, and its handlers run after this in the same goroutine.
func setPrincipal(r *http.Request, p *auth.Principal) {
	if st, ok := r.Context().Value(requestStateKey{}).(*requestState); ok {
		st.principal = p
	}
}

// principalFrom is who is asking; nil before authentication.
func principalFrom(ctx context.Context) *auth.Principal {
	if st, ok := ctx.Value(requestStateKey{}).(*requestState); ok {
		return st.principal
	}
	return nil
}

// withPrincipal is ctx asked by p, for work done outside a request's handlers.
func withPrincipal(ctx context.Context, p *auth.Principal) context.Context {
	return &requestState{Context: ctx, principal: p}
}
