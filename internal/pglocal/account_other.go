//go:build !unix

package pglocal

import (
	"errors"
	"io/fs"
	"runtime"
	"syscall"
)

// platformErr explains why Start cannot work here: the process control it
// relies on (credentials, process groups, signals) is Unix-only.
var platformErr = errors.New("running a local PostgreSQL is not supported on " + runtime.GOOS +
	"; set HERALD_DATABASE_URL to use an external PostgreSQL server")

// procState is what inspectProcess learns about a pid.
type procState int

const (
	procOther procState = iota
	procPostgres
	procZombie
)

// The stubs below keep the package compiling; Start fails with platformErr
// before any of them matters.

func serverAccount(string) (*account, error)       { return nil, platformErr }
func canSearch(fs.FileInfo, *account) bool         { return true }
func ownerUID(fs.FileInfo) (uint32, bool)          { return 0, false }
func chownTo(string, *account) error               { return nil }
func sysProcAttr(*account) *syscall.SysProcAttr    { return nil }
func signalGroup(int, syscall.Signal) error        { return platformErr }
func pidAlive(int) bool                            { return false }
func killOrphans(string) int                       { return 0 }
func inspectProcess(int) (procState, string, bool) { return 0, "", false }
