package cli

// defaultMonitor is the file-system monitor this build uses.
const defaultMonitor = "kqueue"
