package handlers

// newRsyncShell makes -Mrsyncshell: the user's handler is called where
// rsyncdirect calls rsync, "rsynclist <label> <include list> [<exclude
// list>]" by default, with rsyncdirect's lists, parts (--rsync-inclimit)
// and %RSYNC-ARGS%. The lists are clsync's format, so a removed or
// renamed-away directory is listed as "/old" and "/old/***" and leaves the
// mirror. Unlike rsyncdirect, exit code 24 is the handler's own business
// (clsync ignores it only when it runs rsync itself); -x can ignore it.
func newRsyncShell(cfg Config) (Handler, error) {
	sync, initial := Templates(cfg)
	if err := checkDestination(cfg, sync, initial); err != nil {
		return nil, err
	}
	dir, owned, err := listsDir(cfg)
	if err != nil {
		return nil, err
	}
	cfg = WithListsDir(cfg, dir)
	return &rsyncDirect{cfg: cfg, dir: dir, ownedDir: owned, run: runner(cfg)}, nil
}
