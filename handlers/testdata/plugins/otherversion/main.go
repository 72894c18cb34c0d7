// Command otherversion is a test plugin. The test builds it against a
// changed package clsyncplugin, so that it looks like a plugin built for
// another version of clsync.
package main

import (
	"errors"

	"github.com/clsync-go/clsync/handlers/clsyncplugin"
)

func NewSyncer(cfg clsyncplugin.Config) (clsyncplugin.Syncer, error) {
	return nil, errors.New("a plugin for another version must not be called")
}

func main() {}
