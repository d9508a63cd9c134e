package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"

	bbolt "go.etcd.io/bbolt"
	"golang.org/x/time/rate"
	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/pkg/directory"
)

// Floor is the least a full sync can cost: the same groups.list and members.list pages
// Greep reads, fetched over HTTP one after another, decoded, and written to bbolt in one
// transaction a page; no queue, no quota guard, no change feed, no markers. Greep's CPU
// per call is judged against it (the floor scenario).
type Floor struct {
	// Base is the simulator's URL; Subject the admin the calls impersonate.
	Base, Subject string
	// Dir holds the floor's bbolt file.
	Dir    string
	Client *http.Client
	// Pace, when set, holds the calls to its rate, as Greep's lanes hold its calls: the
	// paced floor, which shows what waiting between calls costs a process that does
	// nothing else (timers, parked goroutines, idle threads woken).
	Pace *rate.Limiter
	// Batch is how many calls go on one wake-up when paced (default 1), as a background
	// lane of Greep's dispatches its tasks in batches: the floor waits for Batch tokens,
	// then makes Batch calls back to back.
	Batch int

	paced int // calls made since the last wait
}

// FloorRun is what one floor run did.
type FloorRun struct {
	Calls        int64 // API calls made
	Transactions int64 // bbolt write transactions
	Members      int64 // memberships stored
}

// floorMember and floorGroup are the fields of a members.list or groups.list page the
// floor asks for and keeps: what Greep asks for and keeps (directory.MemberFields and
// GroupFields), so that both read the same pages.
type floorMember struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Role   string `json:"role"`
	Type   string `json:"type"`
	Status string `json:"status"`
}

type floorGroup struct {
	ID                 string   `json:"id"`
	Email              string   `json:"email"`
	Name               string   `json:"name"`
	Description        string   `json:"description,omitempty"`
	DirectMembersCount int64    `json:"directMembersCount,string"`
	Aliases            []string `json:"aliases,omitempty"`
	NonEditableAliases []string `json:"nonEditableAliases,omitempty"`
	ETag               string   `json:"etag"`
}

type floorPage struct {
	Members       []floorMember `json:"members"`
	Groups        []floorGroup  `json:"groups"`
	NextPageToken string        `json:"nextPageToken"`
}

// decodeFloorPage decodes one Directory list page (the floor's parser; fuzzed).
func decodeFloorPage(b []byte) (floorPage, error) {
	var p floorPage
	if err := json.Unmarshal(b, &p); err != nil {
		return floorPage{}, fmt.Errorf("decoding a page: %w", err)
	}
	return p, nil
}

var (
	floorGroups  = []byte("groups")
	floorMembers = []byte("members")

	floorGroupFields  = googleapi.CombineFields(directory.GroupFields)
	floorMemberFields = googleapi.CombineFields(directory.MemberFields)
)

// Run lists every group and every non-empty group's members, as a full sync does.
func (f *Floor) Run(ctx context.Context) (FloorRun, error) {
	var run FloorRun
	db, err := bbolt.Open(filepath.Join(f.Dir, "floor.db"), 0o600, nil)
	if err != nil {
		return run, fmt.Errorf("floor: %w", err)
	}
	defer db.Close()
	var groups []floorGroup
	tok := ""
	for {
		p, err := f.get(ctx, "/admin/directory/v1/groups", url.Values{"customer": {"my_customer"}, "maxResults": {"200"}, "pageToken": {tok}, "fields": {floorGroupFields}})
		if err != nil {
			return run, err
		}
		run.Calls++
		if err := f.write(db, &run, floorGroups, func(b *bbolt.Bucket) error {
			for _, g := range p.Groups {
				v, err := json.Marshal(g)
				if err != nil {
					return err
				}
				if err := b.Put([]byte(g.ID), v); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return run, err
		}
		groups = append(groups, p.Groups...)
		if tok = p.NextPageToken; tok == "" {
			break
		}
	}
	for _, g := range groups {
		if g.DirectMembersCount == 0 {
			continue
		}
		tok := ""
		for page := 0; ; page++ {
			p, err := f.get(ctx, "/admin/directory/v1/groups/"+url.PathEscape(g.ID)+"/members", url.Values{"maxResults": {"200"}, "pageToken": {tok}, "fields": {floorMemberFields}})
			if err != nil {
				return run, err
			}
			run.Calls++
			run.Members += int64(len(p.Members))
			if err := f.write(db, &run, floorMembers, func(b *bbolt.Bucket) error {
				v, err := json.Marshal(p.Members)
				if err != nil {
					return err
				}
				return b.Put(fmt.Appendf(nil, "%s/%06d", g.ID, page), v)
			}); err != nil {
				return run, err
			}
			if tok = p.NextPageToken; tok == "" {
				break
			}
		}
	}
	return run, nil
}

func (f *Floor) write(db *bbolt.DB, run *FloorRun, bucket []byte, fn func(b *bbolt.Bucket) error) error {
	run.Transactions++
	return db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return fn(b)
	})
}

// pace waits for a batch of tokens before every batch of calls.
func (f *Floor) pace(ctx context.Context) error {
	n := max(1, f.Batch)
	if f.paced%n == 0 {
		if err := f.Pace.WaitN(ctx, n); err != nil {
			return fmt.Errorf("floor: %w", err)
		}
	}
	f.paced++
	return nil
}

func (f *Floor) get(ctx context.Context, path string, q url.Values) (floorPage, error) {
	if f.Pace != nil {
		if err := f.pace(ctx); err != nil {
			return floorPage{}, err
		}
	}
	if q.Get("pageToken") == "" {
		q.Del("pageToken")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.Base+path+"?"+q.Encode(), nil)
	if err != nil {
		return floorPage{}, err
	}
	req.Header.Set("Authorization", "Bearer "+f.Subject)
	c := f.Client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		return floorPage{}, fmt.Errorf("floor: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return floorPage{}, fmt.Errorf("floor: %s: %w", path, err)
	}
	if res.StatusCode != http.StatusOK {
		return floorPage{}, fmt.Errorf("floor: %s: %s: %.200s", path, res.Status, b)
	}
	return decodeFloorPage(b)
}
