// Package push is the webhook the Reports API's watch channels deliver to (services/push,
// POST /push/notify). It checks that a notification comes from a live channel Greep
// created, with that channel's secret token, records the activity in the change history
// and turns it into debounced work for the workers: a refresh of each affected group and,
// for settings changes, a settings read. It answers from the store and the queue only and
// never calls Google, so it stays fast under a burst.
package push

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/activity"
	"github.com/greephq/greep/pkg/googleerror"
	"github.com/greephq/greep/pkg/greep"
	"github.com/greephq/greep/pkg/queue"
)

// Path is where the webhook listens; the reports worker gives it (behind the public
// address) to every channel it creates.
const Path = "/push/notify"

// Headers of a push notification (Reports API push guide).
const (
	HeaderChannelID         = "X-Goog-Channel-ID"
	HeaderChannelToken      = "X-Goog-Channel-Token"
	HeaderChannelExpiration = "X-Goog-Channel-Expiration"
	HeaderMessageNumber     = "X-Goog-Message-Number"
	HeaderResourceID        = "X-Goog-Resource-ID"
	HeaderResourceState     = "X-Goog-Resource-State"
	HeaderResourceURI       = "X-Goog-Resource-URI"
)

// ResourceStateSync is the resource state of the message every new channel gets first.
const ResourceStateSync = "sync"

// MaxBody is the largest notification body accepted. One activity is a few kilobytes.
const MaxBody = 1 << 20

// DefaultDebounce is how long a group's refresh waits for more events on it.
const DefaultDebounce = 2 * time.Minute

// Channel states the webhook accepts notifications for (see greep.Channel). A channel is
// "pending" while the reports worker's watch call is in flight: Google may send the sync
// message, and events, before that call returns.
const (
	channelLive    = "live"
	channelPending = "pending"
)

// Store is what the webhook needs of the cache.
type Store interface {
	greep.StateStore // the channels, and the debounce markers
	AddEvents(ctx context.Context, events []greep.Event) (added int, err error)
}

// Config tunes the webhook.
type Config struct {
	// Debounce is the window over which events on one group make one refresh
	// (DefaultDebounce when zero).
	Debounce time.Duration
	// Now is the clock. It must be the clock the queue schedules by and the reports worker
	// sets channel expirations by (the simulated clock in greep local). Default time.Now.
	Now func() time.Time
	// Log gets refused notifications (warn) and failures (error). Default: no logs.
	Log *zap.Logger
	// Observer hears every notification's outcome (pkg/metrics); optional.
	Observer Observer
	// Provisional applies each new notification's membership events to the cache at
	// once (pkg/provisional); optional. Without it readers wait for the debounced read.
	Provisional Applier
}

// Applier applies events' effect to the cache before Google's read confirms it, without
// holding up the answer (it logs what fails).
type Applier interface {
	Apply(ctx context.Context, events []greep.Event)
}

// Observer is told the outcome of every notification: "accepted" (reason ""), "refused"
// (reason: the Google error reason answered, e.g. "forbidden", "notFound") or "failed"
// (a 5xx, Google redelivers). Channel is the X-Goog-Channel-ID header as sent.
type Observer interface {
	ObserveNotification(channel, outcome, reason string)
}

// Handler is the webhook. It is an http.Handler for Path.
type Handler struct {
	store    Store
	log      *zap.Logger
	observer Observer
	applier  Applier
	now      func() time.Time
	debounce debouncer
}

// New returns the webhook.
func New(store Store, q queue.Enqueuer, cfg Config) *Handler {
	if cfg.Debounce <= 0 {
		cfg.Debounce = DefaultDebounce
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	return &Handler{
		store:    store,
		log:      cfg.Log,
		observer: cfg.Observer,
		applier:  cfg.Provisional,
		now:      cfg.Now,
		debounce: debouncer{store: store, queue: q, window: cfg.Debounce, now: cfg.Now},
	}
}

// refusal is a notification turned away with a 4xx: Google does not retry those.
type refusal struct {
	status int
	reason string
	msg    string
}

func refuse(status int, reason, format string, args ...any) *refusal {
	return &refusal{status: status, reason: reason, msg: fmt.Sprintf(format, args...)}
}

// ServeHTTP handles one notification.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		googleerror.Write(w, http.StatusMethodNotAllowed, "httpMethodNotAllowed", "push notifications are POSTed")
		return
	}
	added, err := h.notify(r)
	var rf *refusal
	h.observe(r, err)
	switch {
	case errors.As(err, &rf):
		h.log.Warn("push notification refused",
			zap.String("channel", r.Header.Get(HeaderChannelID)),
			zap.String("remote", r.RemoteAddr),
			zap.Int("status", rf.status),
			zap.String("reason", rf.msg))
		googleerror.Write(w, rf.status, rf.reason, rf.msg)
	case err != nil:
		// A 5xx makes Google redeliver; everything done so far is idempotent.
		h.log.Error("push notification failed", zap.String("channel", r.Header.Get(HeaderChannelID)), zap.Error(err))
		googleerror.WriteErr(w, err)
	default:
		h.log.Debug("push notification", zap.String("channel", r.Header.Get(HeaderChannelID)),
			zap.String("state", r.Header.Get(HeaderResourceState)), zap.Int("added", added))
		w.WriteHeader(http.StatusOK)
	}
}

