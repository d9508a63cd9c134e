package wiring_test

import (
	"strings"
	"testing"

	"github.com/greephq/greep/pkg/wiring"
)

// TopicProject accepts exactly projects/P/topics/T with both parts non-empty, and never
// panics.
func FuzzTopicProject(f *testing.F) {
	for _, s := range []string{"projects/p/topics/t", "greep-changes", "projects//topics/t", "projects/p/topics/", "projects/p/subscriptions/s", "projects/p/topics/t/x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		p, err := wiring.TopicProject(topic)
		if err != nil {
			return
		}
		if p == "" || topic != "projects/"+p+"/topics/"+strings.TrimPrefix(topic, "projects/"+p+"/topics/") || strings.Count(topic, "/") != 3 || strings.HasSuffix(topic, "/") {
			t.Fatalf("TopicProject(%q) = %q", topic, p)
		}
	})
}
