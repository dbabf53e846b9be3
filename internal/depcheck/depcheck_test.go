package depcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"sort"
	"strings"
	"testing"
)

// pkg is what `go list -json` says of one package of the module.
type pkg struct {
	ImportPath string
	Name       string
	Imports    []string // direct, without test files
	Deps       []string // transitive, without test files
}

// rule is one constraint on the import graph. Paths are relative to the
// module ("stage0/run"); a pattern "x/..." matches x and everything under it.
type rule struct {
	name   string
	reason string
	// check returns one line per violation.
	check func(g *graph) []string
}

var rules = []rule{
	{
		name:   "stage0 links no stage1 package",
		reason: "stage0 and stage1 are separate binaries that meet only at the contract in common/; a grammar both need lives in common/",
		check:  func(g *graph) []string { return g.noDeps("stage0/...", "stage1/...") },
	},
	{
		name:   "stage1 links no stage0 package",
		reason: "stage1 is a separate image chosen per pod; it reads the pod directory through common/, never stage0's libraries",
		check:  func(g *graph) []string { return g.noDeps("stage1/...", "stage0/...") },
	},
	{
		name:   "the rkt binary links no stage1 package",
		reason: "cgroups, BPF, seccomp tables and netlink are stage1's machinery; rkt validates with the grammar in common/",
		check:  func(g *graph) []string { return g.noDeps("rkt", "stage1/...") },
	},
	{
		name:   "the rkt binary links no netlink or CNI",
		reason: "networking is set up inside stage1; rkt only parses --net (common/netspec)",
		check: func(g *graph) []string {
			return g.noExternalDeps("rkt", "github.com/vishvananda/", "github.com/containernetworking/")
		},
	},
	{
		name:   "the rkt binary links no gRPC",
		reason: "grpc's and protobuf's package inits cost every rkt command about 170 page faults (Documentation/devel/libraries.md); the api-service is the rkt-api-service binary, which rkt api-service execs",
		check: func(g *graph) []string {
			return g.noExternalDeps("rkt", "google.golang.org/grpc", "google.golang.org/protobuf")
		},
	},
	{
		name:   "nothing imports rkt",
		reason: "rkt is package main, a thin command line over the libraries",
		check:  func(g *graph) []string { return g.noImports("...", "rkt/...") },
	},
	{
		name:   "common imports only common",
		reason: "common/ is the stage0/stage1 contract and shared primitives: it must not pull either stage, the store or the API into the other",
		check: func(g *graph) []string {
			var out []string
			for _, p := range g.match("common/...") {
				for _, imp := range g.own(p.Imports) {
					if !matches(imp, "common/...") {
						out = append(out, p.rel()+" imports "+imp)
					}
				}
			}
			return out
		},
	},
	{
		name:   "every common package serves more than one part",
		reason: "common/ holds the contract and primitives shared across the tree; a package only one stage (or only tests) uses belongs to that stage (or internal/)",
		check: func(g *graph) []string {
			parts := map[string]string{"rkt/...": "stage0", "stage0/...": "stage0", "stage1/...": "stage1", "store/...": "store"}
			users := map[string]map[string]bool{}
			for _, p := range g.pkgs {
				for pattern, part := range parts {
					if !matches(p.ImportPath, pattern) {
						continue
					}
					for _, d := range g.own(p.Deps) {
						if users[d] == nil {
							users[d] = map[string]bool{}
						}
						users[d][part] = true
					}
				}
			}
			var out []string
			for _, p := range g.match("common/...") {
				if n := len(users[p.ImportPath]); n < 2 {
					out = append(out, fmt.Sprintf("%s is linked by %d of stage0, stage1 and store", p.rel(), n))
				}
			}
			return out
		},
	},
	{
		name:   "store links no stage",
		reason: "the image store is a library under stage0; it must stay usable without either stage's code",
		check: func(g *graph) []string {
			return append(g.noDeps("store/...", "stage0/..."), g.noDeps("store/...", "stage1/...")...)
		},
	},
	{
		name:   "stage1 binaries link no stage0 and no store",
		reason: "the stage1 image carries its own binaries; the store and fetch pipeline belong to the host's rkt",
		check: func(g *graph) []string {
			var out []string
			for _, bin := range []string{"stage1/nspawn", "stage1/supervisor", "stage1/fly"} {
				out = append(out, g.noDeps(bin, "stage0/...")...)
				out = append(out, g.noDeps(bin, "store/...")...)
			}
			return out
		},
	},
	{
		name:   "no grab-bag packages",
		reason: "one package per concept, named for it (STYLE.md 1)",
		check: func(g *graph) []string {
			var out []string
			for _, p := range g.pkgs {
				switch strings.ToLower(path.Base(p.ImportPath)) {
				case "util", "utils", "misc", "helpers", "helper", "common":
					if p.rel() != "common" {
						out = append(out, p.rel()+" is named for no concept")
					}
				}
			}
			return out
		},
	},
}

