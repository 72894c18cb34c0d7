package cli

import (
	"errors"
	"fmt"

	"github.com/clsync-go/clsync/config"
	"github.com/clsync-go/clsync/rules"
)

// ErrInvalid is what every error about bad input (an option, a value, a
// conflict, a config key) matches with errors.Is: clsync exits with EINVAL
// for them.
var ErrInvalid = errors.New("invalid argument")

// invalidError is bad input from the user. err, if set, is the error it
// stands for (a config file syntax error, say).
type invalidError struct {
	msg string
	err error
}

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Unwrap() error        { return e.err }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// asInvalid marks syntax errors of a config or rules file as bad input.
func asInvalid(err error) error {
	if errors.Is(err, config.ErrSyntax) || errors.Is(err, rules.ErrSyntax) {
		return &invalidError{msg: err.Error(), err: err}
	}
	return err
}

func usageErrorf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}
