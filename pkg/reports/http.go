package reports

import (
	"encoding/json"
	"net/http"

	"go.uber.org/zap"

	"github.com/greephq/greep/pkg/greep"
)

// HeaderCron is set by App Engine on cron requests (and stripped from outside ones).
const HeaderCron = "X-Appengine-Cron"

// onlyCron lets through only App Engine cron requests, and only where App Engine vouches
// for the header. greep local calls Worker.Run instead of the cron path.
func onlyCron(trustAppEngineHeaders bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if trustAppEngineHeaders && r.Header.Get(HeaderCron) == "true" {
				next.ServeHTTP(rw, r)
				return
			}
			writeGoogleError(rw, http.StatusForbidden, "forbidden", "cron endpoints accept only App Engine cron requests")
		})
	}
}

// writeError answers a failed task in Google's error shape. Any non-2xx makes the queue
// retry the task with backoff.
func (w *Worker) writeError(rw http.ResponseWriter, r *http.Request, err error) {
	status, reason := http.StatusInternalServerError, "backendError"
	switch greep.ErrorCode(err) {
	case greep.EINVALID:
		status, reason = http.StatusBadRequest, "invalid"
	case greep.ETOOLARGE:
		status, reason = http.StatusRequestEntityTooLarge, "requestTooLarge"
	}
	w.log.Error("reports: task failed", zap.String("path", r.URL.Path), zap.Int("status", status), zap.Error(err))
	// Task callers are the queue, not people; the cause helps whoever reads the queue's
	// logs, and holds no secret (channel tokens never appear in errors).
	writeGoogleError(rw, status, reason, err.Error())
}

func writeGoogleError(rw http.ResponseWriter, status int, reason, msg string) {
	item := map[string]string{"reason": reason, "message": msg}
	rw.Header().Set("Content-Type", "application/json; charset=UTF-8")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(map[string]any{"error": map[string]any{
		"code": status, "message": msg, "errors": []any{item},
	}})
}
