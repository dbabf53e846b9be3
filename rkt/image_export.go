package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

var errExists = errors.New("already exists (use --overwrite to replace it)")

func newImageExportCmd(g *globalFlags) *cobra.Command {
	var overwrite bool
	cmd := &cobra.Command{
		Use:   "export IMAGE OUTPUT_ACI_FILE",
		Short: "Write an image from the local store to an uncompressed ACI file",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := args[1]
			if !overwrite {
				if err := checkAbsent(out); err != nil {
					return err
				}
			}
			st, err := g.openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			key, err := resolveImage(st, args[0])
			if err != nil {
				return err
			}
			blob, err := st.OpenBlob(key)
			if err != nil {
				return err
			}
			defer blob.Close()
			if err := writeFileFrom(out, blob, overwrite); err != nil {
				return fmt.Errorf("exporting %s: %w", key, err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "overwrite the output file if it exists")
	return cmd
}

// checkAbsent fails when path exists.
func checkAbsent(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s %w", path, errExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// writeFileFrom writes r to path through a synced temp file in the same
// directory, so that path never holds a partial file. Without overwrite an
// existing path is left alone and is an error, even if it appeared while
// copying.
func writeFileFrom(path string, r io.Reader, overwrite bool) (retErr error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("creating temp file: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	if _, err := io.Copy(tmp, r); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if overwrite {
		return os.Rename(tmp.Name(), path)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s %w", path, errExists)
		}
		return err
	}
	return nil
}
