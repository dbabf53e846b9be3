package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// identity is who the app runs as.
type identity struct {
	uid, gid   int
	groups     []int
	name, home string
}

type passwdEntry struct {
	name     string
	uid, gid int
	home     string
}

// resolveUser turns the app's user and group into numeric ids, as the
// appc spec says: a number, a name looked up in the app's own /etc/passwd
// or /etc/group (read through an os.Root of the rootfs, so no symlink
// leads outside it), or an absolute path in the app whose owner is taken.
// An empty user is root; an empty group is the user's primary group.
func resolveUser(rootfs, user, group string, supplementary []int) (identity, error) {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return identity{}, fmt.Errorf("resolving the app's user: %w", err)
	}
	defer root.Close()
	passwd, err := readPasswd(root)
	if err != nil {
		return identity{}, err
	}
	var id identity
	var pw *passwdEntry
	switch {
	case user == "":
		pw = byUID(passwd, 0)
	case strings.HasPrefix(user, "/"):
		st, err := ownerOf(root, user)
		if err != nil {
			return id, fmt.Errorf("resolving user %q: %w", user, err)
		}
		id.uid = int(st.Uid)
		pw = byUID(passwd, id.uid)
	default:
		if n, err := strconv.Atoi(user); err == nil && n >= 0 {
			id.uid = n
			pw = byUID(passwd, n)
		} else {
			for i := range passwd {
				if passwd[i].name == user {
					pw = &passwd[i]
				}
			}
			if pw == nil {
				return id, fmt.Errorf("resolving user %q: %w in the app's /etc/passwd", user, ErrUnknownUser)
			}
		}
	}
	if pw != nil {
		id.uid, id.gid, id.name, id.home = pw.uid, pw.gid, pw.name, pw.home
	}
	switch {
	case group == "":
	case strings.HasPrefix(group, "/"):
		st, err := ownerOf(root, group)
		if err != nil {
			return id, fmt.Errorf("resolving group %q: %w", group, err)
		}
		id.gid = int(st.Gid)
	default:
		if n, err := strconv.Atoi(group); err == nil && n >= 0 {
			id.gid = n
		} else {
			gid, err := lookupGroup(root, group)
			if err != nil {
				return id, err
			}
			id.gid = gid
		}
	}
	id.groups = append([]int(nil), supplementary...)
	if id.home == "" {
		id.home = "/"
		if id.uid == 0 {
			id.home = "/root"
		}
	}
	return id, nil
}

func byUID(entries []passwdEntry, uid int) *passwdEntry {
	for i := range entries {
		if entries[i].uid == uid {
			return &entries[i]
		}
	}
	return nil
}

func ownerOf(root *os.Root, p string) (*syscall.Stat_t, error) {
	fi, err := root.Stat(strings.TrimPrefix(p, "/"))
	if err != nil {
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, errors.New("no owner information")
	}
	return st, nil
}

// readPasswd reads name:x:uid:gid:gecos:home:shell lines; a missing file
// is an empty list.
func readPasswd(root *os.Root) ([]passwdEntry, error) {
	var out []passwdEntry
	err := eachLine(root, "etc/passwd", func(f []string) {
		if len(f) < 6 {
			return
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 == nil && err2 == nil {
			out = append(out, passwdEntry{name: f[0], uid: uid, gid: gid, home: f[5]})
		}
	})
	return out, err
}

func lookupGroup(root *os.Root, name string) (int, error) {
	gid := -1
	err := eachLine(root, "etc/group", func(f []string) {
		if len(f) >= 3 && f[0] == name && gid < 0 {
			if n, err := strconv.Atoi(f[2]); err == nil {
				gid = n
			}
		}
	})
	if err != nil {
		return 0, err
	}
	if gid < 0 {
		return 0, fmt.Errorf("resolving group %q: %w in the app's /etc/group", name, ErrUnknownGroup)
	}
	return gid, nil
}

func eachLine(root *os.Root, name string, each func([]string)) error {
	f, err := root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the app's /%s: %w", name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		each(strings.Split(line, ":"))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the app's /%s: %w", name, err)
	}
	return nil
}

// setIdentity switches every thread of the process to id.
func setIdentity(id identity) error {
	if err := unix.Setgroups(id.groups); err != nil {
		return fmt.Errorf("setting supplementary groups: %w", err)
	}
	if err := unix.Setgid(id.gid); err != nil {
		return fmt.Errorf("setting gid %d: %w", id.gid, err)
	}
	if err := unix.Setuid(id.uid); err != nil {
		return fmt.Errorf("setting uid %d: %w", id.uid, err)
	}
	return nil
}
