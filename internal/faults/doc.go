// Package faults holds Herald's process-level fault tests: they build the
// real `herald` binary, run it as a child process against a real
// PostgreSQL, and break it the way production does (SIGTERM with deliveries
// on the wire, kill -9 of Herald, kill -9 of its embedded PostgreSQL, a
// restart of an external PostgreSQL under load), then count what a loopback
// receiver got. Unit tests cannot see a signal context reaching the wrong
// place; these can.
//
// `go test ./...` runs them in a short form (thousands of events, outages of
// seconds). HERALD_FAULTS=full runs the sizes of issue 9: 20,000 events in
// flight when Herald is killed, a minute of database unreachability.
//
// HERALD_FAULTS_BIN=/path/to/herald tests that binary instead of building
// this tree; HERALD_FAULTS_LOGS=1 prints each node's log. docs/operations.md
// reports what these tests measured.
//
// The package has no code of its own, only this documentation and tests.
package faults
