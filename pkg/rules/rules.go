// Package rules is Greep's remediation policy, as pure code: the rules file (what is unsafe
// in a group's settings, what is safe instead, which groups are secure or exempt, the mode
// and the blast-radius cap), the Groups Settings fields and values Greep knows, the
// evaluation of one group against the rules, and the one valid combination of values a
// patch must send. Nothing here does I/O beyond reading the file, so every decision is
// tested without servers.
package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Modes.
const (
	ModeDetect    = "detect"    // record and notify only
	ModeRemediate = "remediate" // also patch through the groupssettings queue
)

// Defaults for knobs the file leaves out.
const (
	DefaultRunCap           = 25
	DefaultMaxPatchesPerDay = 3
)

// Config is a rules file.
type Config struct {
	// Mode is detect or remediate.
	Mode string `yaml:"mode"`
	// RunCap is how many groups one run (one sweep, or one quota day of push-driven
	// evaluations) may patch; past it findings stay open and say how to override.
	RunCap int `yaml:"runCap"`
	// MaxPatchesPerDay is how often one group may be patched in a day. A group somebody
	// keeps setting back is left as a failed finding after that, never a patch loop.
	MaxPatchesPerDay int `yaml:"maxPatchesPerDay"`
	// NotifyURL receives a Slack-compatible JSON POST per new and per fixed finding;
	// empty sends nothing.
	NotifyURL string `yaml:"notifyURL"`
	// Domains are the tenant's domains; members outside them are external. Empty means
	// the domain of each group's own address.
	Domains []string `yaml:"domains"`
	// Rules apply to every group.
	Rules []Rule `yaml:"rules"`
	// Secure holds the stricter rules for groups that hold a sentinel member.
	Secure Secure `yaml:"secure"`
	// Membership turns the membership hygiene checks on or off (both on by default).
	Membership Membership `yaml:"membership"`
	// Exemptions leave groups unpatched (their findings are recorded as exempt).
	Exemptions []Exemption `yaml:"exemptions"`

	fieldLine func(key string) int
}

// Secure marks groups as secure by a sentinel member and holds their rules.
type Secure struct {
	Sentinels []string `yaml:"sentinels"`
	Rules     []Rule   `yaml:"rules"`
}

// Membership configures the hygiene checks; nil means on.
type Membership struct {
	// Inactive finds members who are suspended or archived users.
	Inactive *bool `yaml:"inactive"`
	// External finds members outside the tenant's domains in groups that do not allow
	// external members, or that are secure.
	External *bool `yaml:"external"`
}

// Rule maps unsafe values of one field to a safe one.
type Rule struct {
	// Name identifies the rule in findings; it defaults to the field, prefixed with
	// "secure." for secure rules. Renaming a rule starts new findings.
	Name   string   `yaml:"name"`
	Field  string   `yaml:"field"`
	Unsafe []string `yaml:"unsafe"`
	Safe   string   `yaml:"safe"`
	// Line is where the rule starts in the file, for messages.
	Line int `yaml:"-"`
}

// Exemption leaves one group alone, for a reason, until an optional expiry.
type Exemption struct {
	// Group names the group by its email, as it was when the exemption was written, or by
	// its id (no '@'). An email is bound to the group's id the first time the cache
	// knows it (ExemptionOf), so the exemption follows the group through renames.
	Group  string `yaml:"group"`
	Reason string `yaml:"reason"`
	// Expires is a date (2026-12-31, end of that day UTC) or an RFC 3339 time; empty
	// never expires.
	Expires string `yaml:"expires"`
	Line    int    `yaml:"-"`

	until time.Time
}

// ByID reports whether the file names the group by id rather than by email.
func (e Exemption) ByID() bool { return !strings.Contains(e.Group, "@") }

// Until is when the exemption ends (zero: never).
func (e Exemption) Until() time.Time { return e.until }

// Active reports whether the exemption holds at now.
func (e Exemption) Active(now time.Time) bool {
	return e.until.IsZero() || now.Before(e.until)
}

