package main

import (
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--project", "p", "--location", "l"}, "--admin-subject"},
		{[]string{"--admin-subject", "a@x.com"}, "--project"},
		{[]string{"--admin-subject", "a@x.com", "--project", "p", "--location", "l", "--resync-every", "2h", "--max-age", "1h"}, "--max-age"},
		{[]string{"--admin-subject", "a@x.com", "--project", "p", "--location", "l", "extra"}, "unexpected"},
		{[]string{"--admin-subject", "a@x.com", "--project", "p", "--location", "l", "--pubsub-topic", "greep-changes"}, "--pubsub-topic"},
		{[]string{"--admin-subject", "a@x.com", "--project", "p", "--location", "l", "--pubsub-topic", "projects//topics/t"}, "--pubsub-topic"},
	} {
		if _, err := parseConfig(c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one naming %s", c.args, err, c.want)
		}
	}
	cfg, err := parseConfig([]string{"--admin-subject", "a@x.com", "--project", "p", "--location", "l", "--workspace", "http://127.0.0.1:1"})
	if err != nil || cfg.Workspace != "http://127.0.0.1:1" || cfg.Customer != "my_customer" {
		t.Fatalf("%+v, %v", cfg, err)
	}
}
