// Package syncplan is the directory worker's planning, free of I/O: which task comes next in
// a sweep and what it is called, which groups a resync refreshes, how far a sync has come
// and when it will end, how an upstream error is handled, and whether a refresh shows what a
// push event announced. Everything here is a pure function of its arguments, so the rules
// are tested without a server and the worker only carries them out.
package syncplan

import (
	"strconv"

	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/tasks"
)

// Page sizes: the most Google serves per page, so a sweep costs the fewest calls.
const (
	GroupsPageSize  = 200
	MembersPageSize = 200
	UsersPageSize   = 500
)

// Sweep modes. A full sync re-reads every group's members; a resync reads only groups.list
// and the members of groups that changed or are due.
const (
	ModeFull   = "full-sync"
	ModeResync = "resync"
)

// GroupsPageName names the task that reads one groups.list page of a sweep. The name is
// derived from the sweep's generation and the page token, so a page re-enqueued by a retry
// or a restart is refused as a duplicate instead of being read twice.
func GroupsPageName(generation int64, pageToken string) string {
	return tasks.Name("groups", strconv.FormatInt(generation, 10), pageToken)
}

// UsersPageName names the task that reads one users.list page of a full sync.
func UsersPageName(generation int64, pageToken string) string {
	return tasks.Name("users", strconv.FormatInt(generation, 10), pageToken)
}

// MembersPageName names the task that reads one members.list page of one run (a run is one
// read of one group's whole member list).
func MembersPageName(run, pageToken string) string {
	return tasks.Name("members", run, pageToken)
}

// FinishName names the task that closes a sweep; one per generation.
func FinishName(generation int64) string {
	return tasks.Name("finish", strconv.FormatInt(generation, 10))
}

// SweepRun identifies the member run of one group within a sweep, so a group's pages of
// one sweep are staged apart from a push refresh of the same group running at the same time.
func SweepRun(generation int64, groupID string) string {
	return "g" + strconv.FormatInt(generation, 10) + "-" + groupID
}

// Reissued names the copy of a task that a stalled sweep re-issues in its round-th
// recovery. The copy cannot take the lost task's name: Cloud Tasks refuses a name for
// hours after its task ran or was deleted.
func Reissued(name string, round int64) string {
	return name + "-r" + strconv.FormatInt(round, 10)
}

// ReissuedRun identifies a group's member run re-issued by a stalled sweep's round-th
// recovery: apart from the lost run's, so the two never share staged pages should the
// lost one turn up after all.
func ReissuedRun(generation int64, groupID string, round int64) string {
	return SweepRun(generation, groupID) + "~r" + strconv.FormatInt(round, 10)
}

// NeedsMembers reports whether reading a group's members costs a call. A group with no
// direct members has an empty snapshot, known without asking.
func NeedsMembers(g greep.Group) bool { return g.DirectMembersCount > 0 }

// MemberCalls is the number of members.list calls a full read of the group costs: one per
// page of 200, none for an empty group.
func MemberCalls(directMembers int64) int64 {
	if directMembers <= 0 {
		return 0
	}
	return (directMembers + MembersPageSize - 1) / MembersPageSize
}

// FullSyncCalls is what a full sync of groups (as groups.list lists them) and users costs
// in Directory calls, by method.
func FullSyncCalls(groups []greep.Group, users int) map[string]int64 {
	calls := map[string]int64{
		"directory.groups.list":  pages(int64(len(groups)), GroupsPageSize),
		"directory.members.list": 0,
		"directory.users.list":   pages(int64(users), UsersPageSize),
	}
	for _, g := range groups {
		calls["directory.members.list"] += MemberCalls(g.DirectMembersCount)
	}
	return calls
}

// pages is how many pages of size n items fill; an empty listing still costs one call.
func pages(n, size int64) int64 {
	if n == 0 {
		return 1
	}
	return (n + size - 1) / size
}
