package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	admin "google.golang.org/api/admin/directory/v1"
	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/pkg/workspace"
	"github.com/greephq/greep/pkg/workspacesim"
)

// scheduled is a change the day scenario makes at a given simulated time, to Greep's
// simulator and the naive poller's alike.
type scheduled struct {
	at  time.Time
	mut workspacesim.Mutation
	chg change
}

// poller is the naive way: every period it crawls the tenant (groups.list, then each
// group's members.list, every page, and, when settings are polled, each group's
// settings), with no cache, no push and no budget. It runs against its own simulator,
// whose clock it drives itself (event by event: a call takes pace of simulated time, the
// 40 calls a second the quota allows, which is the best a poller can do without being
// refused), so a simulated day costs only the calls' own work. Each API has its own
// quota, so the poller reads settings on a stream of its own beside the members: a
// settings read, one per group, takes no time of the members crawl (it never needs more
// than the members stream's pace). A crawl longer than the period is followed by the next
// at once, and the day ends the poll, mid-crawl if need be. The scheduled changes are
// applied to its simulator as its clock passes them, and a change is seen when a call
// that started after it reads the group.
type poller struct {
	srv      *workspacesim.Server
	clients  *workspace.Clients
	period   time.Duration
	pace     time.Duration
	end      time.Time
	members  bool
	settings bool
	// membersOn is set while a crawl reads members: the settings reads then run beside
	// them and take no time of their own.
	membersOn bool

	queue   []scheduled
	pending map[string][]scheduled // by group email
	lags    []time.Duration
	sLags   []time.Duration
	refused int

	// blocked: per API, when the daily limit was first met and how long it kept the
	// poller from reading.
	blockedAt   map[string]time.Time
	blockedFor  map[string]time.Duration
	dailyErrors map[string]int64
	rateErrors  map[string]int64
	crawls      int
	// crawlsDone counts crawls that read every group's members (and settings).
	crawlsDone int
	// crawlCalls is the Directory calls of the first complete crawl.
	crawlCalls int64
}

// naiveDay polls from start for length (crawls starting every period before the end).
func naiveDay(ctx context.Context, o Options, start time.Time, length, period time.Duration, members, settings bool, changes []scheduled) (*Result, error) {
	srv, err := workspacesim.Start(workspacesim.Config{
		Users: o.Users, Groups: o.Groups, Seed: o.Seed, Start: start,
		// The poller drives the clock; the wall clock barely moves it.
		TimeScale:   1e-9,
		QuotaPerDay: dailyQuotas,
	})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	clients, err := workspace.New(ctx, workspace.Config{Endpoint: srv.URL, AdminSubject: srv.Sim.Admin()})
	if err != nil {
		return nil, err
	}
	p := &poller{
		srv: srv, clients: clients, period: period, pace: 25 * time.Millisecond, end: start.Add(length),
		members: members, settings: settings, queue: changes,
		pending:   map[string][]scheduled{},
		blockedAt: map[string]time.Time{}, blockedFor: map[string]time.Duration{}, dailyErrors: map[string]int64{},
		rateErrors: map[string]int64{},
	}
	wall, before := time.Now(), srv.Sim.Stats()
	end := p.end
	for t := start; t.Before(end) && srv.Sim.Now().Before(end); t = t.Add(period) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if now := srv.Sim.Now(); now.Before(t) {
			srv.Sim.Advance(t.Sub(now))
		}
		p.applyDue()
		if err := p.crawl(ctx); err != nil {
			return nil, err
		}
	}
	if now := srv.Sim.Now(); now.Before(end) {
		srv.Sim.Advance(end.Sub(now))
	}
	p.applyDue()
	for api, at := range p.blockedAt {
		// Still blocked at the end of the quota day: blocked until the reset.
		if !at.IsZero() {
			p.blockedFor[api] += end.Sub(at)
		}
	}
	unseen, unseenSettings := 0, 0
	for _, l := range p.pending {
		for _, s := range l {
			if s.chg.field != "" {
				unseenSettings++
			} else {
				unseen++
			}
		}
	}
	d := delta(before, srv.Sim.Stats())
	res := &Result{Scenario: "naive-poll", TimeScale: 0, Calls: d.calls,
		QuotaErrors:      d.rateLimit + d.dailyLimit,
		SimulatedSeconds: round(d.simDuration.Seconds()), WallSeconds: round(time.Since(wall).Seconds())}
	if members {
		res.Freshness = freshnessOf(p.lags, unseen)
	}
	res.Figures = map[string]any{
		"periodSeconds":        period.Seconds(),
		"crawlsWanted":         int(length / period),
		"crawls":               p.crawls,
		"completeCrawls":       p.crawlsDone,
		"dailyLimitExceeded":   d.dailyLimit,
		"rateLimitExceeded":    d.rateLimit,
		"blockedSeconds":       secondsMap(p.blockedFor),
		"dailyQuotaShare":      quotaShares(p.charged(d.calls)),
		"changesRefused":       p.refused,
		"dailyLimitExceededBy": p.dailyErrors,
	}
	if members && p.crawlCalls > 0 {
		// What polling every period would take, had the quota let it.
		wanted := p.crawlCalls * int64(length/period)
		res.Figures["directoryCallsWanted"] = wanted
		res.Figures["directoryCallsWantedShare"] = round4(float64(wanted) / float64(dailyQuotas[workspacesim.APIDirectory]))
	}
	if settings && len(p.sLags)+unseenSettings > 0 {
		res.Figures["settingsFreshness"] = freshnessOf(p.sLags, unseenSettings)
	}
	return res, nil
}

