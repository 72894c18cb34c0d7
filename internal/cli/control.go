package cli

import (
	"io/fs"
	"log/slog"
	"os"

	"github.com/clsync-go/clsync/api"
)

// ControlSocket is where -s listens and who may connect (--socket-mod,
// --socket-own).
func (s *Settings) ControlSocket() api.Socket {
	sock := api.Socket{Path: s.Socket, UID: -1, GID: -1}
	if s.SocketModSet {
		sock.Mode = fs.FileMode(s.SocketMod) & fs.ModePerm
	}
	if s.SocketOwn != "" {
		sock.UID, sock.GID = s.socketUID, s.socketGID
	}
	return sock
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
