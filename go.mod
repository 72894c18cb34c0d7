module github.com/clsync-go/clsync

go 1.26.0

require (
	github.com/dlclark/regexp2 v1.12.0 // indirect
	github.com/seccomp/libseccomp-golang v0.11.1 // indirect
	github.com/spf13/pflag v1.1.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
