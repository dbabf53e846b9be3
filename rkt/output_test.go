package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	v1 "github.com/rkt/rkt/api/v1"
)

func TestRelTime(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		ago  time.Duration
		want string
	}{
		{0, "now"},
		{time.Second, "1 second ago"},
		{45 * time.Second, "45 seconds ago"},
		{time.Minute, "1 minute ago"},
		{55 * time.Minute, "55 minutes ago"},
		{3 * time.Hour, "3 hours ago"},
		{24 * time.Hour, "1 day ago"},
		{8 * 24 * time.Hour, "1 week ago"},
		{60 * 24 * time.Hour, "2 months ago"},
		{800 * 24 * time.Hour, "2 years ago"},
	} {
		if got := relTime(now.Add(-tc.ago), now); got != tc.want {
			t.Errorf("relTime(-%v) = %q, want %q", tc.ago, got, tc.want)
		}
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{
		0:               "0B",
		1023:            "1023B",
		1024:            "1.0KiB",
		1536:            "1.5KiB",
		12 << 20:        "12MiB",
		187<<20 + 1<<19: "188MiB",
		3<<30 + 300<<20: "3.3GiB",
		int64(5) << 40:  "5.0TiB",
	} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func testRows(now time.Time) []imageRow {
	id := func(c byte) string { return "sha512-" + strings.Repeat(string(c), 64) }
	return []imageRow{
		{ID: id('b'), Name: "example.com/b:2.0", ImportTime: now.Add(-time.Hour), LastUsed: now.Add(-time.Minute), Size: 12 << 20, Latest: true},
		{ID: id('a'), Name: "example.com/a", ImportTime: now.Add(-48 * time.Hour), LastUsed: now.Add(-48 * time.Hour), Size: 2048},
	}
}

func TestPrintImageListTable(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	opts := imageListOptions{fields: strings.Split(defaultImageFields, ","), sortBy: []string{fieldImportTime}}
	var buf bytes.Buffer
	if err := printImageList(&buf, testRows(now), opts, now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %q, want a header and 2 rows", buf.String())
	}
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "ID NAME SIZE IMPORT TIME LAST USED" {
		t.Errorf("header %q", lines[0])
	}
	// Oldest import first.
	wantRows := [][]string{
		{"sha512-aaaaaaaaaaaa", "example.com/a", "2.0KiB", "2 days ago", "2 days ago"},
		{"sha512-bbbbbbbbbbbb", "example.com/b:2.0", "12MiB", "1 hour ago", "1 minute ago"},
	}
	for i, want := range wantRows {
		got := strings.Split(lines[i+1], "\t")
		var cells []string
		for _, c := range got {
			if c != "" {
				cells = append(cells, c)
			}
		}
		if strings.Join(cells, "|") != strings.Join(want, "|") {
			t.Errorf("row %d = %q, want %q", i, cells, want)
		}
	}

	// --order=desc --no-legend --full --fields=id,latest,size
	buf.Reset()
	opts = imageListOptions{fields: []string{fieldID, fieldLatest, fieldSize}, sortBy: []string{fieldImportTime}, desc: true, full: true, noLegend: true}
	if err := printImageList(&buf, testRows(now), opts, now); err != nil {
		t.Fatal(err)
	}
	want := "sha512-" + strings.Repeat("b", 64) + "\ttrue\t12582912\n" + "sha512-" + strings.Repeat("a", 64) + "\tfalse\t2048\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

func TestPrintImageListJSON(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	opts := imageListOptions{fields: []string{fieldID}, sortBy: []string{fieldName}, format: formatJSON}
	if err := printImageList(&buf, testRows(now), opts, now); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Errorf("JSON output is not one line: %q", out)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0]["name"] != "example.com/a" {
		t.Fatalf("got %v, want 2 entries sorted by name", got)
	}
	assertKeys(t, "image entry", got[0], rkt130ImageKeys)
	var entries []rkt130ImageListEntry
	decodeStrict(t, out, &entries)
	want := rkt130ImageListEntry{ID: entries[0].ID, Name: "example.com/a", ImportTime: now.Add(-48 * time.Hour).UnixNano(), LastUsedTime: now.Add(-48 * time.Hour).UnixNano(), Size: 2048}
	if entries[0] != want {
		t.Errorf("entry %+v, want %+v (times in Unix nanoseconds)", entries[0], want)
	}
}

func TestPrintTrustList(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	keys := []v1.TrustedKey{
		{Root: true, Fingerprint: "aa11", UserIDs: []string{"Root <root@example.com>"}, Created: exp.AddDate(-10, 0, 0), Scope: v1.ScopeSystem, Path: "/s/trustedkeys/root.d/aa11"},
		{Prefix: "example.com/app", Fingerprint: "bb22", UserIDs: []string{"App <app@example.com>"}, Expires: &exp, Scope: v1.ScopeLocal, Path: "/l/trustedkeys/prefix.d/example.com/app/bb22"},
	}
	var buf bytes.Buffer
	if err := printTrustList(&buf, keys, "", false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "PREFIX FINGERPRINT USER ID EXPIRES SCOPE PATH" {
		t.Fatalf("got %q", buf.String())
	}
	if f := strings.Fields(lines[1]); f[0] != "(root)" || f[len(f)-3] != "never" || f[len(f)-2] != "system" {
		t.Errorf("root row %q", lines[1])
	}
	if f := strings.Fields(lines[2]); f[0] != "example.com/app" || f[len(f)-3] != "2030-01-02T03:04:05Z" || f[len(f)-1] != keys[1].Path {
		t.Errorf("prefix row %q", lines[2])
	}

	buf.Reset()
	if err := printTrustList(&buf, keys, formatJSON, false); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil || strings.Count(buf.String(), "\n") != 1 {
		t.Fatalf("JSON %q: %v", buf.String(), err)
	}
	if got[0]["root"] != true || got[0]["expires"] != nil || got[0]["prefix"] != "" || got[0]["scope"] != "system" {
		t.Errorf("root entry %v", got[0])
	}
	if got[1]["expires"] != "2030-01-02T03:04:05Z" || got[1]["userIDs"].([]any)[0] != "App <app@example.com>" {
		t.Errorf("prefix entry %v", got[1])
	}

	buf.Reset()
	if err := printTrustList(&buf, nil, formatJSON, false); err != nil || buf.String() != "[]\n" {
		t.Errorf("empty list: %q, %v; want []", buf.String(), err)
	}
}
