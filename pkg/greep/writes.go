package greep

// WriteStats is what a store has written since it was opened: its write transactions
// (bbolt Update calls, Datastore commits), and what they wrote in the store's own unit:
// Datastore's billed entity writes (mutations), bbolt's pages written to the file.
type WriteStats struct {
	Transactions int64 `json:"transactions"`
	EntityWrites int64 `json:"entityWrites,omitempty"`
	PageWrites   int64 `json:"pageWrites,omitempty"`
}
