package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
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
	err := run(context.Background(), Config{Rules: path, Backend: Backend{Project: "p", Location: "l"}}, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "EVERYONE") {
		t.Fatalf("err = %v", err)
	}
}

func TestShippedRulesLoad(t *testing.T) {
	// The default --rules path is relative to the module root, where App Engine runs.
	c, err := parseConfig([]string{"--project", "p", "--location", "l", "--rules", "../../deploy/remediation.yaml", "--queues", "../../queues.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), c, zap.NewNop())
	// The rules load; the store is what stops it here (no Datastore in this test).
	if err == nil || strings.Contains(err.Error(), "line") {
		t.Fatalf("err = %v", err)
	}
}
