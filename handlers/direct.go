package handlers

// newDirect makes -Mdirect: one run per batch with the relative paths as
// arguments, then the destination: "%INCLUDE-LIST% %destination-dir%/"
// (the handler is cp unless -S says otherwise; the caller resolves that).
// It is shell mode's mechanism (see batch) with other defaults.
func newDirect(cfg Config) (Handler, error) {
	b, err := newExecBase(cfg, true)
	if err != nil {
		return nil, err
	}
	return &batch{execBase: b, rootName: ".", simplify: cfg.SynclistSimplify, argv: usesVar("INCLUDE-LIST", b.template)}, nil
}
