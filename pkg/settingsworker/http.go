package settingsworker

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"
	"google.golang.org/api/googleapi"

	"github.com/greephq/greep/pkg/callbudget"
	"github.com/greephq/greep/pkg/queue"
	"github.com/greephq/greep/pkg/tasks"
)

// Handler serves the groupssettings task paths, only to queued tasks, each with a budget
// of one Google API call:
//
//	POST /tasks/groupssettings/get    tasks.SettingsGet
//	POST /tasks/groupssettings/patch  tasks.SettingsPatch
func (w *Worker) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(queue.OnlyTasks(w.cfg.TrustAppEngineHeaders), callbudget.PerTask)
	r.Post(tasks.PathSettingsGet, queue.Handle(w.runner, w.get))
	r.Post(tasks.PathSettingsPatch, queue.Handle(w.runner, w.patch))
	return r
}

// googleMessage is the message of a Google API error, without the client's decoration.
func googleMessage(err error) string {
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Message != "" {
		return ge.Message
	}
	return err.Error()
}
