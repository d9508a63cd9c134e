package api

import (
	"net/http"
	"net/http/pprof"
)

// pprofPrefix is where Config.Pprof serves net/http/pprof.
const pprofPrefix = "/debug/pprof/"

// pprofHandler is net/http/pprof's pages on a mux of their own (the package's init also
// registers them on http.DefaultServeMux, which Greep never serves). cmdline is left
// out (Index answers it 404): greep local's command line may carry --api-token.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(pprofPrefix, pprof.Index)
	mux.HandleFunc(pprofPrefix+"profile", pprof.Profile)
	mux.HandleFunc(pprofPrefix+"symbol", pprof.Symbol)
	mux.HandleFunc(pprofPrefix+"trace", pprof.Trace)
	return mux
}
