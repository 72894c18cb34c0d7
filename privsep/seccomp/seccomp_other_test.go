//go:build !linux || !cgo

package seccomp

import (
	"runtime"
	"strings"
	"testing"
)

func TestUnavailableSaysWhy(t *testing.T) {
	want := "built without cgo"
	if runtime.GOOS != "linux" {
		want = "not supported on " + runtime.GOOS
	}
	err := Available()
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Available() = %v, want one line containing %q", err, want)
	}
	if lerr := Load(Options{}); lerr == nil || lerr.Error() != err.Error() {
		t.Fatalf("Load() = %v, want %v", lerr, err)
	}
}
