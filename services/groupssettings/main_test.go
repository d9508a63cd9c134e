package main

import (
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	if _, err := parseConfig([]string{"--project", "p", "--location", "l"}); err == nil || !strings.Contains(err.Error(), "--admin-subject") {
		t.Fatalf("missing subject: %v", err)
	}
	if _, err := parseConfig([]string{"--admin-subject", "a@x.com"}); err == nil || !strings.Contains(err.Error(), "--project") {
		t.Fatalf("missing project: %v", err)
	}
	c, err := parseConfig([]string{"--admin-subject", "a@x.com", "--project", "p", "--location", "l", "--workspace", "http://127.0.0.1:1"})
	if err != nil || c.Workspace != "http://127.0.0.1:1" {
		t.Fatalf("%+v, %v", c, err)
	}
}
