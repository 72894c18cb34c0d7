//go:build cgo && (linux || freebsd) && !noplugin

package handlers

import (
	"plugin"
	"strings"

	"github.com/clsync-go/clsync/handlers/clsyncplugin"
)

// openPlugin loads a Go plugin and finds its NewSyncer.
func openPlugin(path string) (clsyncplugin.NewFunc, error) {
	p, err := plugin.Open(path)
	if err != nil {
		hint := ""
		if strings.Contains(err.Error(), "different version of package") {
			// Go's own message does not say what to do about it.
			hint = " (rebuild the plugin with the Go version and clsync source this clsync was built from)"
		}
		return nil, invalidf("load sync handler plugin %s: %v%s", path, err, hint)
	}
	sym, err := p.Lookup(clsyncplugin.Symbol)
	if err != nil {
		return nil, invalidf("sync handler plugin %s does not export %s (func(clsyncplugin.Config) (clsyncplugin.Syncer, error))", path, clsyncplugin.Symbol)
	}
	// A func is looked up as itself, a variable as a pointer to it.
	switch f := sym.(type) {
	case clsyncplugin.NewFunc:
		return f, nil
	case *clsyncplugin.NewFunc:
		if *f != nil {
			return *f, nil
		}
	}
	return nil, invalidf("sync handler plugin %s: %s is a %T, want func(clsyncplugin.Config) (clsyncplugin.Syncer, error)", path, clsyncplugin.Symbol, sym)
}
