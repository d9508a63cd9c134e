package reports

import (
	"context"
	"fmt"

	"github.com/greephq/greep/pkg/greep"
)

// StateLost is a channel its endpoint no longer knows: it was made for another webhook
// address, or its endpoint forgot it (an embedded simulator restarted from its seed).
// Nothing arrives on it, so the plan creates a successor and the status says so.
const StateLost = "lost"

// ForgetLost marks as lost every live or pending channel that cannot deliver here: those
// made for another webhook address, or every one when endpointRestarted (the endpoint
// holding them started afresh). Without this a restart of greep local keeps channels that
// say "live" while push is dead. It returns how many it marked.
func (w *Worker) ForgetLost(ctx context.Context, endpointRestarted bool) (int, error) {
	n := 0
	_, err := greep.UpdateStateJSON(ctx, w.store, greep.StateChannels, func(chs *[]greep.Channel) error {
		n = 0
		for i := range *chs {
			ch := &(*chs)[i]
			if ch.State != StateLive && ch.State != StatePending {
				continue
			}
			if endpointRestarted || ch.Address != w.address {
				ch.State = StateLost
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("reports: forgetting lost channels: %w", err)
	}
	return n, nil
}
