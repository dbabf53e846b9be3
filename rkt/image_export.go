package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rkt/rkt/store"
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
			return g.withImage(cmd, args[0], out, overwrite, func(st *store.Store, key string) error {
				blob, err := st.OpenBlob(key)
				if err != nil {
					return err
				}
				defer blob.Close()
				if err := writeOutput(out, overwrite, func(w io.Writer) error {
					if _, err := io.Copy(w, blob); err != nil {
						return fmt.Errorf("writing %s: %w", out, err)
					}
					return nil
				}); err != nil {
					return fmt.Errorf("exporting %s: %w", key, err)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "overwrite the output file if it exists")
	return cmd
}

// withImage is the frame of the image commands that read one image: out
// (when set) must not exist unless overwrite, then fn runs with the store
// open and arg resolved to an image key.
func (g *globalFlags) withImage(cmd *cobra.Command, arg, out string, overwrite bool, fn func(st *store.Store, key string) error) error {
	if out != "" && !overwrite {
		if err := checkAbsent(out); err != nil {
			return err
		}
	}
	st, err := g.openStore(cmd)
	if err != nil {
		return err
	}
	defer st.Close()
	key, err := resolveImage(st, arg)
	if err != nil {
		return err
	}
	return fn(st, key)
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

// writeOutput has fill write a synced temp file in path's directory and
// then puts it at path, so that path never holds a partial file. Without
// overwrite an existing path is left alone and is an error, even if it
// appeared while writing.
func writeOutput(path string, overwrite bool, fill func(w io.Writer) error) (retErr error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("creating temp file: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	if err := fill(tmp); err != nil {
		return err // fill says what it was doing
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
