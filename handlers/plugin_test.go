package handlers

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clsync-go/clsync/event"
	"github.com/clsync-go/clsync/internal/testlog"
	"github.com/clsync-go/clsync/rules"
)

// buildSettings are this test binary's build settings (-race, CGO_ENABLED,
// GOOS, ...).
func buildSettings(t *testing.T) map[string]string {
	t.Helper()
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Skip("no build info: cannot tell how this test binary was built")
	}
	m := map[string]string{}
	for _, s := range bi.Settings {
		m[s.Key] = s.Value
	}
	return m
}

func canLoadPlugins(settings map[string]string) bool {
	return settings["CGO_ENABLED"] == "1" && (settings["GOOS"] == "linux" || settings["GOOS"] == "freebsd")
}

// pluginBuildFlags are the flags a plugin must be built with to load into
// this test binary: Go refuses a plugin whose shared packages differ.
func pluginBuildFlags(t *testing.T) []string {
	t.Helper()
	settings := buildSettings(t)
	if !canLoadPlugins(settings) {
		t.Skip("Go plugins need cgo on Linux or FreeBSD")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build plugins")
	}
	flags := []string{"-buildmode=plugin"}
	for _, f := range []string{"-race", "-msan", "-asan", "-trimpath"} {
		if settings[f] == "true" {
			flags = append(flags, f)
		}
	}
	if tags := settings["-tags"]; tags != "" {
		flags = append(flags, "-tags="+tags)
	}
	return flags
}

// A build without cgo (make build is static) says it cannot load plugins.
func TestPluginUnsupportedBuild(t *testing.T) {
	if canLoadPlugins(buildSettings(t)) {
		t.Skip("this build loads plugins: see TestPlugin")
	}
	_, err := New(Config{Mode: "plugin", Program: filepath.Join("testdata", "plugins", "recorder", "main.go")})
	if err == nil || !strings.Contains(err.Error(), "cannot load Go plugins") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v", err)
	}
}

