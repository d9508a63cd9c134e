package main

import (
	"testing"

	"github.com/greephq/greep/pkg/wiring/wiringtest"
)

// TestProductionWiringIsLocals fails when this main builds the service otherwise than
// greep local does: other routes, or routes guarded or answering otherwise.
func TestProductionWiringIsLocals(t *testing.T) {
	cfg, err := parseConfig([]string{"--project", "p", "--location", "l"})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := build(wiringtest.Runtime(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	wiringtest.Same(t, svc, wiringtest.Local(t))
}