func secondsMap(m map[string]time.Duration) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		out[k] = round(v.Seconds())
	}
	return out
}

// quotaShares is each API's calls as a share of its daily quota. The simulator counts
// refused calls too (they are not charged), so a share is of the calls made: an upper
// bound of the calls charged.
func quotaShares(calls map[string]int64) map[string]float64 {
	out := map[string]float64{}
	for api, limit := range dailyQuotas {
		if n := apiCalls(calls, api); n > 0 {
			out[api] = round4(float64(n) / float64(limit))
		}
	}
	return out
}

// charged is the calls less those refused (which the quota does not charge).
func (p *poller) charged(calls map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range calls {
		out[k] = v
	}
	for api, n := range p.dailyErrors {
		out[api+".refused"] -= n
	}
	for api, n := range p.rateErrors {
		out[api+".refused"] -= n
	}
	return out
}

// applyDue applies the scheduled changes whose time has come.
func (p *poller) applyDue() {
	now := p.srv.Sim.Now()
	for len(p.queue) > 0 && !p.queue[0].at.After(now) {
		s := p.queue[0]
		p.queue = p.queue[1:]
		if err := p.srv.Sim.Apply([]workspacesim.Mutation{s.mut}); err != nil {
			p.refused++
			continue
		}
		// Freshness counts from when the change was made (its scheduled time), however
		// long after it the poller's clock jumped past it.
		p.pending[s.chg.groupEmail] = append(p.pending[s.chg.groupEmail], s)
	}
}

