package cli

import (
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/clsync-go/clsync/api"
)

// ControlSocket is where -s listens and who may connect (--socket-mod,
// --socket-own; a user alone means the user's primary group, as in
// clsync).
func (s *Settings) ControlSocket() (api.Socket, error) {
	sock := api.Socket{Path: s.Socket, UID: -1, GID: -1}
	if s.SocketModSet {
		sock.Mode = fs.FileMode(s.SocketMod) & fs.ModePerm
	}
	if s.SocketOwn == "" {
		return sock, nil
	}
	name, group, hasGroup := strings.Cut(s.SocketOwn, ":")
	u, err := user.Lookup(name)
	if err != nil {
		return sock, usageErrorf("--socket-own: no such user %q", name)
	}
	gid := u.Gid
	if hasGroup {
		g, err := user.LookupGroup(group)
		if err != nil {
			return sock, usageErrorf("--socket-own: no such group %q", group)
		}
		gid = g.Gid
	}
	if sock.UID, err = strconv.Atoi(u.Uid); err != nil {
		return sock, usageErrorf("--socket-own: user %q has uid %q", name, u.Uid)
	}
	if sock.GID, err = strconv.Atoi(gid); err != nil {
		return sock, usageErrorf("--socket-own: group id %q", gid)
	}
	return sock, nil
}

// Control is the control socket's configuration for agent a.
func (s *Settings) Control(a api.Agent, version string, log *slog.Logger) api.ServerConfig {
	return api.ServerConfig{
		Agent: a, Version: version, Logger: log,
		Identity: api.Identity{PID: os.Getpid(), Label: s.Label, ConfigBlock: s.ConfigBlock,
			WatchDir: s.WatchDir, Destination: s.Destination, Mode: s.Mode},
		KnownOption: isOption,
	}
}

// isOption tells whether name is a long option.
func isOption(name string) bool {
	for _, o := range optionTable {
		if o.name == name {
			return true
		}
	}
	return false
}
