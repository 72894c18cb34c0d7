//go:build !(cgo && (linux || freebsd)) || noplugin

package handlers

import (
	"github.com/clsync-go/clsync/handlers/clsyncplugin"
)

// openPlugin cannot load anything here: Go plugins are loaded with
// dlopen, which needs cgo, and only on Linux and FreeBSD in this project.
func openPlugin(path string) (clsyncplugin.NewFunc, error) {
	return nil, invalidf("sync handler plugin %s: this build of clsync cannot load Go plugins; they need clsync built with CGO_ENABLED=1 for Linux or FreeBSD", path)
}
