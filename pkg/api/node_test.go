package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/greephq/greep/pkg/greep"
)

// nodeClient installs testdata/node (Google's googleapis package) once into the user
// cache, keyed by its package.json, and returns the directory to run list.js in.
func nodeClient(t *testing.T) string {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("npm is required on CI")
		}
		t.Skip("npm not installed")
	}
	pkg, err := os.ReadFile("testdata/node/package.json")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("testdata/node/list.js")
	if err != nil {
		t.Fatal(err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256(pkg)
	dir := filepath.Join(cache, "greep-node-client-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "googleapis", "package.json")); err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "package.json"), pkg, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("npm install googleapis into %s (once)", dir)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm install: %v\n%s", err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "list.js"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

type nodeListing struct {
	Groups     []map[string]any            `json:"groups"`
	GroupPages int                         `json:"groupPages"`
	Members    map[string][]map[string]any `json:"members"`
	Errors     map[string]map[string]any   `json:"errors"`
}

func runNode(t *testing.T, dir, rootURL, token string, groups []string) nodeListing {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "list.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ROOT_URL="+rootURL, "TOKEN="+token, "GROUPS_PAGE=61", "MEMBERS_PAGE=47", "MEMBER_GROUPS="+strings.Join(groups, ","))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node list.js against %s: %v\n%s", rootURL, err, stderr.String())
	}
	var l nodeListing
	if err := json.Unmarshal(out, &l); err != nil {
		t.Fatalf("node output: %v\n%s", err, out)
	}
	return l
}

// TestNodeClient pages groups and members with Google's Node.js client (googleapis,
// rootUrl) through Greep and directly against the simulator: the answers are the same.
func TestNodeClient(t *testing.T) {
	dir := nodeClient(t)
	e := newEnv(t, 300, 400)
	var biggest, nesting string
	n := 0
	for _, g := range e.truth.Groups {
		if len(g.Members) > n {
			biggest, n = g.Email, len(g.Members)
		}
		for _, m := range g.Members {
			if m.Type == greep.TypeGroup && nesting == "" {
				nesting = g.Email
			}
		}
	}
	groups := []string{biggest, nesting}
	viaGreep := runNode(t, dir, e.greep.URL, apiToken, groups)
	direct := runNode(t, dir, e.sim.URL, e.sim.Sim.Admin(), groups)

	if len(viaGreep.Groups) != len(e.truth.Groups) || viaGreep.GroupPages != (len(e.truth.Groups)+60)/61 {
		t.Fatalf("Node paged %d groups in %d pages through Greep; the tenant has %d", len(viaGreep.Groups), viaGreep.GroupPages, len(e.truth.Groups))
	}
	if !reflect.DeepEqual(viaGreep.Groups, direct.Groups) {
		for i := range viaGreep.Groups {
			if i < len(direct.Groups) && !reflect.DeepEqual(viaGreep.Groups[i], direct.Groups[i]) {
				t.Fatalf("group %d differs:\n greep %v\n   sim %v", i, viaGreep.Groups[i], direct.Groups[i])
			}
		}
		t.Fatalf("groups differ: %d vs %d", len(viaGreep.Groups), len(direct.Groups))
	}
	for _, g := range groups {
		if len(viaGreep.Members[g]) == 0 || !reflect.DeepEqual(viaGreep.Members[g], direct.Members[g]) {
			t.Errorf("members of %s differ: greep %d, simulator %d", g, len(viaGreep.Members[g]), len(direct.Members[g]))
		}
	}
	if len(viaGreep.Members[biggest]) <= 47 {
		t.Errorf("the biggest group has %d members: paging not exercised", len(viaGreep.Members[biggest]))
	}
	if nf := viaGreep.Errors["notFound"]; nf["code"] != float64(404) || nf["reason"] != "notFound" {
		t.Errorf("unknown group through Node: %v", nf)
	}
	if mr := viaGreep.Errors["maxResults"]; mr["code"] != float64(400) {
		t.Errorf("maxResults 201 through Node: %v", mr)
	}
}
