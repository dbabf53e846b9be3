package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rkt/rkt/common/tarsafe"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

func newImageRenderCmd(g *globalFlags) *cobra.Command {
	var rootfsOnly, overwrite bool
	cmd := &cobra.Command{
		Use:   "render IMAGE OUTPUT_DIR",
		Short: "Render an image with its dependencies applied to a directory",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			dst := args[1]
			if !overwrite {
				if err := checkAbsent(dst); err != nil {
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
			treeID, err := st.Render(cmd.Context(), key)
			if err != nil {
				return fmt.Errorf("rendering %s: %w", key, err)
			}
			tree := st.TreePath(treeID)
			return placeDir(dst, rootfsOnly, overwrite, func(tmp string) error {
				for _, name := range []string{tarsafe.ManifestName, tarsafe.RootfsName} {
					if err := copyTree(filepath.Join(tree, name), filepath.Join(tmp, name)); err != nil {
						return fmt.Errorf("copying the rendered tree of %s: %w", key, err)
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&rootfsOnly, "rootfs-only", false, "write only the rootfs, not the manifest")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace the output directory if it exists")
	return cmd
}

// copyTree copies src (a file or a directory tree) to dst, which must not
// exist: regular files, directories, symlinks (as links), and, when
// running as root, device nodes, FIFOs and ownership. Modes and modification
// times are kept. Hard links become copies.
func copyTree(src, dst string) error {
	asRoot := os.Geteuid() == 0
	type dirMeta struct {
		path  string
		mode  fs.FileMode
		mtime time.Time
	}
	var dirs []dirMeta
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		mode := info.Mode()
		switch {
		case mode.IsDir():
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, dirMeta{target, mode, info.ModTime()})
		case mode.IsRegular():
			if err := copyFile(path, target, mode.Perm()); err != nil {
				return err
			}
		case mode&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		default:
			if !asRoot {
				return nil // device nodes and FIFOs need root
			}
			st := info.Sys().(*syscall.Stat_t)
			if err := unix.Mknod(target, st.Mode, int(st.Rdev)); err != nil {
				return err
			}
		}
		if asRoot {
			st := info.Sys().(*syscall.Stat_t)
			if err := os.Lchown(target, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
		}
		if mode.IsRegular() {
			// chown clears setuid bits: set the mode again.
			if err := os.Chmod(target, mode.Perm()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
				return err
			}
			return os.Chtimes(target, info.ModTime(), info.ModTime())
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		if err := os.Chmod(d.path, d.mode.Perm()|d.mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
			return err
		}
		if err := os.Chtimes(d.path, d.mtime, d.mtime); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
