package queueconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultTimeZone is where Google's per-day quotas reset.
const DefaultTimeZone = "America/Los_Angeles"

// Load reads and parses the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("queue config: %w", err)
	}
	return Parse(path, b)
}

// Parse parses and validates queues.yaml. file names the source in error messages, which
// take the form "file:line: message". Unknown keys and impossible values are refused.
func Parse(file string, data []byte) (*Config, error) {
	p := &parser{file: file}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file", file)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty file", file)
	}
	return p.config(doc.Content[0])
}

type parser struct{ file string }

func (p *parser) errorf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.file, n.Line, fmt.Sprintf(format, args...))
}

// fields returns a mapping's values by key, refusing keys not in known and repeated keys.
func (p *parser) fields(n *yaml.Node, what string, known ...string) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errorf(n, "%s: want a mapping", what)
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(known, k.Value) {
			return nil, p.errorf(k, "unknown key %q in %s (known: %s)", k.Value, what, strings.Join(known, ", "))
		}
		if _, dup := out[k.Value]; dup {
			return nil, p.errorf(k, "key %q repeated in %s", k.Value, what)
		}
		out[k.Value] = v
	}
	return out, nil
}

func (p *parser) require(m map[string]*yaml.Node, parent *yaml.Node, what string, keys ...string) error {
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return p.errorf(parent, "%s: %q is required", what, k)
		}
	}
	return nil
}

func (p *parser) scalar(n *yaml.Node, what string, v any) error {
	if n.Kind != yaml.ScalarNode {
		return p.errorf(n, "%s: want a single value", what)
	}
	if err := n.Decode(v); err != nil {
		return p.errorf(n, "%s: %q is not a %s", what, n.Value, typeName(v))
	}
	return nil
}

func typeName(v any) string {
	switch v.(type) {
	case *int, *int64:
		return "whole number"
	case *float64:
		return "number"
	case *bool:
		return "boolean (true or false)"
	default:
		return "string"
	}
}

func (p *parser) duration(n *yaml.Node, what string) (time.Duration, error) {
	var s string
	if err := p.scalar(n, what, &s); err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, p.errorf(n, "%s: %q is not a duration (like 100ms, 1s, 5m)", what, s)
	}
	return d, nil
}

var laneName = regexp.MustCompile(`^[A-Za-z0-9-]{1,100}$`)

func (p *parser) config(root *yaml.Node) (*Config, error) {
	top, err := p.fields(root, "queues.yaml", "timeZone", "apis", "queues")
	if err != nil {
		return nil, err
	}
	if err := p.require(top, root, "queues.yaml", "apis", "queues"); err != nil {
		return nil, err
	}
	c := &Config{APIs: map[string]*API{}, Lanes: map[string]*Lane{}, Scale: 1}

	zone := DefaultTimeZone
	if n, ok := top["timeZone"]; ok {
		if err := p.scalar(n, "timeZone", &zone); err != nil {
			return nil, err
		}
		if zone == "" {
			return nil, p.errorf(n, "timeZone: empty")
		}
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, p.errorf(root, "timeZone: unknown zone %q", zone)
	}
	c.TimeZone = loc

	apis := top["apis"]
	if apis.Kind != yaml.MappingNode || len(apis.Content) == 0 {
		return nil, p.errorf(apis, "apis: want a mapping of API name to quota")
	}
	for i := 0; i+1 < len(apis.Content); i += 2 {
		k, v := apis.Content[i], apis.Content[i+1]
		if _, dup := c.APIs[k.Value]; dup {
			return nil, p.errorf(k, "api %q declared twice", k.Value)
		}
		a, err := p.api(k, v)
		if err != nil {
			return nil, err
		}
		c.APIs[a.Name] = a
	}
	for _, name := range c.APINames() {
		if err := p.shareWindow(c, c.APIs[name]); err != nil {
			return nil, err
		}
	}

	queues := top["queues"]
	if queues.Kind != yaml.MappingNode || len(queues.Content) == 0 {
		return nil, p.errorf(queues, "queues: want a mapping of queue name to lane")
	}
	for i := 0; i+1 < len(queues.Content); i += 2 {
		k, v := queues.Content[i], queues.Content[i+1]
		if _, dup := c.Lanes[k.Value]; dup {
			return nil, p.errorf(k, "queue %q declared twice", k.Value)
		}
		l, err := p.lane(c, k, v)
		if err != nil {
			return nil, err
		}
		c.Lanes[l.Name] = l
	}

	// The lanes of one pool (an API's short window, shared or not) split its rate:
	// together they must not exceed it.
	for _, name := range c.APINames() {
		a := c.APIs[name]
		if a.Pool() != name {
			continue
		}
		var sum float64
		var lanes []string
		for _, ln := range c.LaneNames() {
			if l := c.Lanes[ln]; l.api != nil && l.api.Pool() == name {
				sum += l.Share
				lanes = append(lanes, ln)
			}
		}
		if sum > 1+1e-9 {
			return nil, p.errorf(&yaml.Node{Line: a.line}, "api %q: the shares of the queues counted in its short window (%s) add up to %.3g, more than 1", name, strings.Join(lanes, ", "), sum)
		}
	}
	return c, nil
}

