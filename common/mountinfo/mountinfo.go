// Package mountinfo reads the mount points of the calling process's mount
// namespace from /proc/self/mountinfo, for the code that must find (and
// unmount) what is mounted under a pod before it touches the directory.
package mountinfo

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Path is the mount table of the calling process.
const Path = "/proc/self/mountinfo"

// Points returns every mount point, in the table's order (older mounts
// first).
func Points() ([]string, error) {
	f, err := os.Open(Path)
	if err != nil {
		return nil, fmt.Errorf("listing mounts: %w", err)
	}
	defer f.Close()
	return parsePoints(f)
}

// Under returns the mount points at or under dir, an absolute path without
// symlinks, in the order to unmount them: deeper first, and at one depth
// the later mount (stacked on top) first.
func Under(dir string) ([]string, error) {
	all, err := Points()
	if err != nil {
		return nil, err
	}
	return under(all, dir), nil
}

func under(all []string, dir string) []string {
	type mp struct {
		path         string
		depth, order int
	}
	var found []mp
	for i, p := range all {
		if dir == "/" || p == dir || strings.HasPrefix(p, dir+"/") {
			found = append(found, mp{p, strings.Count(p, "/"), i})
		}
	}
	sort.SliceStable(found, func(i, j int) bool {
		if found[i].depth != found[j].depth {
			return found[i].depth > found[j].depth
		}
		return found[i].order > found[j].order
	})
	out := make([]string, len(found))
	for i, m := range found {
		out[i] = m.path
	}
	return out
}

func parsePoints(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 4 {
			out = append(out, Unescape(f[4]))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", Path, err)
	}
	return out, nil
}

// Unescape undoes the octal escapes mountinfo uses in its path fields
// (\040 for a space, \011 tab, \012 newline, \134 backslash).
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
