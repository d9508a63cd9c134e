package cluster

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// Rule is one dispatch.yaml entry: requests whose host and path match its url go to its
// service.
type Rule struct {
	Host    string // "*", "*.example.com" or "example.com"
	Path    string // "/push/*" (a prefix when it ends with *) or an exact path
	Service string
	Line    int
}

// App Engine's limits on dispatch.yaml.
const (
	maxRules     = 20
	maxURLLength = 100
)

// ParseDispatch reads dispatch.yaml (file names it in errors). Every rule must name a
// service in known; a url App Engine would refuse is refused with its line.
func ParseDispatch(file string, b []byte, known map[string]bool) ([]Rule, error) {
	root, err := document(file, b)
	if err != nil {
		return nil, err
	}
	list := field(root, "dispatch")
	if list == nil {
		return nil, errAt(file, root, "no dispatch: list")
	}
	if list.Kind != yaml.SequenceNode {
		return nil, errAt(file, list, "dispatch: want a list of {url, service}")
	}
	if len(list.Content) > maxRules {
		return nil, errAt(file, list.Content[maxRules], "more than %d dispatch rules", maxRules)
	}
	var rules []Rule
	for _, n := range list.Content {
		if n.Kind != yaml.MappingNode {
			return nil, errAt(file, n, "a dispatch rule: want {url, service}")
		}
		keys, _ := entries(n)
		for _, k := range keys {
			if k.Value != "url" && k.Value != "service" {
				return nil, errAt(file, k, "unknown key %q in a dispatch rule", k.Value)
			}
		}
		url, un, err := scalar(file, n, "url")
		if err != nil {
			return nil, err
		}
		svc, sn, err := scalar(file, n, "service")
		if err != nil {
			return nil, err
		}
		r, err := parseURL(file, un, url)
		if err != nil {
			return nil, err
		}
		switch {
		case svc == "":
			return nil, errAt(file, n, "dispatch rule %q names no service", url)
		case !known[svc]:
			return nil, errAt(file, sn, "service %q is not one of the app's services (%s)", svc, names(known))
		}
		r.Service, r.Line = svc, n.Line
		rules = append(rules, r)
	}
	return rules, nil
}

// parseURL checks a rule's url as App Engine does: HOST/PATH, at most 100 characters, a
// '*' only at the start of the host and at the end of the path.
func parseURL(file string, n *yaml.Node, url string) (Rule, error) {
	if url == "" {
		return Rule{}, errAt(file, n, "dispatch rule without a url")
	}
	if len(url) > maxURLLength {
		return Rule{}, errAt(file, n, "url %q: longer than %d characters", url, maxURLLength)
	}
	host, path, ok := strings.Cut(url, "/")
	if !ok || host == "" {
		return Rule{}, errAt(file, n, "url %q: want HOST/PATH, such as \"*/push/*\"", url)
	}
	path = "/" + path
	if strings.Contains(strings.TrimPrefix(host, "*"), "*") {
		return Rule{}, errAt(file, n, "url %q: a '*' may only start the host", url)
	}
	if strings.Contains(strings.TrimSuffix(path, "*"), "*") {
		return Rule{}, errAt(file, n, "url %q: a '*' may only end the path", url)
	}
	if strings.ContainsAny(url, " \t?#") {
		return Rule{}, errAt(file, n, "url %q: no spaces, query or fragment", url)
	}
	return Rule{Host: host, Path: path}, nil
}

// Route is the service of the first rule that matches host and path, or "default".
// Paths under /_ah/ are never dispatched, as on App Engine.
func Route(rules []Rule, host, path string) string {
	if strings.HasPrefix(path, "/_ah/") {
		return defaultService
	}
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	for _, r := range rules {
		if matchHost(r.Host, host) && matchPath(r.Path, path) {
			return r.Service
		}
	}
	return defaultService
}

func matchHost(pattern, host string) bool {
	if suffix, ok := strings.CutPrefix(pattern, "*"); ok {
		return strings.HasSuffix(host, suffix)
	}
	return strings.EqualFold(pattern, host)
}

func matchPath(pattern, path string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(path, prefix)
	}
	return pattern == path
}