func (p *parser) api(k, v *yaml.Node) (*API, error) {
	what := fmt.Sprintf("api %q", k.Value)
	if !laneName.MatchString(k.Value) {
		return nil, p.errorf(k, "%s: name must be letters, digits and '-'", what)
	}
	m, err := p.fields(v, what, "shortWindow", "perDay", "subjects", "headroom", "sharesWindowWith")
	if err != nil {
		return nil, err
	}
	a := &API{Name: k.Value, Subjects: 1, Headroom: 0.1, line: k.Line}
	if n, ok := m["sharesWindowWith"]; ok {
		if err := p.scalar(n, what+" sharesWindowWith", &a.SharesWindowWith); err != nil {
			return nil, err
		}
		for _, own := range []string{"shortWindow", "subjects", "headroom"} {
			if o, ok := m[own]; ok {
				return nil, p.errorf(o, "%s %s: an API that shares %q's short window takes its %s from there", what, own, a.SharesWindowWith, own)
			}
		}
		if err := p.require(m, k, what, "perDay"); err != nil {
			return nil, err
		}
		return a, p.perDay(m["perDay"], what, a)
	}
	if err := p.require(m, k, what, "shortWindow", "perDay"); err != nil {
		return nil, err
	}

	sw, err := p.fields(m["shortWindow"], what+" shortWindow", "limit", "per")
	if err != nil {
		return nil, err
	}
	if err := p.require(sw, m["shortWindow"], what+" shortWindow", "limit", "per"); err != nil {
		return nil, err
	}
	if err := p.scalar(sw["limit"], what+" shortWindow.limit", &a.WindowLimit); err != nil {
		return nil, err
	}
	if a.WindowLimit <= 0 {
		return nil, p.errorf(sw["limit"], "%s shortWindow.limit: %d calls: must be positive", what, a.WindowLimit)
	}
	if a.Window, err = p.duration(sw["per"], what+" shortWindow.per"); err != nil {
		return nil, err
	}
	if a.Window < time.Second || a.Window > 24*time.Hour {
		return nil, p.errorf(sw["per"], "%s shortWindow.per: %s: must be between 1s and 24h", what, a.Window)
	}

	if err := p.perDay(m["perDay"], what, a); err != nil {
		return nil, err
	}
	if n, ok := m["subjects"]; ok {
		if err := p.scalar(n, what+" subjects", &a.Subjects); err != nil {
			return nil, err
		}
		if a.Subjects < 1 || a.Subjects > 1000 {
			return nil, p.errorf(n, "%s subjects: %d: must be between 1 and 1000", what, a.Subjects)
		}
	}
	if n, ok := m["headroom"]; ok {
		if err := p.scalar(n, what+" headroom", &a.Headroom); err != nil {
			return nil, err
		}
		if !(a.Headroom >= 0 && a.Headroom < 1) {
			return nil, p.errorf(n, "%s headroom: %v: must be a fraction in [0, 1)", what, a.Headroom)
		}
	}
	return a, nil
}