// buildPlugin builds the main package in pkg (relative to the module
// root) into out. It builds a copy of the files, marked with out: Go loads
// a plugin path only once per process, and a plugin built from files is
// named after their content, so each build (go test -count=2 makes more)
// gets a path of its own.
func buildPlugin(t *testing.T, flags []string, out, pkg string, extra ...string) string {
	t.Helper()
	srcs, err := filepath.Glob(filepath.Join("..", pkg, "*.go"))
	if err != nil || len(srcs) == 0 {
		t.Fatalf("no Go files in %s: %v", pkg, err)
	}
	dir := out + "-src"
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	srcs = slices.DeleteFunc(srcs, func(f string) bool { return strings.HasSuffix(f, "_test.go") })
	var files []string
	for i, src := range srcs {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			b = append(b, "\n// Built as "+out+".\n"...)
		}
		f := filepath.Join(dir, filepath.Base(src))
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	args := append(append(append(append([]string{"build"}, flags...), extra...), "-o", out), files...)
	cmd := exec.Command("go", args...)
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

func TestPlugin(t *testing.T) {
	flags := pluginBuildFlags(t)
	dir := t.TempDir()
	so := func(name, pkg string, extra ...string) string {
		return buildPlugin(t, flags, filepath.Join(dir, name+".so"), pkg, extra...)
	}
	recorderSO := so("recorder", "./handlers/testdata/plugins/recorder")
	mirrorSO := so("mirror", "./examples/plugin")
	noSymbolSO := so("nosymbol", "./handlers/testdata/plugins/nosymbol")
	wrongTypeSO := so("wrongtype", "./handlers/testdata/plugins/wrongtype")
	otherVersionSO := so("otherversion", "./handlers/testdata/plugins/otherversion", "-overlay="+otherVersionOverlay(t, dir))

	t.Run("records", func(t *testing.T) { testPluginRecords(t, recorderSO) })
	t.Run("one call at a time", func(t *testing.T) { testPluginSerialised(t, recorderSO) })
	t.Run("mirror", func(t *testing.T) { testPluginMirror(t, mirrorSO) })
	t.Run("bad", func(t *testing.T) {
		for _, c := range []struct {
			name, path, want string
			notExist         bool
		}{
			{"missing", filepath.Join(dir, "none.so"), "no such file", true},
			{"not a plugin", filepath.Join("testdata", "plugins", "recorder", "main.go"), "load sync handler plugin", false},
			{"no symbol", noSymbolSO, "does not export NewSyncer", false},
			{"wrong type", wrongTypeSO, "NewSyncer is a *int, want func(clsyncplugin.Config)", false},
			{"other version", otherVersionSO, "different version of package github.com/clsync-go/clsync/handlers/clsyncplugin", false},
			{"refuses", recorderSO, "NewSyncer: refusing as asked", false},
		} {
			_, err := New(Config{Mode: "plugin", Program: c.path, Logger: slog.New(slog.DiscardHandler),
				Option: func(name string) (string, bool) { return "", name == "fail" }})
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") ||
				errors.Is(err, fs.ErrNotExist) != c.notExist || !strings.Contains(err.Error(), c.path) {
				t.Errorf("%s: err = %v, want one line naming %s with %q (not exist: %v)", c.name, err, c.path, c.want, c.notExist)
			}
		}
	})
}

// testPluginSerialised calls Sync from many goroutines at once, as
// --threading does: the plugin sees one call at a time, as its ABI says.
func testPluginSerialised(t *testing.T, so string) {
	record := filepath.Join(t.TempDir(), "record")
	h, err := New(Config{Mode: "plugin", Program: so, Logger: slog.New(slog.DiscardHandler),
		Option: func(name string) (string, bool) { return record, name == "record" }})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() { errs <- h.Sync(ctx, []event.Event{{Path: fmt.Sprintf("f%d", i), Op: event.Modify}}, false) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(readLines(t, record)); n != 65 {
		t.Errorf("%d records, want the creation and 64 syncs", n)
	}
}

// otherVersionOverlay makes package clsyncplugin differ (one more const):
// to Go, a plugin built with it is built against another version of clsync.
func otherVersionOverlay(t *testing.T, dir string) string {
	t.Helper()
	orig, err := filepath.Abs(filepath.Join("clsyncplugin", "clsyncplugin.go"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	changed := filepath.Join(dir, "clsyncplugin.go")
	if err := os.WriteFile(changed, append(src, "\n// Extra is what another version has.\nconst Extra = 1\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {orig: changed}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(path, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func testPluginRecords(t *testing.T, so string) {
	set, err := rules.Parse(strings.NewReader("-f^skip$\n+*\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(t.TempDir(), "record")
	log := &testlog.Buffer{}
	h, err := New(Config{Mode: "plugin", Program: so, WatchDir: "/w", Destination: "/d", Label: "lbl",
		Filter: set, Logger: slog.New(slog.NewTextHandler(log, nil)),
		Option: func(name string) (string, bool) { return record, name == "record" }})
	if err != nil {
		t.Fatal(err)
	}
	items := append(append([]event.Event{}, weirdItems...), event.Event{Path: "skip", Op: event.Create})
	// The recorder checks that the context (with dispatch's -k deadline)
	// reaches it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := h.Sync(ctx, items, false); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	got := readLines(t, record)
	want := []string{
		`{"call":"new","watch_dir":"/w","destination":"/d","label":"lbl"}`,
		`{"call":"sync","items":[` +
			`{"Path":"%TYPE%","Op":1,"IsDir":false,"Mask":256},` +
			`{"Path":"-dash","Op":3,"IsDir":false,"Mask":266},` +
			`{"Path":"a b","Op":4,"IsDir":false,"Mask":4},` +
			`{"Path":"d","Op":17,"IsDir":true,"Mask":1073741952},` +
			`{"Path":"gone","Op":8,"IsDir":true,"Mask":1073742336},` +
			`{"Path":"gone2","Op":16,"IsDir":true,"Mask":1073742080}]}`,
		`{"call":"close"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the plugin got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(log.String(), "recorder loaded") || !strings.Contains(log.String(), "plugin="+so) {
		t.Errorf("the plugin's log line is missing or does not name it:\n%s", log)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var v any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		lines = append(lines, sc.Text())
	}
	return lines
}

// The example plugin keeps a mirror through creates, writes, a renamed
// directory, a type change, symlinks and removals.
func testPluginMirror(t *testing.T, so string) {
	s := newSetup(t, "plugin", nil)
	s.cfg.Program = so
	h := s.handler(t)
	sync := func(initial bool, items ...event.Event) {
		t.Helper()
		if err := h.Sync(context.Background(), items, initial); err != nil {
			t.Fatal(err)
		}
		assertSame(t, s.src, s.dst)
	}
	tree(t, s.src, "old/x/deep", "old/file", "a b", "-dash", "link -> a b")
	sync(true, event.Event{Path: "", Op: event.Rescan, IsDir: true})

	if err := os.Rename(filepath.Join(s.src, "old"), filepath.Join(s.src, "new")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.src, "a b"), []byte("changed"), 0o600); err != nil {
		t.Fatal(err)
	}
	tree(t, s.src, "n\nl")
	sync(false, event.Event{Path: "a b", Op: event.Modify}, event.Event{Path: "n\nl", Op: event.Create},
		event.Event{Path: "new", Op: event.Create | event.Rescan, IsDir: true}, event.Event{Path: "old", Op: event.Remove, IsDir: true})

	if err := os.RemoveAll(filepath.Join(s.src, "new")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(s.src, "-dash")); err != nil {
		t.Fatal(err)
	}
	tree(t, s.src, "-dash/inside")
	sync(false, event.Event{Path: "-dash", Op: event.Remove | event.Create | event.Rescan, IsDir: true},
		event.Event{Path: "new", Op: event.Remove, IsDir: true})
}