func TestImportRules(t *testing.T) {
	g := load(t)
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			v := r.check(g)
			sort.Strings(v)
			for _, line := range v {
				t.Errorf("%s", line)
			}
			if len(v) > 0 {
				t.Logf("rule %q: %s", r.name, r.reason)
			}
		})
	}
}

type graph struct {
	module string
	pkgs   []*pkg
}

func load(t *testing.T) *graph {
	t.Helper()
	mod, err := exec.Command("go", "list", "-m").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	g := &graph{module: strings.TrimSpace(string(mod))}
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Name,Imports,Deps", g.module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := &pkg{}
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		p.ImportPath = strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, g.module), "/")
		p.Imports = g.rels(p.Imports)
		p.Deps = g.rels(p.Deps)
		g.pkgs = append(g.pkgs, p)
	}
	if len(g.pkgs) < 10 {
		t.Fatalf("go list found %d packages in %s", len(g.pkgs), g.module)
	}
	return g
}

// rels makes the module's own paths relative ("stage0/run") and keeps the
// others as they are; own paths are marked by a leading "./".
func (g *graph) rels(paths []string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if p == g.module {
			out = append(out, "./")
		} else if r, ok := strings.CutPrefix(p, g.module+"/"); ok {
			out = append(out, "./"+r)
		} else {
			out = append(out, p)
		}
	}
	return out
}

// own returns the module's paths among paths, relative.
func (g *graph) own(paths []string) []string {
	var out []string
	for _, p := range paths {
		if r, ok := strings.CutPrefix(p, "./"); ok {
			out = append(out, r)
		}
	}
	return out
}

func (p *pkg) rel() string { return p.ImportPath }

func (g *graph) match(pattern string) []*pkg {
	var out []*pkg
	for _, p := range g.pkgs {
		if matches(p.ImportPath, pattern) {
			out = append(out, p)
		}
	}
	return out
}

func matches(p, pattern string) bool {
	if pattern == "..." {
		return true
	}
	if dir, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == dir || strings.HasPrefix(p, dir+"/")
	}
	return p == pattern
}

// noDeps: no package matching from links (directly or not) a package of
// the module matching to.
func (g *graph) noDeps(from, to string) []string {
	var out []string
	for _, p := range g.match(from) {
		for _, d := range g.own(p.Deps) {
			if matches(d, to) {
				out = append(out, p.rel()+" links "+d)
			}
		}
	}
	return out
}

// noImports: no package matching from imports a package matching to directly.
func (g *graph) noImports(from, to string) []string {
	var out []string
	for _, p := range g.match(from) {
		for _, d := range g.own(p.Imports) {
			if matches(d, to) {
				out = append(out, p.rel()+" imports "+d)
			}
		}
	}
	return out
}

// noExternalDeps: no package matching from links a package outside the
// module whose path starts with one of prefixes.
func (g *graph) noExternalDeps(from string, prefixes ...string) []string {
	var out []string
	for _, p := range g.match(from) {
		for _, d := range p.Deps {
			for _, pre := range prefixes {
				if strings.HasPrefix(d, pre) {
					out = append(out, p.rel()+" links "+d)
				}
			}
		}
	}
	return out
}