func (p *parser) perDay(n *yaml.Node, what string, a *API) error {
	if err := p.scalar(n, what+" perDay", &a.PerDay); err != nil {
		return err
	}
	if a.PerDay <= 0 {
		return p.errorf(n, "%s perDay: %d: must be positive", what, a.PerDay)
	}
	return nil
}

// shareWindow gives an API that shares another's short window that window, once every
// API is parsed (the other may come later in the file).
func (p *parser) shareWindow(c *Config, a *API) error {
	if a.SharesWindowWith == "" {
		return nil
	}
	at := &yaml.Node{Line: a.line}
	owner, ok := c.APIs[a.SharesWindowWith]
	switch {
	case !ok:
		return p.errorf(at, "api %q sharesWindowWith: %q is not declared under apis (declared: %s)", a.Name, a.SharesWindowWith, strings.Join(c.APINames(), ", "))
	case owner == a:
		return p.errorf(at, "api %q sharesWindowWith: itself", a.Name)
	case owner.SharesWindowWith != "":
		return p.errorf(at, "api %q sharesWindowWith: %q shares %q's window itself; name %q", a.Name, owner.Name, owner.SharesWindowWith, owner.SharesWindowWith)
	}
	a.WindowLimit, a.Window, a.Subjects, a.Headroom = owner.WindowLimit, owner.Window, owner.Subjects, owner.Headroom
	return nil
}

func (p *parser) lane(c *Config, k, v *yaml.Node) (*Lane, error) {
	what := fmt.Sprintf("queue %q", k.Value)
	if !laneName.MatchString(k.Value) {
		return nil, p.errorf(k, "%s: a Cloud Tasks queue name is 1-100 letters, digits and '-'", what)
	}
	m, err := p.fields(v, what, "api", "share", "ratePerSecond", "service", "pathPrefix",
		"concurrency", "retry", "background", "dailyBudget")
	if err != nil {
		return nil, err
	}
	if err := p.require(m, k, what, "service", "pathPrefix", "concurrency", "retry"); err != nil {
		return nil, err
	}
	l := &Lane{Name: k.Value, scale: 1, line: k.Line}

	if n, ok := m["api"]; ok {
		if err := p.scalar(n, what+" api", &l.API); err != nil {
			return nil, err
		}
		a, ok := c.APIs[l.API]
		if !ok {
			return nil, p.errorf(n, "%s api: %q is not declared under apis (declared: %s)", what, l.API, strings.Join(c.APINames(), ", "))
		}
		l.api = a
		if r, ok := m["ratePerSecond"]; ok {
			return nil, p.errorf(r, "%s ratePerSecond: a lane that spends an API's quota gets its rate from the quota; give it a share instead", what)
		}
		n, ok := m["share"]
		if !ok {
			return nil, p.errorf(k, "%s: \"share\" (its fraction of the %s rate) is required", what, l.API)
		}
		if err := p.scalar(n, what+" share", &l.Share); err != nil {
			return nil, err
		}
		if !(l.Share > 0 && l.Share <= 1) {
			return nil, p.errorf(n, "%s share: %v: must be a fraction in (0, 1]", what, l.Share)
		}
	} else {
		if n, ok := m["share"]; ok {
			return nil, p.errorf(n, "%s share: a lane without an api has no quota to share; give it ratePerSecond", what)
		}
		n, ok := m["ratePerSecond"]
		if !ok {
			return nil, p.errorf(k, "%s: either \"api\" (with a share) or \"ratePerSecond\" is required", what)
		}
		if err := p.scalar(n, what+" ratePerSecond", &l.FixedRate); err != nil {
			return nil, err
		}
		if !(l.FixedRate > 0) || l.FixedRate > CloudTasksMaxRate {
			return nil, p.errorf(n, "%s ratePerSecond: %v: must be above 0 and at most %d (the Cloud Tasks limit)", what, l.FixedRate, CloudTasksMaxRate)
		}
	}

	if err := p.scalar(m["service"], what+" service", &l.Service); err != nil {
		return nil, err
	}
	if !slices.Contains(Services, l.Service) {
		return nil, p.errorf(m["service"], "%s service: %q is not one of %s", what, l.Service, strings.Join(Services, ", "))
	}
	if err := p.scalar(m["pathPrefix"], what+" pathPrefix", &l.PathPrefix); err != nil {
		return nil, err
	}
	if want := "/tasks/" + l.Service + "/"; l.PathPrefix != want && !strings.HasPrefix(l.PathPrefix, want) {
		return nil, p.errorf(m["pathPrefix"], "%s pathPrefix: %q: service %s's task paths start with %q", what, l.PathPrefix, l.Service, want)
	}
	if err := p.scalar(m["concurrency"], what+" concurrency", &l.Concurrency); err != nil {
		return nil, err
	}
	if l.Concurrency < 1 || l.Concurrency > CloudTasksMaxConcurrency {
		return nil, p.errorf(m["concurrency"], "%s concurrency: %d: must be between 1 and %d", what, l.Concurrency, CloudTasksMaxConcurrency)
	}
	if l.Retry, err = p.retry(what, m["retry"]); err != nil {
		return nil, err
	}

	if n, ok := m["background"]; ok {
		if err := p.scalar(n, what+" background", &l.Background); err != nil {
			return nil, err
		}
	}
	if n, ok := m["dailyBudget"]; ok {
		if !l.Background {
			return nil, p.errorf(n, "%s dailyBudget: only background lanes stop at a daily budget; push lanes may use the whole limit", what)
		}
		if err := p.scalar(n, what+" dailyBudget", &l.DailyBudget); err != nil {
			return nil, err
		}
		if !(l.DailyBudget > 0 && l.DailyBudget < 1) {
			return nil, p.errorf(n, "%s dailyBudget: %v: must be a fraction in (0, 1) of the daily limit", what, l.DailyBudget)
		}
	} else if l.Background && l.api != nil {
		return nil, p.errorf(m["background"], "%s: a background lane needs dailyBudget, the fraction of the daily limit at which it stops", what)
	}
	return l, nil
}

