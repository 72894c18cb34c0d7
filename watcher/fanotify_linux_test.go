//go:build linux

package watcher

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fanInfo builds one info record: header, fsid, struct file_handle and,
// for the named types, the name with its NUL, padded to 4 as the kernel does.
func fanInfo(typ uint8, fsid uint64, handle []byte, name string) []byte {
	body := binary.NativeEndian.AppendUint64(nil, fsid)
	body = binary.NativeEndian.AppendUint32(body, uint32(len(handle)))
	body = binary.NativeEndian.AppendUint32(body, 1) // handle type
	body = append(body, handle...)
	if typ != unix.FAN_EVENT_INFO_TYPE_FID {
		body = append(body, name...)
		body = append(body, 0)
	}
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	hdr := []byte{typ, 0, 0, 0}
	binary.NativeEndian.PutUint16(hdr[2:], uint16(4+len(body)))
	return append(hdr, body...)
}

// fanEvent builds one event: the metadata and the info records.
func fanEvent(mask uint64, infos ...[]byte) []byte {
	b := make([]byte, fanMetadataLen)
	b[4] = unix.FANOTIFY_METADATA_VERSION
	binary.NativeEndian.PutUint16(b[6:], fanMetadataLen)
	binary.NativeEndian.PutUint64(b[8:], mask)
	binary.NativeEndian.PutUint32(b[16:], uint32(0xffffffff)) // FAN_NOFD
	for _, i := range infos {
		b = append(b, i...)
	}
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	return b
}

func TestParseFanEvent(t *testing.T) {
	dir, child := []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{9, 9, 9, 9}
	rename := fanEvent(unix.FAN_RENAME|unix.FAN_ONDIR,
		fanInfo(unix.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, 7, dir, "old name"),
		fanInfo(unix.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME, 7, dir, "new\nname"),
		fanInfo(unix.FAN_EVENT_INFO_TYPE_FID, 7, child, ""))
	create := fanEvent(unix.FAN_CREATE, fanInfo(unix.FAN_EVENT_INFO_TYPE_DFID_NAME, 7, dir, "f"))
	overflow := fanEvent(unix.FAN_Q_OVERFLOW)
	buf := slices.Concat(rename, create, overflow)

	r, n, err := parseFanEvent(buf)
	if err != nil || n != len(rename) {
		t.Fatalf("rename: %d bytes, %v; want %d", n, err, len(rename))
	}
	if string(r.oldName) != "old name" || string(r.newName) != "new\nname" || r.dir != nil {
		t.Errorf("rename names %q -> %q (dir %v)", r.oldName, r.newName, r.dir)
	}
	if string(r.oldDir) != string(r.newDir) || len(r.oldDir) != 16+len(dir) || len(r.child) != 16+len(child) {
		t.Errorf("rename keys %x, %x, child %x", r.oldDir, r.newDir, r.child)
	}
	r, m, err := parseFanEvent(buf[n:])
	if err != nil || string(r.name) != "f" || r.mask != unix.FAN_CREATE {
		t.Errorf("create: %+v, %v", r, err)
	}
	r, _, err = parseFanEvent(buf[n+m:])
	if err != nil || r.mask != unix.FAN_Q_OVERFLOW || r.dir != nil {
		t.Errorf("overflow: %+v, %v", r, err)
	}

	for name, bad := range map[string][]byte{
		"short":          create[:10],
		"length past":    append(slices.Clone(create[:fanMetadataLen]), 0),
		"unnamed dfid":   fanEvent(unix.FAN_CREATE, fanInfo(unix.FAN_EVENT_INFO_TYPE_FID, 7, dir, "")[:4+16+len(dir)]),
		"handle too big": fanEvent(unix.FAN_CREATE, fanInfo(unix.FAN_EVENT_INFO_TYPE_DFID_NAME, 7, make([]byte, 200), "f")),
	} {
		if name == "unnamed dfid" {
			bad[fanMetadataLen] = unix.FAN_EVENT_INFO_TYPE_DFID_NAME
		}
		if _, _, err := parseFanEvent(bad); err == nil {
			t.Errorf("%s: parsed without an error", name)
		}
	}
}

