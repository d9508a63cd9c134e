package main

import (
	"testing"

	"github.com/greephq/greep/pkg/wiring/wiringtest"
)

// TestProductionWiringIsLocals fails when this main builds the service otherwise than
// greep local does: other routes, or routes guarded or answering otherwise.
func TestProductionWiringIsLocals(t *testing.T) {
	cfg, err := parseConfig([]string{"--admin-subject", "a@x.com", "--project", "p", "--location", "l", "--rules", wiringtest.RulesFile()})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfg.RulesFile.Load()
	if err != nil {
		t.Fatal(err)
	}
	svc, err := build(wiringtest.Runtime(t), cfg, rc)
	if err != nil {
		t.Fatal(err)
	}
	wiringtest.Same(t, svc, wiringtest.Local(t))
}
