package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/rkt/rkt/stage1/appexec"
)

// resolveUser turns the app's user and group into numeric ids with the
// appc rules (appexec.ResolveIdentity: numbers, names from the app's own
// /etc/passwd and /etc/group, or the owner of a path in the app), read
// through an os.Root of the rootfs. A user without a home directory in
// /etc/passwd gets "/" ("/root" for root).
func resolveUser(rootfs, user, group string, supplementary []int) (appexec.Identity, error) {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return appexec.Identity{}, fmt.Errorf("resolving the app's user: %w", err)
	}
	defer root.Close()
	id, err := appexec.ResolveIdentity(root, user, group, supplementary)
	if err != nil {
		return id, err
	}
	if id.Home == "" {
		id.Home = "/"
		if id.UID == 0 {
			id.Home = "/root"
		}
	}
	return id, nil
}

// setIdentity switches every thread of the process to id.
func setIdentity(id appexec.Identity) error {
	groups := make([]int, len(id.Groups))
	for i, g := range id.Groups {
		groups[i] = int(g)
	}
	if err := unix.Setgroups(groups); err != nil {
		return fmt.Errorf("setting supplementary groups: %w", err)
	}
	if err := unix.Setgid(int(id.GID)); err != nil {
		return fmt.Errorf("setting gid %d: %w", id.GID, err)
	}
	if err := unix.Setuid(int(id.UID)); err != nil {
		return fmt.Errorf("setting uid %d: %w", id.UID, err)
	}
	return nil
}
