package config

import (
	"errors"
	"strings"
	"testing"
)

func TestFetchLimits(t *testing.T) {
	system, local := t.TempDir(), t.TempDir()
	writeConf(t, system, "fetch.d/limits.json", `{"rktKind":"fetch","rktVersion":"v1","maxImageSize":"16GiB","maxFiles":1000,"minFreeSpace":1048576,"minFreePercent":5}`)
	writeConf(t, local, "fetch.d/big.json", `{"rktKind":"fetch","rktVersion":"v1","maxImageSize":"64 GiB","minFreePercent":0}`)
	c, err := Load(system, local)
	if err != nil {
		t.Fatal(err)
	}
	got := func(p *int64) int64 {
		if p == nil {
			t.Fatal("limit unset")
		}
		return *p
	}
	if v := got(c.Fetch.MaxImageSize); v != 64<<30 {
		t.Errorf("maxImageSize = %d, want the local 64 GiB", v)
	}
	if v := got(c.Fetch.MaxFiles); v != 1000 {
		t.Errorf("maxFiles = %d, want the system's 1000", v)
	}
	if v := got(c.Fetch.MinFreeSpace); v != 1<<20 {
		t.Errorf("minFreeSpace = %d", v)
	}
	if v := got(c.Fetch.MinFreePercent); v != 0 {
		t.Errorf("minFreePercent = %d, want the local 0", v)
	}
	out, err := c.MarshalJSON()
	if err != nil || !strings.Contains(string(out), `"rktKind":"fetch","maxImageSize":68719476736`) {
		t.Errorf("rkt config output %s, %v", out, err)
	}

	empty, err := Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if empty.Fetch != (Fetch{}) {
		t.Errorf("no fetch.d: %+v, want nothing set", empty.Fetch)
	}
}

func TestFetchLimitsRefused(t *testing.T) {
	for name, content := range map[string]string{
		"unit":     `{"rktKind":"fetch","rktVersion":"v1","maxImageSize":"16 parsecs"}`,
		"negative": `{"rktKind":"fetch","rktVersion":"v1","maxFiles":-1}`,
		"percent":  `{"rktKind":"fetch","rktVersion":"v1","minFreePercent":101}`,
		"overflow": `{"rktKind":"fetch","rktVersion":"v1","minFreeSpace":"99999999999TiB"}`,
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			writeConf(t, root, "fetch.d/x.json", content)
			if _, err := Load(root); !errors.Is(err, ErrBadValue) {
				t.Fatalf("err = %v, want ErrBadValue", err)
			}
		})
	}
	root := t.TempDir()
	writeConf(t, root, "fetch.d/1.json", `{"rktKind":"fetch","rktVersion":"v1","maxFiles":1}`)
	writeConf(t, root, "fetch.d/2.json", `{"rktKind":"fetch","rktVersion":"v1","maxFiles":2}`)
	var dup *DuplicateError
	if _, err := Load(root); !errors.As(err, &dup) {
		t.Fatalf("maxFiles set twice: err = %v, want *DuplicateError", err)
	}
	writeConf(t, root, "paths.d/f.json", `{"rktKind":"fetch","rktVersion":"v1"}`)
	var ke *KindError
	if _, err := Load(root); !errors.As(err, &ke) {
		t.Fatalf("fetch kind in paths.d: err = %v, want *KindError", err)
	}
}
