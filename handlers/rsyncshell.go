package handlers

// newRsyncShell makes -Mrsyncshell: the user's handler is called where
// rsyncdirect calls rsync, "rsynclist <label> <include list> [<exclude
// list>]" by default, with rsyncdirect's lists, parts (--rsync-inclimit)
// and %RSYNC-ARGS%. The lists are clsync's format, so a removed or
// renamed-away directory is listed as "/old" and "/old/***" and leaves the
// mirror. Unlike rsyncdirect, exit code 24 is the handler's own business
// (clsync ignores it only when it runs rsync itself); -x can ignore it.
func newRsyncShell(cfg Config) (Handler, error) {
	if cfg.Template == nil {
		cfg.Template = []string{"rsynclist", "%label%", "%INCLUDE-LIST-PATH%"}
		if !cfg.PreferInclude {
			cfg.Template = append(cfg.Template, "%EXCLUDE-LIST-PATH%")
		}
	}
	if err := checkDestination(cfg, cfg.Template, cfg.InitTemplate); err != nil {
		return nil, err
	}
	dir, owned, err := listsDir(cfg)
	if err != nil {
		return nil, err
	}
	// rsyncdirect resolves what it does not know through Option: %TYPE%
	// is clsync's list type, "rsynclist" in the rsync modes.
	option := cfg.Option
	cfg.Option = func(name string) (string, bool) {
		if name == "TYPE" {
			return "rsynclist", true
		}
		if option == nil {
			return "", false
		}
		return option(name)
	}
	return &rsyncDirect{cfg: cfg, dir: dir, ownedDir: owned, run: runner(cfg)}, nil
}
