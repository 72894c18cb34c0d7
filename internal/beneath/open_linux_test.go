//go:build linux

package beneath

import (
	"testing"

	"golang.org/x/sys/unix"
)

// Where openat2 is missing, the component walk refuses symlinks too.
func TestOpenDirByComponent(t *testing.T) {
	root := t.TempDir()
	mk(t, root, []string{"a/b"}, nil, map[string]string{"a/link": "b"})
	for rel, ok := range map[string]bool{"": true, "a": true, "a/b": true, "a/link": false, "a/link/x": false, "a/missing": false} {
		fd, err := openByComponent(root, rel, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
		if (err == nil) != ok {
			t.Errorf("openByComponent(%q): %v, want ok=%v", rel, err, ok)
		}
		if err == nil {
			unix.Close(fd)
		}
	}
}
