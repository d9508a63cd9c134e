package remediation

import (
	"testing"
	"time"

	"github.com/greephq/greep/pkg/queueconfig"
	"github.com/greephq/greep/pkg/rules"
)

// The origin's tenant, with the shipped queues.yaml and rules: a day's sweep must fit the
// Groups Settings daily quota with room left for push work. docs/remediation.md quotes
// these figures.
func TestOriginTenantSweepFitsTheDailyQuota(t *testing.T) {
	q, err := queueconfig.Load("../../queues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rules.LoadFile("../../deploy/remediation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := PlanBudget(queueconfig.DefaultGroups, q, rc, 200)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", b)
	if !b.Fits || b.Reads != 45000 || b.Reads > b.SweepCap || b.Reads+b.MaxPatches >= b.DailyLimit {
		t.Fatalf("the origin tenant's sweep does not fit: %+v", b)
	}
	if b.SweepDuration > 2*time.Hour || b.SliceEvery <= 0 {
		t.Fatalf("sweep takes %v, slices every %v", b.SweepDuration, b.SliceEvery)
	}
	// A scaled config (greep local --time-scale 60) plans the same day.
	scaled, err := q.WithScale(60)
	if err != nil {
		t.Fatal(err)
	}
	bs, _ := PlanBudget(queueconfig.DefaultGroups, scaled, rc, 200)
	if bs.SweepDuration != b.SweepDuration || bs.SliceEvery != b.SliceEvery {
		t.Fatalf("scaled plan differs: %+v vs %+v", bs, b)
	}
	// A tenant too big for the sweep lane's share is reported, not hidden.
	if big, _ := PlanBudget(90000, q, rc, 200); big.Fits {
		t.Fatalf("90,000 groups cannot fit a 60,000 sweep cap: %+v", big)
	}
}
