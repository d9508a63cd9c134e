package api

import "net/http"

func (s *server) dashboard(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "todo", http.StatusNotImplemented)
}
