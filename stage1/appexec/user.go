package appexec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Identity is who an app (or its handlers' environment) runs as.
type Identity struct {
	UID    uint32
	GID    uint32
	Groups []uint32 // supplementary groups
	Name   string   // user name from /etc/passwd, "" when unknown
	Home   string   // home directory from /etc/passwd, "" when unknown
	Shell  string   // login shell from /etc/passwd, "" when unknown
}

type passwdEntry struct {
	name        string
	uid, gid    uint32
	home, shell string
}

type groupEntry struct {
	name string
	gid  uint32
}

// ResolveIdentity turns an app's user, group and supplementary gids into
// numeric ids. user and group are numbers, names looked up in the app's own
// /etc/passwd and /etc/group (read through root, so a symlinked file cannot
// lead outside the app), or absolute paths inside the app whose owner is
// taken (the appc rule). An empty user is root; an empty group is the
// user's primary group from /etc/passwd, or root.
func ResolveIdentity(root *os.Root, user, group string, supplementary []int) (Identity, error) {
	var id Identity
	passwd, err := readPasswd(root)
	if err != nil {
		return id, err
	}
	var pw *passwdEntry
	switch {
	case user == "":
		pw = passwdByUID(passwd, 0)
	case strings.HasPrefix(user, "/"):
		st, err := statOwner(root, user)
		if err != nil {
			return id, fmt.Errorf("resolving user %q: %w", user, err)
		}
		id.UID = st.Uid
		pw = passwdByUID(passwd, id.UID)
	case user == "root":
		// rkt 1.30 (and the appc spec's examples) take "root" as uid 0
		// whether or not the image's /etc/passwd names it.
		pw = passwdByUID(passwd, 0)
	default:
		if n, err := parseID(user); err == nil {
			id.UID = n
			pw = passwdByUID(passwd, n)
			break
		}
		for i := range passwd {
			if passwd[i].name == user {
				pw = &passwd[i]
				break
			}
		}
		if pw == nil {
			return id, fmt.Errorf("resolving user %q: %w (not in the image's /etc/passwd)", user, ErrUnknownUser)
		}
		id.UID = pw.uid
	}
	if pw != nil {
		id.Name, id.Home, id.Shell = pw.name, pw.home, pw.shell
	}

	switch {
	case group == "":
		if pw != nil {
			id.GID = pw.gid
		}
	case strings.HasPrefix(group, "/"):
		st, err := statOwner(root, group)
		if err != nil {
			return id, fmt.Errorf("resolving group %q: %w", group, err)
		}
		id.GID = st.Gid
	case group == "root":
		id.GID = 0 // as "root" for the user
	default:
		if n, err := parseID(group); err == nil {
			id.GID = n
			break
		}
		groups, err := readGroup(root)
		if err != nil {
			return id, err
		}
		found := false
		for _, g := range groups {
			if g.name == group {
				id.GID, found = g.gid, true
				break
			}
		}
		if !found {
			return id, fmt.Errorf("resolving group %q: %w (not in the image's /etc/group)", group, ErrUnknownGroup)
		}
	}

	for _, g := range supplementary {
		if g < 0 || int64(g) > int64(^uint32(0)) {
			return id, fmt.Errorf("resolving supplementary group %d: out of range", g)
		}
		id.Groups = append(id.Groups, uint32(g))
	}
	return id, nil
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}

func passwdByUID(entries []passwdEntry, uid uint32) *passwdEntry {
	for i := range entries {
		if entries[i].uid == uid {
			return &entries[i]
		}
	}
	return nil
}

func statOwner(root *os.Root, p string) (*syscall.Stat_t, error) {
	rel, err := ResolveInRoot(root, p)
	if err != nil {
		return nil, err
	}
	fi, err := root.Stat(rel)
	if err != nil {
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("stat of %s: no owner", p)
	}
	return st, nil
}

// readPasswd reads etc/passwd under root; a missing file is no entries.
func readPasswd(root *os.Root) ([]passwdEntry, error) {
	var out []passwdEntry
	err := readColonFile(root, "etc/passwd", func(f []string) {
		if len(f) < 7 {
			return
		}
		uid, err1 := parseID(f[2])
		gid, err2 := parseID(f[3])
		if err1 != nil || err2 != nil {
			return
		}
		out = append(out, passwdEntry{name: f[0], uid: uid, gid: gid, home: f[5], shell: f[6]})
	})
	return out, err
}

// readGroup reads etc/group under root; a missing file is no entries.
func readGroup(root *os.Root) ([]groupEntry, error) {
	var out []groupEntry
	err := readColonFile(root, "etc/group", func(f []string) {
		if len(f) < 3 {
			return
		}
		gid, err := parseID(f[2])
		if err != nil {
			return
		}
		out = append(out, groupEntry{name: f[0], gid: gid})
	})
	return out, err
}

func readColonFile(root *os.Root, name string, each func([]string)) error {
	rel, err := ResolveInRoot(root, name)
	if err != nil {
		return fmt.Errorf("reading the image's /%s: %w", name, err)
	}
	f, err := root.Open(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the image's /%s: %w", name, err)
	}
	defer f.Close()
	return parseColonLines(f, each)
}

func parseColonLines(r io.Reader, each func([]string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		each(strings.Split(line, ":"))
	}
	return sc.Err()
}
