package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	t.Setenv("GOOGLE_CLOUD_PROJECT", "")
	t.Setenv("GREEP_PUSH_ADDRESS", "")
	t.Setenv("GREEP_ADMIN_SUBJECT", "")
	base := []string{"--project", "p", "--location", "l", "--admin-subject", "a@x.com"}
	if _, err := parseConfig(base); err == nil || !strings.Contains(err.Error(), "--push-address") {
		t.Errorf("missing push address: %v", err)
	}
	withAddr := append(base, "--push-address", "https://push.example.com/push/notify")
	if _, err := parseConfig(append(withAddr, "--channel-lifetime", "forever")); err == nil {
		t.Errorf("a bad lifetime was accepted")
	}
	if _, err := parseConfig(append(withAddr, "--debounce", "0s")); err == nil || !strings.Contains(err.Error(), "--debounce") {
		t.Errorf("a zero debounce: %v", err)
	}
	c, err := parseConfig(withAddr)
	if err != nil || c.Lifetime != 6*time.Hour || c.Debounce != 2*time.Minute || c.Address != "https://push.example.com/push/notify" {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	if _, err := parseConfig([]string{"--push-address", "https://x/push/notify", "--admin-subject", "a@x.com"}); err == nil || !strings.Contains(err.Error(), "--project") {
		t.Errorf("missing project: %v", err)
	}
	if _, err := parseConfig([]string{"--push-address", "https://x/push/notify", "--project", "p", "--location", "l"}); err == nil || !strings.Contains(err.Error(), "--admin-subject") {
		t.Errorf("missing admin subject: %v", err)
	}
}
