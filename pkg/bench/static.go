package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/pprof"
	"strconv"

	"github.com/greephq/greep/pkg/service"
)

// A staticServer answers each of a few request URIs with bytes it holds in memory: the
// status, headers and body Greep answered it with, captured once. It is what the read
// scenario measures Greep against: the same bytes, through a net/http server set up as
// Greep's is (service.HTTPServer) and the same loopback, with none of the work of
// finding them.
type staticServer struct {
	URL     string
	answers map[string]staticAnswer
	srv     *http.Server
}

type staticAnswer struct {
	header http.Header
	body   []byte
}

// captureStatic GETs each of uris from base (with the bearer token) and serves the
// answers from a new loopback server. Every answer must be a 200.
func captureStatic(ctx context.Context, base, token string, uris []string) (*staticServer, error) {
	s := &staticServer{answers: map[string]staticAnswer{}}
	for _, u := range uris {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: %s: %s", u, resp.Status, body)
		}
		h := resp.Header.Clone()
		h.Del("Date") // net/http writes its own
		s.answers[u] = staticAnswer{header: h, body: body}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.URL = "http://" + l.Addr().String()
	// Greep's own server settings (its timeouts arm a deadline per request), so that
	// the two sides differ only by what Greep does to find the answer.
	s.srv = service.HTTPServer(s, service.Timeouts{})
	// Its connections' goroutines inherit the label, so a profile of the read scenario
	// tells the static side's CPU from Greep's (go tool pprof -tagfocus side=static).
	go pprof.Do(context.Background(), pprof.Labels("side", "static"), func(context.Context) { s.srv.Serve(l) })
	return s, nil
}

func (s *staticServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := s.answers[r.RequestURI]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	for k, v := range a.header {
		h[k] = v
	}
	h["Content-Length"] = []string{strconv.Itoa(len(a.body))}
	w.WriteHeader(http.StatusOK)
	w.Write(a.body)
}

// body returns the bytes the server answers uri with.
func (s *staticServer) body(uri string) []byte { return s.answers[uri].body }

func (s *staticServer) Close() error {
	if err := s.srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