// LoadFile reads and validates a rules file.
func LoadFile(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("rules %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and validates a rules file. Every error names the line it is about.
func Parse(b []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, withLine(b, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("line 1: the rules file is empty")
		}
		return nil, withLine(b, err)
	}
	// yaml.v3 gives lines on syntax and unknown-key errors only; take the lines of
	// rules and exemptions from the node tree for the checks below.
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	lists := []struct {
		what string
		seq  *yaml.Node
		n    int
		set  func(i, line int)
	}{
		{"rules", lookup(doc, "rules"), len(c.Rules), func(i, line int) { c.Rules[i].Line = line }},
		{"secure.rules", lookup(lookup(doc, "secure"), "rules"), len(c.Secure.Rules), func(i, line int) { c.Secure.Rules[i].Line = line }},
		{"exemptions", lookup(doc, "exemptions"), len(c.Exemptions), func(i, line int) { c.Exemptions[i].Line = line }},
	}
	for _, l := range lists {
		if err := setLines(l.what, l.seq, l.n, l.set); err != nil {
			return nil, err
		}
	}
	c.fieldLine = func(key string) int {
		if n := lookupKey(doc, key); n != nil {
			return n.Line
		}
		return 1
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

var linePos = regexp.MustCompile(`\bline \d+`)

// withLine keeps the promise that every error names a line: some of yaml.v3's reader
// errors (a stream cut short, a control character) carry no position, so they name the
// file's last line, where the reader gave up at the latest.
func withLine(b []byte, err error) error {
	if linePos.MatchString(err.Error()) {
		return err
	}
	return fmt.Errorf("line %d (end of file): %w", bytes.Count(b, []byte("\n"))+1, err)
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func lookupKey(m *yaml.Node, key string) *yaml.Node {
	m = resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

// setLines gives the n decoded items of a list their lines. yaml.v3 drops an empty item
// ("-" alone) from the decoded slice without a word, which would shift every line after
// it, so an item that is not a mapping is refused here with its line.
func setLines(what string, seq *yaml.Node, n int, set func(i, line int)) error {
	seq = resolve(seq)
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	for i, item := range seq.Content {
		if r := resolve(item); r == nil || r.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: empty or malformed item under %s: want a mapping (field:, unsafe:, ... or group:, reason:)", item.Line, what)
		}
		if i >= n {
			return fmt.Errorf("line %d: item under %s was not read", item.Line, what)
		}
		set(i, item.Line)
	}
	return nil
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 8; depth++ {
		n = n.Alias
	}
	return n
}

func (c *Config) validate() error {
	switch c.Mode {
	case "":
		c.Mode = ModeDetect
	case ModeDetect, ModeRemediate:
	default:
		return fmt.Errorf("line %d: mode %q: want %s or %s", c.fieldLine("mode"), c.Mode, ModeDetect, ModeRemediate)
	}
	if c.RunCap < 0 {
		return fmt.Errorf("line %d: runCap %d: want 0 (default %d) or more", c.fieldLine("runCap"), c.RunCap, DefaultRunCap)
	}
	if c.RunCap == 0 {
		c.RunCap = DefaultRunCap
	}
	if c.MaxPatchesPerDay < 0 {
		return fmt.Errorf("line %d: maxPatchesPerDay %d: want 0 (default %d) or more", c.fieldLine("maxPatchesPerDay"), c.MaxPatchesPerDay, DefaultMaxPatchesPerDay)
	}
	if c.MaxPatchesPerDay == 0 {
		c.MaxPatchesPerDay = DefaultMaxPatchesPerDay
	}
	if c.NotifyURL != "" && !strings.HasPrefix(c.NotifyURL, "http://") && !strings.HasPrefix(c.NotifyURL, "https://") {
		return fmt.Errorf("line %d: notifyURL %q: want an http(s) URL or empty", c.fieldLine("notifyURL"), c.NotifyURL)
	}
	for i, d := range c.Domains {
		c.Domains[i] = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
		if c.Domains[i] == "" || strings.Contains(c.Domains[i], "@") {
			return fmt.Errorf("line %d: domain %q is not a domain", c.fieldLine("domains"), d)
		}
	}
	for i, s := range c.Secure.Sentinels {
		c.Secure.Sentinels[i] = strings.ToLower(strings.TrimSpace(s))
		if !strings.Contains(s, "@") {
			return fmt.Errorf("line %d: sentinel %q is not an email address", c.fieldLine("secure"), s)
		}
	}
	if len(c.Secure.Rules) > 0 && len(c.Secure.Sentinels) == 0 {
		return fmt.Errorf("line %d: secure rules need at least one sentinel address", c.fieldLine("secure"))
	}

	names := map[string]int{}
	if err := checkRules(c.Rules, "", names); err != nil {
		return err
	}
	if err := checkRules(c.Secure.Rules, "secure.", names); err != nil {
		return err
	}
	// A safe value must not break another rule that applies to the same group, or a patch
	// would fix one finding by opening another. General rules apply to secure groups too;
	// a general rule's safe value may still be one a secure rule calls unsafe, because
	// secure groups get the secure rule's value.
	for _, scope := range [][]Rule{c.Rules, append(append([]Rule{}, c.Rules...), c.Secure.Rules...)} {
		for _, r := range scope {
			for _, o := range scope {
				if o.Field == r.Field && o.Name != r.Name && contains(o.Unsafe, r.Safe) && !(isSecure(o) && !isSecure(r)) {
					return fmt.Errorf("line %d: rule %s sets %s=%s, which rule %s (line %d) calls unsafe", r.Line, r.Name, r.Field, r.Safe, o.Name, o.Line)
				}
			}
		}
	}

	seen := map[string]int{}
	for i := range c.Exemptions {
		e := &c.Exemptions[i]
		e.Group = strings.TrimSpace(e.Group)
		if !e.ByID() {
			e.Group = strings.ToLower(e.Group)
		}
		if e.Group == "" || strings.ContainsAny(e.Group, " \t\r\n/") {
			return fmt.Errorf("line %d: exemption group %q is neither a group email nor a group id", e.Line, e.Group)
		}
		if strings.TrimSpace(e.Reason) == "" {
			return fmt.Errorf("line %d: exemption of %s needs a reason", e.Line, e.Group)
		}
		if l, dup := seen[e.Group]; dup {
			return fmt.Errorf("line %d: %s is already exempted on line %d", e.Line, e.Group, l)
		}
		seen[e.Group] = e.Line
		if e.Expires != "" {
			t, err := parseExpiry(e.Expires)
			if err != nil {
				return fmt.Errorf("line %d: exemption of %s: %w", e.Line, e.Group, err)
			}
			e.until = t
		}
	}
	return nil
}

func isSecure(r Rule) bool { return strings.HasPrefix(r.Name, "secure.") }

func checkRules(rs []Rule, prefix string, names map[string]int) error {
	fields := map[string]int{}
	for i := range rs {
		r := &rs[i]
		if r.Field == "" {
			return fmt.Errorf("line %d: rule needs a field", r.Line)
		}
		if _, ok := Fields[r.Field]; !ok {
			return fmt.Errorf("line %d: unknown Groups Settings field %q", r.Line, r.Field)
		}
		if len(r.Unsafe) == 0 {
			return fmt.Errorf("line %d: rule on %s lists no unsafe values", r.Line, r.Field)
		}
		for _, v := range r.Unsafe {
			if err := CheckValue(r.Field, v); err != nil {
				return fmt.Errorf("line %d: %w", r.Line, err)
			}
		}
		if r.Safe == "" {
			return fmt.Errorf("line %d: rule on %s has no safe value", r.Line, r.Field)
		}
		if err := CheckValue(r.Field, r.Safe); err != nil {
			return fmt.Errorf("line %d: %w", r.Line, err)
		}
		if text, ok := needsText[[2]string{r.Field, r.Safe}]; ok {
			return fmt.Errorf("line %d: %s=%s needs a %s, which a rule cannot supply; choose another safe value", r.Line, r.Field, r.Safe, text)
		}
		if contains(r.Unsafe, r.Safe) {
			return fmt.Errorf("line %d: rule on %s lists its safe value %s as unsafe", r.Line, r.Field, r.Safe)
		}
		if l, dup := fields[r.Field]; dup {
			return fmt.Errorf("line %d: a rule on %s already exists on line %d; merge them", r.Line, r.Field, l)
		}
		fields[r.Field] = r.Line
		if prefix == "" && strings.HasPrefix(r.Name, "secure.") {
			return fmt.Errorf("line %d: rule name %s: the secure. prefix is for rules under secure:", r.Line, r.Name)
		}
		if r.Name == "" {
			r.Name = prefix + r.Field
		} else if prefix != "" && !strings.HasPrefix(r.Name, prefix) {
			r.Name = prefix + r.Name
		}
		if strings.ContainsAny(r.Name, " \t/") {
			return fmt.Errorf("line %d: rule name %q: use letters, digits, '.', '-' and '_'", r.Line, r.Name)
		}
		if l, dup := names[r.Name]; dup {
			return fmt.Errorf("line %d: rule name %s is already used on line %d", r.Line, r.Name, l)
		}
		names[r.Name] = r.Line
	}
	return nil
}

func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.Add(24 * time.Hour), nil // the whole day named is still exempt
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("expires %q: want a date (2026-12-31) or an RFC 3339 time", s)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