func (h *Handler) observe(r *http.Request, err error) {
	if h.observer == nil {
		return
	}
	channel := r.Header.Get(HeaderChannelID)
	var rf *refusal
	switch {
	case errors.As(err, &rf):
		h.observer.ObserveNotification(channel, "refused", rf.reason)
	case err != nil:
		h.observer.ObserveNotification(channel, "failed", "backendError")
	default:
		h.observer.ObserveNotification(channel, "accepted", "")
	}
}

// notify checks, records and schedules one notification and returns how many events were
// new. It returns a *refusal for anything the sender got wrong; before the checks pass it
// stores and enqueues nothing.
func (h *Handler) notify(r *http.Request) (int, error) {
	hd := r.Header
	for _, name := range []string{HeaderChannelID, HeaderChannelToken, HeaderResourceState, HeaderMessageNumber, HeaderResourceID} {
		if hd.Get(name) == "" {
			return 0, refuse(http.StatusBadRequest, "required", "missing header %s", name)
		}
	}
	if _, err := strconv.ParseUint(hd.Get(HeaderMessageNumber), 10, 64); err != nil {
		return 0, refuse(http.StatusBadRequest, "invalid", "header %s is not a message number", HeaderMessageNumber)
	}
	if r.ContentLength > MaxBody {
		return 0, refuse(http.StatusRequestEntityTooLarge, "requestTooLarge", "body of %d bytes is over %d", r.ContentLength, MaxBody)
	}

	ch, err := h.channel(r.Context(), hd.Get(HeaderChannelID))
	if err != nil {
		return 0, err
	}
	if ch.Token == "" || subtle.ConstantTimeCompare([]byte(hd.Get(HeaderChannelToken)), []byte(ch.Token)) != 1 {
		return 0, refuse(http.StatusForbidden, "forbidden", "wrong token for channel %s", ch.ID)
	}
	if ch.ResourceID != "" && hd.Get(HeaderResourceID) != ch.ResourceID {
		return 0, refuse(http.StatusForbidden, "forbidden", "resource id does not match channel %s", ch.ID)
	}

	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return 0, refuse(http.StatusRequestEntityTooLarge, "requestTooLarge", "body is over %d bytes", MaxBody)
	}
	if err != nil {
		return 0, refuse(http.StatusBadRequest, "invalid", "reading body: %v", err)
	}
	if hd.Get(HeaderResourceState) == ResourceStateSync {
		return 0, nil
	}

	events, err := activity.Parse(body)
	if err != nil {
		return 0, refuse(http.StatusBadRequest, "parseError", "%s", greep.ErrorMessage(err))
	}
	if app := events[0].Application; ch.Application != "" && app != ch.Application {
		return 0, refuse(http.StatusBadRequest, "invalid", "activity of application %q on the %q channel", app, ch.Application)
	}

	return h.Record(r.Context(), events)
}

// earliest is the time of the first of events on group (zero if none names it).
func earliest(events []greep.Event, group string) time.Time {
	var t time.Time
	for _, e := range events {
		if strings.EqualFold(e.Group, group) && !e.Time.IsZero() && (t.IsZero() || e.Time.Before(t)) {
			t = e.Time
		}
	}
	return t
}

// channel finds the live channel id names.
func (h *Handler) channel(ctx context.Context, id string) (greep.Channel, error) {
	var channels []greep.Channel
	if _, err := greep.LoadState(ctx, h.store, greep.StateChannels, &channels); err != nil {
		return greep.Channel{}, fmt.Errorf("loading channels: %w", err)
	}
	for _, ch := range channels {
		if ch.ID != id {
			continue
		}
		if (ch.State != channelLive && ch.State != channelPending) || !h.now().Before(ch.Expiration) {
			return greep.Channel{}, refuse(http.StatusNotFound, "notFound", "channel %s is not live", id)
		}
		return ch, nil
	}
	return greep.Channel{}, refuse(http.StatusNotFound, "notFound", "unknown channel %s", id)
}

func (r *refusal) Error() string { return r.msg }