func (p *parser) retry(what string, n *yaml.Node) (Retry, error) {
	what += " retry"
	m, err := p.fields(n, what, "minBackoff", "maxBackoff", "maxDoublings", "maxAttempts")
	if err != nil {
		return Retry{}, err
	}
	if err := p.require(m, n, what, "minBackoff", "maxBackoff", "maxDoublings", "maxAttempts"); err != nil {
		return Retry{}, err
	}
	var r Retry
	if r.MinBackoff, err = p.duration(m["minBackoff"], what+".minBackoff"); err != nil {
		return r, err
	}
	if r.MinBackoff < 100*time.Millisecond {
		return r, p.errorf(m["minBackoff"], "%s.minBackoff: %s: must be at least 100ms", what, r.MinBackoff)
	}
	if r.MaxBackoff, err = p.duration(m["maxBackoff"], what+".maxBackoff"); err != nil {
		return r, err
	}
	if r.MaxBackoff < r.MinBackoff || r.MaxBackoff > 24*time.Hour {
		return r, p.errorf(m["maxBackoff"], "%s.maxBackoff: %s: must be at least minBackoff (%s) and at most 24h", what, r.MaxBackoff, r.MinBackoff)
	}
	if err := p.scalar(m["maxDoublings"], what+".maxDoublings", &r.MaxDoublings); err != nil {
		return r, err
	}
	if r.MaxDoublings < 0 || r.MaxDoublings > 16 {
		return r, p.errorf(m["maxDoublings"], "%s.maxDoublings: %d: must be between 0 and 16", what, r.MaxDoublings)
	}
	if err := p.scalar(m["maxAttempts"], what+".maxAttempts", &r.MaxAttempts); err != nil {
		return r, err
	}
	if r.MaxAttempts == 0 || r.MaxAttempts < -1 || r.MaxAttempts > math.MaxInt32 {
		return r, p.errorf(m["maxAttempts"], "%s.maxAttempts: %d: must be -1 (unlimited) or at least 1", what, r.MaxAttempts)
	}
	return r, nil
}