// call makes one API call at the poller's pace: due changes first, then the call, then
// the clock moves on (but for a settings read beside the members crawl). A call refused
// for the short window is retried a second later; a daily limit is returned as errDaily,
// and blocks the API until a call of it succeeds. At the day's end it makes no call and
// returns errDayOver.
func (p *poller) call(api string, do func() error) error {
	for {
		if !p.srv.Sim.Now().Before(p.end) {
			return errDayOver
		}
		p.applyDue()
		err := do()
		if api == workspacesim.APIDirectory || !p.membersOn {
			p.srv.Sim.Advance(p.pace)
		}
		var ge *googleapi.Error
		if errors.As(err, &ge) && ge.Code == 403 && len(ge.Errors) > 0 {
			switch ge.Errors[0].Reason {
			case "userRateLimitExceeded":
				p.rateErrors[api]++
				p.srv.Sim.Advance(time.Second)
				continue
			case "dailyLimitExceeded":
				p.dailyErrors[api]++
				if p.blockedAt[api].IsZero() {
					p.blockedAt[api] = p.srv.Sim.Now()
				}
				return errDaily
			}
		}
		if err == nil && !p.blockedAt[api].IsZero() {
			p.blockedFor[api] += p.srv.Sim.Now().Sub(p.blockedAt[api])
			p.blockedAt[api] = time.Time{}
		}
		return err
	}
}

var (
	errDaily   = errors.New("daily limit exceeded")
	errDayOver = errors.New("the day is over")
)

// seen records the pending changes of a group that a read starting at start shows.
func (p *poller) seen(group string, settings bool, start time.Time) {
	l := p.pending[group]
	rest := l[:0]
	now := p.srv.Sim.Now()
	for _, s := range l {
		if (s.chg.field != "") == settings && !s.at.After(start) {
			if settings {
				p.sLags = append(p.sLags, now.Sub(s.at))
			} else {
				p.lags = append(p.lags, now.Sub(s.at))
			}
			continue
		}
		rest = append(rest, s)
	}
	p.pending[group] = rest
}

// crawl reads the whole tenant once. A daily limit ends that API's part of the crawl:
// the poller tries again at its next period.
func (p *poller) crawl(ctx context.Context) error {
	p.crawls++
	dir, gs := p.clients.Directory, p.clients.Settings
	callsAtStart := p.srv.Sim.Stats().Calls
	defer func() { p.membersOn = false }()
	var groups []*admin.Group
	tok := ""
	for {
		var r *admin.Groups
		err := p.call(workspacesim.APIDirectory, func() (err error) {
			r, err = dir.Groups.List().Customer("my_customer").MaxResults(200).PageToken(tok).Context(ctx).Do()
			return err
		})
		if errors.Is(err, errDaily) || errors.Is(err, errDayOver) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("groups.list: %w", err)
		}
		groups = append(groups, r.Groups...)
		if tok = r.NextPageToken; tok == "" {
			break
		}
	}
	membersOK, settingsOK := p.members, p.settings
	for _, g := range groups {
		p.membersOn = membersOK
		if membersOK {
			start := p.srv.Sim.Now()
			tok := ""
			for {
				var r *admin.Members
				err := p.call(workspacesim.APIDirectory, func() (err error) {
					r, err = dir.Members.List(g.Id).MaxResults(200).PageToken(tok).Context(ctx).Do()
					return err
				})
				if errors.Is(err, errDaily) {
					membersOK = false
					break
				}
				if errors.Is(err, errDayOver) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("members.list %s: %w", g.Email, err)
				}
				if tok = r.NextPageToken; tok == "" {
					p.seen(g.Email, false, start)
					break
				}
			}
		}
		if settingsOK {
			start := p.srv.Sim.Now()
			err := p.call(workspacesim.APIGroupsSettings, func() error {
				_, err := gs.Groups.Get(g.Email).Context(ctx).Do()
				return err
			})
			switch {
			case errors.Is(err, errDayOver):
				return nil
			case errors.Is(err, errDaily):
				settingsOK = false
			case err != nil:
				return fmt.Errorf("groupssettings get %s: %w", g.Email, err)
			default:
				p.seen(g.Email, true, start)
			}
		}
	}
	if membersOK == p.members && settingsOK == p.settings {
		p.crawlsDone++
		if p.crawlCalls == 0 {
			after := p.srv.Sim.Stats().Calls
			for k, v := range after {
				if strings.HasPrefix(k, workspacesim.APIDirectory+".") {
					p.crawlCalls += v - callsAtStart[k]
				}
			}
		}
	}
	return nil
}
