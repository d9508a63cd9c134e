package cluster

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
)

// binaryName is the file go build writes a service's main package to.
func binaryName(app *App) string { return filepath.Base(app.Main) }

// Build compiles every service's main package, unchanged, into dir, with one go build
// (the packages share most of their dependencies).
func Build(ctx context.Context, top *Topology, dir string) error {
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, s := range top.Services() {
		rel, err := filepath.Rel(top.Root, top.Apps[s].Main)
		if err != nil {
			return err
		}
		args = append(args, "./"+filepath.ToSlash(rel))
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = top.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the services (go %v): %w\n%s", args, err, out)
	}
	return nil
}
