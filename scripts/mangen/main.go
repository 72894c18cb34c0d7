// Command mangen writes clsync.1 from the option table (make man).
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/clsync-go/clsync/internal/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mangen VERSION > clsync.1")
		os.Exit(22)
	}
	// SOURCE_DATE_EPOCH makes the page reproducible, as Debian builds want.
	date := time.Now().UTC()
	if epoch := os.Getenv("SOURCE_DATE_EPOCH"); epoch != "" {
		var sec int64
		if _, err := fmt.Sscan(epoch, &sec); err == nil {
			date = time.Unix(sec, 0).UTC()
		}
	}
	cli.WriteMan(os.Stdout, os.Args[1], date.Format("2006-01-02"))
}
