package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/rkt/rkt/stage0/pod"
	"github.com/spf13/cobra"
)

// Output formats of --format.
const (
	formatPlain      = "plain"
	formatJSON       = "json"
	formatJSONPretty = "json-pretty"
)

// checkFormat validates a --format value; "" means plain.
func checkFormat(f string) error {
	switch f {
	case "", formatPlain, formatJSON, formatJSONPretty:
		return nil
	}
	return usagef("invalid --format %q (want %s, %s or %s)", f, formatPlain, formatJSON, formatJSONPretty)
}

// printJSON writes v as one line of JSON, or indented when pretty.
func printJSON(w io.Writer, v any, pretty bool) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if pretty {
		enc.SetIndent("", "\t")
	}
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// printRawJSON writes the JSON document raw as one line, or indented by
// indent when pretty, followed by a newline. A document that is not JSON
// is an error "formatting <what>: ...", and nothing is written.
func printRawJSON(w io.Writer, raw []byte, pretty bool, indent, what string) error {
	var buf bytes.Buffer
	var err error
	if pretty {
		err = json.Indent(&buf, raw, "", indent)
	} else {
		err = json.Compact(&buf, raw)
	}
	if err != nil {
		return fmt.Errorf("formatting %s: %w", what, err)
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}

// argPod opens the one pod a command names, by its UUID (or a unique
// prefix) in args or in the file of --uuid-file.
func (g *globalFlags) argPod(cmd *cobra.Command, args []string, uuidFile string) (*pod.Pod, error) {
	uuids, err := podUUIDs(args, uuidFile, true)
	if err != nil {
		return nil, err
	}
	dir, err := g.dataDir(cmd)
	if err != nil {
		return nil, err
	}
	return pod.Get(dir, uuids[0])
}

// newTable returns rkt's table writer: tab-separated, aligned columns.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 8, 1, '\t', 0)
}

// timeLayout is how absolute times print with --full.
const timeLayout = "2006-01-02 15:04:05.999 -0700 MST"

// relTime renders t relative to now in words ("3 minutes ago").
func relTime(t, now time.Time) string {
	d := now.Sub(t)
	suffix := "ago"
	if d < 0 {
		d, suffix = -d, "from now"
	}
	const (
		day   = 24 * time.Hour
		week  = 7 * day
		month = 30 * day
		year  = 12 * month
	)
	n := func(unit time.Duration, name string) string {
		c := int64(d / unit)
		if c == 1 {
			return fmt.Sprintf("1 %s %s", name, suffix)
		}
		return fmt.Sprintf("%d %ss %s", c, name, suffix)
	}
	switch {
	case d < time.Second:
		return "now"
	case d < time.Minute:
		return n(time.Second, "second")
	case d < time.Hour:
		return n(time.Minute, "minute")
	case d < day:
		return n(time.Hour, "hour")
	case d < week:
		return n(day, "day")
	case d < month:
		return n(week, "week")
	case d < year:
		return n(month, "month")
	default:
		return n(year, "year")
	}
}

// humanSize renders a byte count with binary units, rkt style: "12MiB".
func humanSize(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%dB", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v < 10 {
		return fmt.Sprintf("%.1f%s", v, units[i])
	}
	return fmt.Sprintf("%.0f%s", v, units[i])
}
