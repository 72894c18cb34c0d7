package handlers

import "golang.org/x/sys/unix"

// usedInodes returns the inodes in use on the file system holding path.
func usedInodes(path string) (uint64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil || st.Files == 0 || st.Ffree > st.Files {
		return 0, false
	}
	return st.Files - st.Ffree, true
}
