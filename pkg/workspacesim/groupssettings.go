package workspacesim

import (
	"bytes"
	"net/http"
)

// settingsJSON is a group's Groups Settings resource: every stored field, plus the
// group's own email, name and description.
func settingsJSON(g *group) map[string]string {
	m := g.settings.Map()
	m["kind"] = "groupsSettings#groups"
	m["email"] = g.p.email
	m["name"] = g.name
	m["description"] = g.description
	m["customRolesEnabledForSettingsToBeMerged"] = "false"
	return m
}

// checkAlt refuses the Atom format, which the simulator does not speak (the Go client
// always asks for alt=json).
func checkAlt(c *call) *apiError {
	if alt := c.r.URL.Query().Get("alt"); alt != "" && alt != "json" {
		return badRequest("Invalid value for alt: %q (the simulator serves alt=json only)", alt)
	}
	return nil
}

func (s *Sim) settingsGet(c *call) (any, *apiError) {
	if err := checkAlt(c); err != nil {
		return nil, err
	}
	g, err := s.group(c.st, c.r.PathValue("groupUniqueId"), "groupUniqueId")
	if err != nil {
		return nil, err
	}
	return settingsJSON(g), nil
}

// settingsWrite is PATCH and PUT. The Go client sends only the fields it sets on either,
// so both change the fields present and keep the others. The actor of the activities is
// the caller (the bearer token's user), as on Google.
func (s *Sim) settingsWrite(c *call) (any, *apiError) {
	if err := checkAlt(c); err != nil {
		return nil, err
	}
	g, err := s.group(s.actual, c.r.PathValue("groupUniqueId"), "groupUniqueId")
	if err != nil {
		return nil, err
	}
	var body map[string]any
	if err := decodeJSON(bytes.NewReader(c.body), &body); err != nil {
		return nil, err
	}
	if body == nil {
		return nil, errorf(http.StatusBadRequest, "parseError", "Invalid JSON payload received: a JSON object is expected")
	}
	ch, events, err := s.settingsChange(g, body)
	if err != nil {
		return nil, err
	}
	if len(events) > 0 {
		s.commit(ch, lower(c.user), "admin", events, c.now)
	}
	return settingsJSON(g), nil
}
