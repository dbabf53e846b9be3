package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/rkt/rkt/api/v1"
	"github.com/spf13/cobra"
)

// Fields of `image list`.
const (
	fieldID         = "id"
	fieldName       = "name"
	fieldImportTime = "importtime"
	fieldLastUsed   = "lastused"
	fieldSize       = "size"
	fieldLatest     = "latest"
	// Not rkt 1.30's: the registry reference and manifest digest of an
	// image from an OCI registry or layout (empty for ACIs).
	fieldReference = "reference"
	fieldDigest    = "digest"
)

var imageFieldHeaders = map[string]string{
	fieldID:         "ID",
	fieldName:       "NAME",
	fieldImportTime: "IMPORT TIME",
	fieldLastUsed:   "LAST USED",
	fieldSize:       "SIZE",
	fieldLatest:     "LATEST",
	fieldReference:  "REFERENCE",
	fieldDigest:     "MANIFEST DIGEST",
}

const defaultImageFields = "id,name,size,importtime,lastused"

// imageRow is one image as `image list` shows it.
type imageRow struct {
	ID         string // full image ID
	Name       string // name:version
	ImportTime time.Time
	LastUsed   time.Time
	Size       int64 // blob plus rendered tree, in bytes
	Latest     bool
	Layer      bool   // an OCI layer image, listed only with --all
	Reference  string // registry reference pulled (OCI images)
	Digest     string // OCI manifest digest (OCI images)
}

type imageListOptions struct {
	fields   []string
	sortBy   []string
	desc     bool
	full     bool
	noLegend bool
	format   string
	all      bool // list OCI layer images too
}

func newImageListCmd(g *globalFlags) *cobra.Command {
	var (
		fields, sortBy, order, format string
		opts                          imageListOptions
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List images in the local store",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.fields, err = parseFieldList("--fields", fields, false); err != nil {
				return err
			}
			if opts.sortBy, err = parseFieldList("--sort", sortBy, true); err != nil {
				return err
			}
			switch order {
			case "asc":
			case "desc":
				opts.desc = true
			default:
				return usagef("invalid --order %q (want asc or desc)", order)
			}
			if err := checkFormat(format); err != nil {
				return err
			}
			opts.format = format
			rows, err := g.listImages(cmd)
			if err != nil {
				return err
			}
			if !opts.all {
				rows = slices.DeleteFunc(rows, func(r imageRow) bool { return r.Layer })
			}
			return printImageList(g.stdout, rows, opts, time.Now())
		},
	}
	f := cmd.Flags()
	f.StringVar(&fields, "fields", defaultImageFields, "comma-separated list of fields to display: id, name, importtime, lastused, size, latest, reference, digest")
	f.StringVar(&sortBy, "sort", fieldImportTime, "comma-separated list of fields to sort by: id, name, importtime, lastused, size, reference, digest")
	f.StringVar(&order, "order", "asc", "sort order: asc or desc")
	f.BoolVar(&opts.full, "full", false, "use long output format")
	f.BoolVar(&opts.noLegend, "no-legend", false, "suppress a legend with the list")
	f.StringVar(&format, "format", "", "output format: plain, json or json-pretty")
	f.BoolVar(&opts.all, "all", false, "also list the layer images of images from OCI registries and layouts")
	return cmd
}

func parseFieldList(flag, value string, sorting bool) ([]string, error) {
	var out []string
	for _, f := range strings.Split(value, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if _, ok := imageFieldHeaders[f]; !ok || (sorting && f == fieldLatest) {
			return nil, usagef("invalid %s field %q", flag, f)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, usagef("%s needs at least one field", flag)
	}
	return out, nil
}

func sortImageRows(rows []imageRow, by []string, desc bool) {
	less := func(a, b imageRow, field string) int {
		switch field {
		case fieldID:
			return strings.Compare(a.ID, b.ID)
		case fieldName:
			return strings.Compare(a.Name, b.Name)
		case fieldReference:
			return strings.Compare(a.Reference, b.Reference)
		case fieldDigest:
			return strings.Compare(a.Digest, b.Digest)
		case fieldImportTime:
			return a.ImportTime.Compare(b.ImportTime)
		case fieldLastUsed:
			return a.LastUsed.Compare(b.LastUsed)
		case fieldSize:
			switch {
			case a.Size < b.Size:
				return -1
			case a.Size > b.Size:
				return 1
			}
		}
		return 0
	}
	sort.SliceStable(rows, func(i, j int) bool {
		for _, f := range by {
			c := less(rows[i], rows[j], f)
			if desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
}

// shortID is the image ID as printed without --full: sha512- and 12 hex.
func shortID(id string) string {
	const n = len("sha512-") + 12
	if len(id) > n {
		return id[:n]
	}
	return id
}

func printImageList(w io.Writer, rows []imageRow, opts imageListOptions, now time.Time) error {
	sortImageRows(rows, opts.sortBy, opts.desc)
	if opts.format == formatJSON || opts.format == formatJSONPretty {
		entries := make([]v1.ImageListEntry, len(rows))
		for i, r := range rows {
			entries[i] = v1.ImageListEntry{
				ID:           r.ID,
				Name:         r.Name,
				ImportTime:   r.ImportTime.UnixNano(),
				LastUsedTime: r.LastUsed.UnixNano(),
				Size:         r.Size,
			}
		}
		return printJSON(w, entries, opts.format == formatJSONPretty)
	}
	t := newTable(w)
	if !opts.noLegend {
		hs := make([]string, len(opts.fields))
		for i, f := range opts.fields {
			hs[i] = imageFieldHeaders[f]
		}
		fmt.Fprintln(t, strings.Join(hs, "\t"))
	}
	cells := make([]string, len(opts.fields))
	for _, r := range rows {
		for i, f := range opts.fields {
			cells[i] = imageCell(r, f, opts.full, now)
		}
		fmt.Fprintln(t, strings.Join(cells, "\t"))
	}
	return t.Flush()
}

func imageCell(r imageRow, field string, full bool, now time.Time) string {
	switch field {
	case fieldID:
		if full {
			return r.ID
		}
		return shortID(r.ID)
	case fieldName:
		return r.Name
	case fieldImportTime, fieldLastUsed:
		t := r.ImportTime
		if field == fieldLastUsed {
			t = r.LastUsed
		}
		if full {
			return t.Format(timeLayout)
		}
		return relTime(t, now)
	case fieldSize:
		if full {
			return fmt.Sprint(r.Size)
		}
		return humanSize(r.Size)
	case fieldLatest:
		return fmt.Sprint(r.Latest)
	case fieldReference, fieldDigest:
		v := r.Reference
		if field == fieldDigest {
			v = r.Digest
		}
		if v == "" {
			return "-"
		}
		return v
	}
	return ""
}