// FuzzParseFanEvent: whatever the bytes, the parser returns an error or an
// event within them, with keys and names inside the buffer.
func FuzzParseFanEvent(f *testing.F) {
	dir := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	f.Add(fanEvent(unix.FAN_CREATE, fanInfo(unix.FAN_EVENT_INFO_TYPE_DFID_NAME, 7, dir, "f")))
	f.Add(fanEvent(unix.FAN_RENAME, fanInfo(unix.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, 7, dir, "a"),
		fanInfo(unix.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME, 7, dir, "b"), fanInfo(unix.FAN_EVENT_INFO_TYPE_FID, 7, dir, "")))
	f.Add(fanEvent(unix.FAN_Q_OVERFLOW))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= 20 {
			// Never a descriptor: the parser closes one it is given.
			binary.NativeEndian.PutUint32(b[16:], uint32(0xffffffff))
		}
		r, n, err := parseFanEvent(b)
		if err != nil {
			return
		}
		if n < fanMetadataLen || n > len(b) {
			t.Fatalf("event of %d bytes in %d", n, len(b))
		}
		for _, k := range [][]byte{r.dir, r.oldDir, r.newDir, r.child} {
			if k != nil && (len(k) < 16 || len(k) > 16+maxHandleSize) {
				t.Fatalf("key of %d bytes", len(k))
			}
		}
		for _, name := range [][]byte{r.name, r.oldName, r.newName} {
			if slices.Contains(name, 0) {
				t.Fatalf("name %q holds a NUL", name)
			}
		}
	})
}

func TestSubmountsIn(t *testing.T) {
	mountinfo := strings.Join([]string{
		`22 1 8:1 / / rw - ext4 /dev/vda rw`,
		`30 22 0:40 / /data rw - ext4 /dev/vdb rw`,
		`31 30 0:41 / /data/a\040b rw - tmpfs tmpfs rw`,
		`32 30 0:42 / /data/x/y rw - tmpfs tmpfs rw`,
		`33 22 0:43 / /database rw - tmpfs tmpfs rw`,
		`34 30 0:41 / /data/a\040b rw - tmpfs tmpfs rw`,
		``,
	}, "\n")
	if got, want := submountsIn([]byte(mountinfo), "/data"), []string{"/data/a b", "/data/x/y"}; !slices.Equal(got, want) {
		t.Errorf("below /data: %q, want %q", got, want)
	}
	if got := submountsIn([]byte(mountinfo), "/"); len(got) != 4 {
		t.Errorf("below /: %q, want every mount point but /, once each", got)
	}
	if got := unescapeMountinfo(`a\134b\011c\0`); got != "a\\b\tc\\0" {
		t.Errorf("unescape: %q", got)
	}
}

// The refusals name the file system and the way out.
func TestFanotifyErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err   error
		magic int64
		want  string
	}{
		{unix.EXDEV, unix.BTRFS_SUPER_MAGIC, "watch /r: fanotify cannot watch a btrfs subvolume as a whole file system: use --monitor=inotify"},
		{unix.ENODEV, unix.FUSE_SUPER_MAGIC, "watch /r: fanotify cannot watch this FUSE file system (it has no fsid): use --monitor=inotify"},
		{unix.EOPNOTSUPP, unix.OVERLAYFS_SUPER_MAGIC, "watch /r: fanotify cannot watch this overlayfs file system (no file handles): use --monitor=inotify"},
		{unix.EPERM, unix.EXT4_SUPER_MAGIC, "watch /r: fanotify needs CAP_SYS_ADMIN to watch a whole file system (run as root): use --monitor=inotify"},
	} {
		err := fanMarkError("/r", tc.magic, tc.err)
		if err.Error() != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%v: %q, want %q", tc.err, err, tc.want)
		}
	}
	if err := fanInitError(unix.EINVAL); !strings.Contains(err.Error(), "Linux 5.17") || !strings.Contains(err.Error(), "--monitor=inotify") {
		t.Errorf("init EINVAL: %q", err)
	}
}

// A file system fanotify cannot mark is refused with a one-line error,
// never watched half: FUSE has no fsid (skipped where bindfs is missing).
func TestFanotifyRefusesUnmarkable(t *testing.T) {
	if _, err := New(t.Context(), Options{Root: "/proc", Backend: Fanotify}); err == nil {
		t.Fatal("fanotify on /proc: no error")
	} else if !strings.Contains(err.Error(), "--monitor=inotify") || strings.Contains(err.Error(), "\n") {
		t.Errorf("fanotify on /proc: %q, want one line suggesting --monitor=inotify", err)
	}
}

// Auto picks fanotify where it can serve the whole tree, inotify where
// something under the root is another file system or privilege separation
// adds the watches.
func TestAutoChooses(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("fanotify needs root (CAP_SYS_ADMIN); run the tests as root")
	}
	root := t.TempDir()
	w, err := New(t.Context(), Options{Root: root, Backend: Auto})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Backend(); got != Fanotify {
		t.Errorf("auto on one file system as root: %s, want fanotify", got)
	}
	w.Close()

	sub := mountTmpfs(t)
	w, err = New(t.Context(), Options{Root: filepath.Dir(filepath.Dir(sub)), Backend: Auto})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Backend(); got != Inotify {
		t.Errorf("auto with a mount below the root: %s, want inotify", got)
	}
	w.Close()
}
