package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	if _, err := parseConfig([]string{"--project", "p", "--location", "l", "--remediation", "fix"}); err == nil {
		t.Fatal("bad mode accepted")
	}
	if _, err := parseConfig([]string{"--remediation", "detect"}); err == nil || !strings.Contains(err.Error(), "--project") {
		t.Fatalf("missing project: %v", err)
	}
	c, err := parseConfig([]string{"--project", "p", "--location", "l", "--rules", "r.yaml"})
	if err != nil || c.Rules != "r.yaml" || c.Mode != "" {
		t.Fatalf("%+v, %v", c, err)
	}
}

func TestInvalidRulesStopTheServiceWithTheLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte("mode: detect\nrules:\n  - field: whoCanViewGroup\n    unsafe: [EVERYONE]\n    safe: ALL_MEMBERS_CAN_VIEW\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := realMain(context.Background(), []string{"--project", "p", "--location", "l", "--rules", path})
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "EVERYONE") {
		t.Fatalf("err = %v", err)
	}
}

func TestShippedRulesLoad(t *testing.T) {
	// The default --rules path is relative to the module root, where App Engine runs.
	// The rules load; the missing queues file, read next, is what stops it here, before
	// anything connects.
	missing := filepath.Join(t.TempDir(), "queues.yaml")
	err := realMain(context.Background(), []string{"--project", "p", "--location", "l", "--rules", "../../deploy/remediation.yaml", "--queues", missing})
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("err = %v", err)
	}
}
